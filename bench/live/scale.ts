/**
 * Section 5, scale: the most bots this machine carries with a p99 action delay under 2 T_timeslot,
 * client-server and P2P, read off the offload runs (the same bots, both modes, growing sizes); and
 * in a full run, the section's own P2P runs at 200 bots (`--sizes`), packed and split layouts
 * alternated (scaleRuns.ts), with what their p99 is made of.
 */
import type { OffloadRow } from './offload.js';
import { LAYOUTS, scaleRun, scaleScenario, type ScaleRun } from './scaleRuns.js';
import { check, finite, type SectionContext, type SectionOutput } from './section.js';
import { fmt, table } from './stats.js';

export interface ScaleFigures {
  T_timeslot: number;
  bound: number;
  /** Largest size tried whose p99 stayed under the bound (null: none did). */
  cs: number | null;
  p2p: number | null;
  tried: Array<{ bots: number; csP99: number; p2pP99: number }>;
}

export function scaleFigures(rows: readonly OffloadRow[]): ScaleFigures {
  const T = rows[0]?.T_timeslot ?? 100;
  const bound = 2 * T;
  const largest = (p99: (r: OffloadRow) => number): number | null => {
    const ok = rows.filter((r) => finite(p99(r)) && p99(r) < bound).map((r) => r.bots);
    return ok.length > 0 ? Math.max(...ok) : null;
  };
  return {
    T_timeslot: T,
    bound,
    cs: largest((r) => r.cs.delay.p99),
    p2p: largest((r) => r.p2p.delay.p99),
    tried: rows.map((r) => ({ bots: r.bots, csP99: r.cs.delay.p99, p2pP99: r.p2p.delay.p99 })),
  };
}

export function scale(rows: readonly OffloadRow[]): SectionOutput {
  const s = scaleFigures(rows);
  const text = [
    `p99 action delay (ms) by bots on this machine; bound 2 T_timeslot = ${s.bound} ms:`,
    table(
      ['bots', 'CS p99', 'P2P p99'],
      s.tried.map((t) => [String(t.bots), fmt(t.csP99), fmt(t.p2pP99)]),
    ),
    `Most bots under the bound: client-server ${s.cs ?? 'none of these'}, P2P ${s.p2p ?? 'none of these'} (sizes tried: ${s.tried.map((t) => t.bots).join(', ')}).`,
  ].join('\n');
  const checks = [
    check('scale: p99 measured at every size', s.tried.every((t) => finite(t.csP99) && finite(t.p2pP99)), s.tried.map((t) => `${t.bots}: ${fmt(t.csP99)}/${fmt(t.p2pP99)}`).join(', ')),
  ];
  return { name: 'scale', title: '5. Scale', text, figures: s, svgs: {}, checks };
}

/** The layouts' tables: delays, the machine, the processes' loops, late actions by site and phase. */
export function scaleRunsText(runs: readonly ScaleRun[]): string {
  const f2 = (x: number): string => fmt(x, 2);
  return [
    `P2P action delay (ms) over each run's window, all six sites P2P; bound 2 T_timeslot = ${runs[0]?.bound ?? 200} ms; the machine's cores busy over the window (all work on it) and the bench's part (bots and admin):`,
    table(
      ['layout', 'bots', 'online', 'P2P sites', 'ready s', 'actions', 'mean', 'p50', 'p99', 'max', 'late share', 'cores busy', 'bench cores', 'load'],
      runs.map((r) => [r.layout, String(r.bots), String(r.online), String(r.p2pSites), fmt(r.readyAfterS, 0), String(r.p2p.count), fmt(r.p2p.mean), fmt(r.p2p.p50), fmt(r.p2p.p99), fmt(r.p2p.max), f2(r.lateShare), `${f2(r.machine.busyCores)} of ${r.machine.cores}`, f2(r.machine.benchCores), fmt(r.machine.loadAverage, 1)]),
    ),
    '',
    "Bot processes' event loops over the window (utilisation: share of wall time not idle; probe: how late a 50 ms timer ran; the main thread's ms a second on a core and waiting in the run queue for one). A loop saturated by its own work shows ~1000 ms on a core a second; one starved of a core shows the wait:",
    table(
      ['layout', 'processes', 'ELU median', 'ELU max', 'serving processes', 'their ELU max', 'probe p99 max ms', 'main CPU max ms/s', 'wait median ms/s', 'wait max ms/s'],
      runs.map((r) => [r.layout, String(r.processes.count), f2(r.processes.eluMeanMedian), f2(r.processes.eluMeanMax), String(r.processes.servingProcesses), f2(r.processes.servingEluMax), fmt(r.processes.lateP99MaxMs), fmt(r.processes.mainCpuMax), fmt(r.processes.waitMedian), fmt(r.processes.waitMax)]),
    ),
    '',
    'Late actions (over the bound) by site in the window, with the worst loop of the processes serving that site:',
    table(
      ['layout', 'site', 'actions', 'late', "servers' ELU max", "servers' probe p99 ms"],
      runs.flatMap((r) => r.bySite.map((s) => [r.layout, s.site, String(s.count), String(s.late), f2(s.serversEluMax), fmt(s.serversLateP99Ms)])),
    ),
    '',
    'What ran out, by run (scaleRuns.ts `verdict`):',
    ...runs.map((r) => `- ${r.layout} ${r.bots}: ${r.verdict}.`),
    '',
    'Late P2P actions by phase: before the window (entry, hand-overs, warm-up), in it, and per 10 s of it:',
    table(
      ['layout', 'before window', 'in window', 'per 10 s'],
      runs.map((r) => [r.layout, String(r.phase.beforeWindow), String(r.phase.inWindow), r.phase.per10s.join(' ')]),
    ),
  ].join('\n');
}

/**
 * The section: the offload rows' table when offload ran; in a full run, the layouts alternated at
 * each size (`--sizes`, default 200), the p99 with what it is made of.
 */
export async function scaleSection(ctx: SectionContext, rows: readonly OffloadRow[]): Promise<SectionOutput> {
  const fromOffload = rows.length > 0 ? scale(rows) : null;
  const runs: ScaleRun[] = [];
  if (!ctx.quick)
    for (const bots of ctx.sizes ?? [200])
      for (const layout of LAYOUTS) runs.push(scaleRun(layout, bots, await ctx.run(scaleScenario({ layout, bots, quick: ctx.quick }))));
  const text = [fromOffload?.text ?? '', runs.length > 0 ? scaleRunsText(runs) : ''].filter((t) => t !== '').join('\n\n');
  const checks = [
    ...(fromOffload?.checks ?? []),
    ...runs.flatMap((r) => [
      check(`scale ${r.layout} ${r.bots}: all six sites P2P`, r.p2pSites === 6, `${r.p2pSites} P2P sites`),
      check(`scale ${r.layout} ${r.bots}: P2P p99 measured`, finite(r.p2p.p99) && r.p2p.count > 0, `${r.p2p.count} actions, p99 ${fmt(r.p2p.p99)}`),
      check(`scale ${r.layout} ${r.bots}: every process's loop measured`, r.processes.count > 0 && finite(r.processes.eluMeanMax), `${r.processes.count} processes`),
    ]),
  ];
  return { name: 'scale', title: '5. Scale', text, figures: { ...(fromOffload ? { fromOffload: fromOffload.figures } : {}), runs }, svgs: {}, checks };
}
