/** The two SVG figures of `npm run analysis -- --svg DIR`, built from a report. */
import type { AnalysisReport } from './report.js';
import { logPlotSvg } from './svg.js';

export const COLLUSION_SVG = 'analysis-collusion.svg';
export const FAILURE_SVG = 'analysis-failure.svg';

/** Figure 3 of the paper: one curve per c over N_server. */
export function collusionSvg(r: AnalysisReport): string {
  const { users, sites } = r.collusionParameters;
  const cs = [...new Set(r.collusion.map((p) => p.c))];
  const ns = [...new Set(r.collusion.map((p) => p.N_server))].sort((a, b) => a - b);
  return logPlotSvg({
    title: `C_${sites}(${users}, c): colluders hold a majority of some site, eq. (20)`,
    xLabel: 'N_server (Site Servers per site)',
    yLabel: 'probability (log scale)',
    xTicks: ns,
    series: cs.map((c) => ({
      name: `c = ${c}`,
      points: r.collusion.filter((p) => p.c === c).map((p) => [p.N_server, p.probability] as const),
    })),
    note: 'Exact (BigInt rationals). A curve ends where c < N_majority: the probability is exactly 0 there.',
  });
}

/** Eqs. (16)-(18) over p. */
export function failureSvg(r: AnalysisReport): string {
  const pts = r.failure.points;
  const ps = pts.map((p) => p.p);
  const lo = Math.min(...ps);
  const hi = Math.max(...ps);
  // Ticks every 0.05 inside the grid, plus its two ends.
  const ticks = [lo];
  for (let t = Math.ceil(lo / 0.05 + 1e-9) * 0.05; t < hi - 1e-9; t += 0.05)
    ticks.push(Number(t.toFixed(10)));
  if (hi > lo) ticks.push(hi);
  return logPlotSvg({
    title: `Action lost when each link is down with probability p, eqs. (16)-(18)`,
    xLabel: 'p (probability a link is down)',
    yLabel: 'probability the action is lost (log scale)',
    xTicks: ticks,
    formatX: (x) => String(Number(x.toFixed(3))),
    series: [
      { name: 'client-server (16)', points: pts.map((p) => [p.p, p.clientServer] as const) },
      { name: `NEO, n = ${r.failure.n} (17)`, points: pts.map((p) => [p.p, p.neo] as const) },
      {
        name: `proposed, N_server = ${r.failure.N_server} (18)`,
        points: pts.map((p) => [p.p, p.proposed] as const),
      },
    ],
    legend: 'bottom-right',
  });
}
