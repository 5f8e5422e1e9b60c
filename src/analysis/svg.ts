/**
 * Hand-written SVG line plots: the parts every plot shares (head, frame and axis labels, a series
 * with its dots and legend entry) and `logPlotSvg`, a linear x axis and a log10 y axis like the
 * paper's Figure 3 (bench/live/plot.ts draws linear ones with the same parts).
 * One <path class="curve" data-series="..."> per series; points with y <= 0 cannot sit on a log
 * axis, so they are left out and break the line.
 */

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Tick positions on x; the first and last also bound the axis. */
  xTicks: readonly number[];
  formatX?: (x: number) => string;
  /** A line under the plot, e.g. what was left out. */
  note?: string;
  /** Corner of the legend, where the curves leave room; top right unless told. */
  legend?: 'top-right' | 'bottom-right';
}

/** A plot's size and margins around the plotting area (px). */
export interface PlotBox {
  W: number;
  H: number;
  M: { left: number; right: number; top: number; bottom: number };
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '4 4', '1 2', '10 4', '3 6'];

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
export const f = (v: number): string => v.toFixed(1);

/** The <svg> element, a white background and the title. */
export function plotHead(b: PlotBox, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${b.W}" height="${b.H}" viewBox="0 0 ${b.W} ${b.H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${b.W}" height="${b.H}" fill="white"/>`,
    `<text x="${b.W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
}

/** The frame around the plotting area and the two axis labels. */
export function plotFrame(b: PlotBox, xLabel: string, yLabel: string): string[] {
  const pw = b.W - b.M.left - b.M.right;
  const ph = b.H - b.M.top - b.M.bottom;
  return [
    `<rect x="${b.M.left}" y="${b.M.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`,
    `<text x="${b.M.left + pw / 2}" y="${b.H - b.M.bottom + 36}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(18 ${b.M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
}

/** Left end of the legend entries, so that the longest name ends inside the frame (about 6.6 px a character). */
export function legendX(b: PlotBox, series: ReadonlyArray<{ name: string }>): number {
  return b.W - b.M.right - 10 - 34 - Math.max(0, ...series.map((s) => s.name.length)) * 6.6;
}

/**
 * Series `i` (its colour and dash by position): the curve (path commands `d`), a dot at each of
 * `dots` (plot coordinates), and its legend entry with its baseline at (lx, ly).
 */
export function plotSeries(i: number, name: string, d: readonly string[], dots: ReadonlyArray<readonly [number, number]>, lx: number, ly: number): string[] {
  const color = COLORS[i % COLORS.length] ?? 'black';
  const dash = DASHES[i % DASHES.length] ?? '';
  const dashAttr = dash ? ` stroke-dasharray="${dash}"` : '';
  return [
    `<g data-series="${esc(name)}">`,
    `<path class="curve" data-series="${esc(name)}" d="${d.join(' ')}" fill="none" stroke="${color}" stroke-width="1.8"${dashAttr}/>`,
    ...dots.map(([x, y]) => `<circle cx="${f(x)}" cy="${f(y)}" r="2.5" fill="${color}"/>`),
    `</g>`,
    `<line x1="${lx}" x2="${lx + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="1.8"${dashAttr}/>`,
    `<text x="${lx + 34}" y="${ly}">${esc(name)}</text>`,
  ];
}

const BOX: PlotBox = { W: 640, H: 440, M: { left: 72, right: 24, top: 40, bottom: 78 } };

/** Whole decades covering every positive y (at least one decade). */
function decadeRange(series: readonly Series[]): [number, number] {
  const ys = series.flatMap((s) => s.points.map(([, y]) => y)).filter((y) => y > 0 && Number.isFinite(y));
  if (ys.length === 0) return [-1, 0];
  const lo = Math.floor(Math.log10(Math.min(...ys)));
  const hi = Math.ceil(Math.log10(Math.max(...ys)));
  return [lo, Math.max(hi, lo + 1)];
}

export function logPlotSvg(spec: PlotSpec): string {
  const { W, H, M } = BOX;
  const x0 = spec.xTicks[0] ?? 0;
  const x1 = spec.xTicks[spec.xTicks.length - 1] ?? 1;
  const [d0, d1] = decadeRange(spec.series);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number): number => M.top + ((d1 - Math.log10(y)) / (d1 - d0)) * ph;
  const fx = spec.formatX ?? ((x: number) => String(x));
  const out: string[] = plotHead(BOX, spec.title);
  // Decade grid and labels; label every k-th decade so at most about 12 labels fit.
  const step = Math.ceil((d1 - d0) / 12);
  for (let d = d0; d <= d1; d++) {
    const y = f(sy(10 ** d));
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    if ((d - d0) % step === 0)
      out.push(`<text x="${M.left - 6}" y="${y}" dy="4" text-anchor="end">1e${d}</text>`);
  }
  for (const t of spec.xTicks) {
    const x = f(sx(t));
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(fx(t))}</text>`);
  }
  out.push(...plotFrame(BOX, spec.xLabel, spec.yLabel));
  const lx = legendX(BOX, spec.series);
  spec.series.forEach((s, i) => {
    const d: string[] = [];
    let pen = false;
    const dots: Array<[number, number]> = [];
    for (const [x, y] of s.points) {
      if (!(y > 0 && Number.isFinite(y))) {
        pen = false;
        continue;
      }
      d.push(`${pen ? 'L' : 'M'}${f(sx(x))} ${f(sy(y))}`);
      dots.push([sx(x), sy(y)]);
      pen = true;
    }
    // Legend inside the plot.
    const ly =
      spec.legend === 'bottom-right'
        ? H - M.bottom - 10 - (spec.series.length - 1 - i) * 18
        : M.top + 16 + i * 18;
    out.push(...plotSeries(i, s.name, d, dots, lx, ly));
  });
  if (spec.note)
    out.push(`<text x="${W / 2}" y="${H - 14}" text-anchor="middle" font-size="11">${esc(spec.note)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
