/**
 * Hand-written SVG line plots with linear axes for `npm run bench:live`, from the plot parts of
 * src/analysis/svg.ts (which draws the log-y ones of `npm run analysis`). One
 * <path class="curve" data-series> per series.
 */
import { esc, f, legendX, plotFrame, plotHead, plotSeries, type PlotBox } from '../../src/analysis/svg.js';

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

const BOX: PlotBox = { W: 680, H: 440, M: { left: 72, right: 24, top: 40, bottom: 84 } };

/** 1, 2 or 5 times a power of ten: a tick step giving about `count` ticks over `span`. */
export function niceStep(span: number, count = 6): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

export function linePlotSvg(spec: LinePlot): string {
  const { W, H, M } = BOX;
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
  const out: string[] = plotHead(BOX, spec.title);
  for (let x = xMin; x <= xMax + xStep / 1e6; x += xStep) {
    out.push(`<line x1="${f(sx(x))}" x2="${f(sx(x))}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${f(sx(x))}" y="${H - M.bottom + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  for (let y = 0; y <= yMax + yStep / 1e6; y += yStep) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${f(sy(y))}" y2="${f(sy(y))}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${f(sy(y))}" dy="4" text-anchor="end">${label(y)}</text>`);
  }
  out.push(...plotFrame(BOX, spec.xLabel, spec.yLabel));
  const lx = legendX(BOX, spec.series);
  spec.series.forEach((s, i) => {
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
    const dots = s.steps
      ? []
      : s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => [sx(x), sy(y)] as const);
    out.push(...plotSeries(i, s.name, d, dots, lx, H - M.bottom - 10 - (spec.series.length - 1 - i) * 18));
  });
  if (spec.note) out.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="10">${esc(spec.note)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
