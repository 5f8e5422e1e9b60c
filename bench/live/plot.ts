/**
 * Hand-written SVG line plots with linear axes for `npm run bench:live` (src/analysis/svg.ts draws
 * the log-y ones of `npm run analysis`). One <path class="curve" data-series> per series.
 */

export interface LineSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** Draw as a step function (a CDF) instead of straight segments. */
  steps?: boolean;
}

export interface LinePlot {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  /** A line under the plot: command, commit, machine. */
  note?: string;
  /** Fixed y range; else 0 .. a round number above the largest y. */
  yMax?: number;
}

const W = 680;
const H = 440;
const M = { left: 72, right: 24, top: 40, bottom: 84 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '4 4', '1 2', '10 4', '3 6'];

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (v: number): string => v.toFixed(1);

/** 1, 2 or 5 times a power of ten: a tick step giving about `count` ticks over `span`. */
export function niceStep(span: number, count = 6): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

export function linePlotSvg(spec: LinePlot): string {
  const pts = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xMin = Math.min(0, ...pts.map(([x]) => x));
  const xMaxRaw = Math.max(1, ...pts.map(([x]) => x));
  const xStep = niceStep(xMaxRaw - xMin);
  const xMax = Math.ceil(xMaxRaw / xStep) * xStep;
  const yMaxRaw = spec.yMax ?? Math.max(1e-9, ...pts.map(([, y]) => y));
  const yStep = niceStep(yMaxRaw, 5);
  const yMax = spec.yMax ?? Math.ceil(yMaxRaw / yStep) * yStep;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const sy = (y: number): number => M.top + (1 - y / (yMax || 1)) * ph;
  const label = (v: number): string => String(Number(v.toPrecision(6)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(spec.title)}</text>`,
  ];
  for (let x = xMin; x <= xMax + xStep / 1e6; x += xStep) {
    out.push(`<line x1="${f(sx(x))}" x2="${f(sx(x))}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${f(sx(x))}" y="${H - M.bottom + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  for (let y = 0; y <= yMax + yStep / 1e6; y += yStep) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${f(sy(y))}" y2="${f(sy(y))}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${f(sy(y))}" dy="4" text-anchor="end">${label(y)}</text>`);
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`,
    `<text x="${M.left + pw / 2}" y="${H - M.bottom + 36}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  );
  const legendWidth = Math.max(0, ...spec.series.map((s) => s.name.length)) * 6.6;
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? 'black';
    const dash = DASHES[i % DASHES.length] ?? '';
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : '';
    const d: string[] = [];
    let prev: readonly [number, number] | null = null;
    for (const p of s.points) {
      if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
        prev = null;
        continue;
      }
      if (prev && s.steps) d.push(`L${f(sx(p[0]))} ${f(sy(prev[1]))}`);
      d.push(`${prev ? 'L' : 'M'}${f(sx(p[0]))} ${f(sy(p[1]))}`);
      prev = p;
    }
    const dots = s.steps ? [] : s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(
      ([x, y]) => `<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="2.5" fill="${color}"/>`,
    );
    out.push(
      `<g data-series="${esc(s.name)}">`,
      `<path class="curve" data-series="${esc(s.name)}" d="${d.join(' ')}" fill="none" stroke="${color}" stroke-width="1.8"${dashAttr}/>`,
      ...dots,
      `</g>`,
    );
    const ly = H - M.bottom - 10 - (spec.series.length - 1 - i) * 18;
    const lx = W - M.right - 10 - 34 - legendWidth;
    out.push(
      `<line x1="${lx}" x2="${lx + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="1.8"${dashAttr}/>`,
      `<text x="${lx + 34}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  if (spec.note) out.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="10">${esc(spec.note)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
