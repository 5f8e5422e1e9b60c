/**
 * Section 2, action delay (paper 5.2): p50, p99 and mean of client-server and P2P in the same run
 * (the busy meadow is P2P, the town client-server), for N_server 3 and 5 and T_timeslot 50 and
 * 100 ms, on loopback and with real-world latencies injected; beside eqs. (12) and (14) evaluated
 * with the latency each link class really got.
 */
import { delayFormulas } from './formulas.js';
import { mergeFigures, type BotFigures } from './figures.js';
import { linePlotSvg } from './plot.js';
import type { ScenarioResult } from './scenario.js';
import { busyMeadow, check, QUICK, REAL_WORLD, type SectionContext, type SectionOutput } from './section.js';
import { cdfPoints, fmt, table } from './stats.js';

export const DELAY_SVG = 'live-delay.svg';

export interface DelayRow {
  name: string;
  nServer: number;
  T_timeslot: number;
  links: 'loopback' | 'real-world';
  /** Mean latency each class got (ms); 0 on loopback, where nothing is injected. */
  latency: { cu: number; su: number; ss: number; cuP99: number; suP99: number; ssP99: number };
  cs: { count: number; mean: number; p50: number; p99: number };
  p2p: { count: number; mean: number; p50: number; p99: number };
  eq12: number;
  eq14: number;
  /** Eq. (14) + l_ss: with the echo hop our servers add (formulas.ts). */
  eq14echo: number;
  p2pSites: number;
}

const brief = (d: BotFigures['delay']['cs']): DelayRow['cs'] => ({ count: d.count, mean: d.mean, p50: d.p50, p99: d.p99 });

export function delayRow(r: ScenarioResult, links: DelayRow['links']): { row: DelayRow; f: BotFigures } {
  const f = mergeFigures(r.groups.map((g) => g.figures));
  const l = (k: 'cu' | 'su' | 'ss'): { mean: number; p99: number } => {
    const x = f.latency[k];
    return x ? { mean: x.mean, p99: x.p99 } : { mean: 0, p99: 0 };
  };
  const latency = {
    cu: l('cu').mean,
    su: l('su').mean,
    ss: l('ss').mean,
    cuP99: l('cu').p99,
    suP99: l('su').p99,
    ssP99: l('ss').p99,
  };
  const eq = delayFormulas(latency, r.settings.T_timeslot);
  return {
    row: {
      name: r.name,
      nServer: r.settings.nServer,
      T_timeslot: r.settings.T_timeslot,
      links,
      latency,
      cs: brief(f.delay.cs),
      p2p: brief(f.delay.p2p),
      eq12: eq.eq12,
      eq14: eq.eq14,
      eq14echo: eq.eq14echo,
      p2pSites: r.p2pSitesAtEnd.length,
    },
    f,
  };
}

export async function delay(ctx: SectionContext): Promise<{ out: SectionOutput; results: ScenarioResult[] }> {
  const configs: Array<{ nServer: number; T: number; links: DelayRow['links'] }> = ctx.quick
    ? [{ nServer: 3, T: 100, links: 'real-world' }]
    : [3, 5].flatMap((nServer) =>
        [50, 100].flatMap((T) => (['loopback', 'real-world'] as const).map((links) => ({ nServer, T, links }))),
      );
  const rows: DelayRow[] = [];
  const results: ScenarioResult[] = [];
  const samples: Array<{ name: string; cs: number[]; p2p: number[] }> = [];
  for (const c of configs) {
    const name = `delay-n${c.nServer}-t${c.T}-${c.links}`;
    const r = await ctx.run(
      busyMeadow({
        name,
        admin: { nServer: c.nServer, T_timeslot: c.T },
        players: 8,
        ...(c.links === 'real-world' ? { injection: REAL_WORLD } : {}),
        ...(ctx.quick ? QUICK : { warmupS: 6, measureS: 15 }),
      }),
    );
    results.push(r);
    const { row, f } = delayRow(r, c.links);
    rows.push(row);
    samples.push({ name, cs: f.delay.cs.samples, p2p: f.delay.p2p.samples });
  }
  const text = [
    'Action delay (ms), client-server (town) and P2P (meadow, 8 players) in the same run; eq. (12) = 2 l_cu, eq. (14) = 2 l_su + l_ss + T/2 with the mean latency each link class got:',
    table(
      ['N_server', 'T', 'links', 'l_cu/su/ss got', 'CS p50', 'CS p99', 'CS mean', 'eq.12', 'P2P p50', 'P2P p99', 'P2P mean', 'eq.14', '+l_ss', 'n CS/P2P'],
      rows.map((r) => [
        String(r.nServer),
        String(r.T_timeslot),
        r.links,
        `${fmt(r.latency.cu)}/${fmt(r.latency.su)}/${fmt(r.latency.ss)}`,
        fmt(r.cs.p50),
        fmt(r.cs.p99),
        fmt(r.cs.mean),
        fmt(r.eq12),
        fmt(r.p2p.p50),
        fmt(r.p2p.p99),
        fmt(r.p2p.mean),
        fmt(r.eq14),
        fmt(r.eq14echo),
        `${r.cs.count}/${r.p2p.count}`,
      ]),
    ),
    'Loopback rows use 0 ms in the formulas (nothing injected; the real loopback latency is well under 1 ms).',
    "+l_ss: eq. (14) plus the hop of the servers' echoes (a Timeslot counts once the others echoed it): our protocol's own mean.",
  ].join('\n');
  const checks = rows.flatMap((r) => [
    check(`${r.name}: meadow went P2P`, r.p2pSites >= 1, `${r.p2pSites} P2P sites at the end`),
    check(`${r.name}: delays > 0 both modes`, r.cs.count > 0 && r.p2p.count > 0 && r.cs.p50 > 0 && r.p2p.p50 > 0, `CS ${r.cs.count} samples p50 ${fmt(r.cs.p50)}, P2P ${r.p2p.count} p50 ${fmt(r.p2p.p50)}`),
    ...(r.links === 'real-world'
      ? [check(`${r.name}: latency measured on every class`, r.latency.cu > 0 && r.latency.su > 0 && r.latency.ss > 0, `${fmt(r.latency.cu)}/${fmt(r.latency.su)}/${fmt(r.latency.ss)} ms`)]
      : []),
  ]);
  // The CDF plot: the real-world run at N_server 3, T 100 (the quick run has only that one).
  const pick = samples.find((s) => s.name === 'delay-n3-t100-real-world');
  const loop = samples.find((s) => s.name === 'delay-n3-t100-loopback');
  const series = [
    ...(pick
      ? [
          { name: 'CS, real-world latencies', points: cdfPoints(pick.cs), steps: true },
          { name: 'P2P, real-world latencies', points: cdfPoints(pick.p2p), steps: true },
        ]
      : []),
    ...(loop
      ? [
          { name: 'CS, loopback', points: cdfPoints(loop.cs), steps: true },
          { name: 'P2P, loopback', points: cdfPoints(loop.p2p), steps: true },
        ]
      : []),
  ];
  const svgs: Record<string, string> =
    series.length > 0
      ? {
          [DELAY_SVG]: linePlotSvg({
            title: 'Action delay distribution, N_server 3, T_timeslot 100 ms',
            xLabel: 'action delay (ms)',
            yLabel: 'share of actions at or below',
            yMax: 1,
            series,
            note: ctx.stamp,
          }),
        }
      : {};
  return { out: { name: 'delay', title: '2. Action delay (paper 5.2)', text, figures: { rows }, svgs, checks }, results };
}
