/**
 * A hand-written SVG line plot with a linear x axis and a log10 y axis, like the paper's Figure 3.
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

const W = 640;
const H = 440;
const M = { left: 72, right: 24, top: 40, bottom: 78 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '4 4', '1 2'];

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (v: number): string => v.toFixed(1);

/** Whole decades covering every positive y (at least one decade). */
function decadeRange(series: readonly Series[]): [number, number] {
  const ys = series.flatMap((s) => s.points.map(([, y]) => y)).filter((y) => y > 0 && Number.isFinite(y));
  if (ys.length === 0) return [-1, 0];
  const lo = Math.floor(Math.log10(Math.min(...ys)));
  const hi = Math.ceil(Math.log10(Math.max(...ys)));
  return [lo, Math.max(hi, lo + 1)];
}

export function logPlotSvg(spec: PlotSpec): string {
  const x0 = spec.xTicks[0] ?? 0;
  const x1 = spec.xTicks[spec.xTicks.length - 1] ?? 1;
  const [d0, d1] = decadeRange(spec.series);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number): number => M.top + ((d1 - Math.log10(y)) / (d1 - d0)) * ph;
  const fx = spec.formatX ?? ((x: number) => String(x));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(spec.title)}</text>`,
  );
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
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`,
    `<text x="${M.left + pw / 2}" y="${H - M.bottom + 36}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  );
  // About 6.6 px per character at font-size 12, so the longest name ends inside the frame.
  const legendWidth = Math.max(0, ...spec.series.map((s) => s.name.length)) * 6.6;
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? 'black';
    const dash = DASHES[i % DASHES.length] ?? '';
    const d: string[] = [];
    let pen = false;
    const dots: string[] = [];
    for (const [x, y] of s.points) {
      if (!(y > 0 && Number.isFinite(y))) {
        pen = false;
        continue;
      }
      d.push(`${pen ? 'L' : 'M'}${f(sx(x))} ${f(sy(y))}`);
      dots.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="2.5" fill="${color}"/>`);
      pen = true;
    }
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : '';
    out.push(
      `<g data-series="${esc(s.name)}">`,
      `<path class="curve" data-series="${esc(s.name)}" d="${d.join(' ')}" fill="none" stroke="${color}" stroke-width="1.8"${dashAttr}/>`,
      ...dots,
      `</g>`,
    );
    // Legend inside the plot.
    const ly =
      spec.legend === 'bottom-right'
        ? H - M.bottom - 10 - (spec.series.length - 1 - i) * 18
        : M.top + 16 + i * 18;
    const lx = W - M.right - 10 - 34 - legendWidth;
    out.push(
      `<line x1="${lx}" x2="${lx + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="1.8"${dashAttr}/>`,
      `<text x="${lx + 34}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  if (spec.note)
    out.push(`<text x="${W / 2}" y="${H - 14}" text-anchor="middle" font-size="11">${esc(spec.note)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
