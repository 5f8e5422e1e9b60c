/**
 * The scale section's own runs (issue 16: 200 bots, all six sites P2P, p99 under 2 T_timeslot for
 * two minutes) and what they are made of. The same bots in two layouts, alternated:
 * - `packed`: one group, 40 bots a process (the bots' default), every bot willing to serve, so
 *   the admin's 18 Site Servers share event loops with up to 39 players each;
 * - `split`: 4 volunteers a site in processes of their own (one bot each, as a player's machine
 *   has one tab) and the players, who do not serve, 20 a process.
 * Per run: the P2P delays, the machine's CPU (busy cores, the bench's share), each process's event
 * loop, and the late actions by site, by phase (entry, window) and by 10 s of the window.
 */
import { mergeFigures } from './figures.js';
import type { BotGroup, Scenario, ScenarioResult } from './scenario.js';
import type { ProcessLoad } from './scaleLoad.js';

export const LAYOUTS = ['packed', 'split'] as const;
export type Layout = (typeof LAYOUTS)[number];

/** Volunteers per site in the split layout: N_server and one spare. */
const spareOf = (nServer: number): number => nServer + 1;
const SITES = 6;

export function scaleGroups(layout: Layout, bots: number, nServer: number): BotGroup[] {
  if (layout === 'packed') return [{ label: 'all', count: bots, site: 'all', rate: 2, serve: true }];
  const volunteers = SITES * spareOf(nServer);
  if (bots <= volunteers) throw new Error(`split: ${bots} bots must outnumber ${volunteers} volunteers`);
  return [
    { label: 'volunteers', count: volunteers, site: 'all', rate: 2, serve: true, perProcess: 1 },
    { label: 'players', count: bots - volunteers, site: 'all', rate: 2, serve: false, perProcess: 20 },
  ];
}

export function scaleScenario(o: { layout: Layout; bots: number; quick: boolean; nServer?: number; T_timeslot?: number }): Scenario {
  const nServer = o.nServer ?? 3;
  return {
    name: `scale-${o.bots}-${o.layout}`,
    // Threshold 3: every site with 4 players or more goes P2P.
    admin: { nServer, T_timeslot: o.T_timeslot ?? 100, threshold: 3 },
    groups: scaleGroups(o.layout, o.bots, nServer),
    // The two minutes; a quick run checks the harness only.
    warmupS: o.quick ? 2 : 8,
    measureS: o.quick ? 6 : 120,
    expectP2P: SITES,
    readyTimeoutS: 90,
    readyGuessS: 10 + Math.ceil(o.bots / 8),
  };
}

export interface SiteLate {
  site: string;
  count: number;
  late: number;
  /** The processes serving this site in the window: their worst mean loop utilisation and probe p99. */
  serversEluMax: number;
  serversLateP99Ms: number;
}

export interface ScaleRun {
  layout: Layout;
  bots: number;
  online: number;
  p2pSites: number;
  readyAfterS: number;
  bound: number;
  p2p: { count: number; mean: number; p50: number; p99: number; max: number };
  /** Share of the window's P2P actions over the bound. */
  lateShare: number;
  machine: ScenarioResult['machine'];
  processes: {
    count: number;
    eluMeanMax: number;
    eluMeanMedian: number;
    lateP99MaxMs: number;
    /** The main threads: the most CPU ms a second one spent, and the median and most ms a second one waited for a core. */
    mainCpuMax: number;
    waitMedian: number;
    waitMax: number;
    servingProcesses: number;
    servingEluMax: number;
  };
  bySite: SiteLate[];
  /** Every process: its bots, the sites it serves, its loop over the window (for the JSON). */
  processList: Array<{ key: string; bots: number; servingSites: string[]; eluMean: number; lateP99MaxMs: number; cpuMsPerS: number; mainCpuMsPerS: number; runQueueWaitMsPerS: number }>;
  /** What the run's delay was made of, by the rules of `verdict`. */
  verdict: string;
  /** Late actions before the window (entry and warm-up) and in it, and the window's per 10 s. */
  phase: { beforeWindow: number; inWindow: number; per10s: number[] };
}

/** A main thread this busy on a core (ms a second) is a loop saturated by its own work. */
export const LOOP_SATURATED_MS = 800;
/** The bench alone at this share of the cores leaves no headroom: queueing, whatever the layout. */
export const BENCH_FILLS = 0.85;

/**
 * Which resource ran out: an event loop (a process's main thread on a core LOOP_SATURATED_MS a
 * second), the machine (the bench's main threads waited for a core longer than they ran), and
 * whose work filled the machine (the bench's own, or other work beside it).
 */
export function verdict(o: { cores: number; busyCores: number; benchCores: number; mainCpuMax: number; mainCpuMedian: number; waitMedian: number }): string {
  const parts: string[] = [];
  if (o.mainCpuMax >= LOOP_SATURATED_MS) parts.push(`an event loop saturated (a main thread ${Math.round(o.mainCpuMax)} ms/s on a core)`);
  if (o.waitMedian > o.mainCpuMedian)
    parts.push(`the machine saturated (main threads waited ${Math.round(o.waitMedian)} ms/s for a core, ran ${Math.round(o.mainCpuMedian)})`);
  if (o.benchCores >= BENCH_FILLS * o.cores) parts.push(`the bench alone used ${o.benchCores.toFixed(2)} of ${o.cores} cores`);
  else if (o.busyCores - o.benchCores >= 0.5) parts.push(`other work used ${(o.busyCores - o.benchCores).toFixed(2)} of ${o.cores} cores`);
  return parts.length > 0 ? parts.join('; ') : 'no resource ran out';
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] ?? NaN) : NaN;
};
const maxOf = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN);

export function scaleRun(layout: Layout, bots: number, r: ScenarioResult): ScaleRun {
  const f = mergeFigures(r.groups.map((g) => g.figures));
  const loads = r.groups.map((g) => g.load).filter((l) => l !== null);
  const procs: ProcessLoad[] = r.groups.flatMap((g) => (g.load?.processes ?? []).map((p) => ({ ...p, key: `${g.label}/${p.key}` })));
  const bound = 2 * r.settings.T_timeslot;
  const elu = (p: ProcessLoad): number => p.window.eluMean ?? NaN;
  const lateP99 = (p: ProcessLoad): number => p.window.lateP99MaxMs ?? NaN;
  const mainCpu = (p: ProcessLoad): number => p.window.mainCpuMsPerS ?? NaN;
  const wait = (p: ProcessLoad): number => p.window.runQueueWaitMsPerS ?? NaN;
  const serving = procs.filter((p) => p.servingSites.length > 0);
  const sites = new Map<string, { count: number; late: number }>();
  for (const l of loads)
    for (const [s, d] of Object.entries(l.bySite)) {
      const x = sites.get(s) ?? { count: 0, late: 0 };
      sites.set(s, { count: x.count + d.count, late: x.late + d.late });
    }
  const bySite = [...sites].sort(([a], [b]) => a.localeCompare(b)).map(([site, d]) => {
    const servers = procs.filter((p) => p.servingSites.includes(site));
    return { site, ...d, serversEluMax: maxOf(servers.map(elu)), serversLateP99Ms: maxOf(servers.map(lateP99)) };
  });
  const per10s: number[] = [];
  let before = 0;
  let inWindow = 0;
  for (const l of loads)
    for (const a of l.late.kept) {
      if (a.mode !== 'p2p') continue;
      if (a.tS < l.window.fromS) before++;
      else if (a.tS <= l.window.toS) {
        inWindow++;
        const k = Math.floor((a.tS - l.window.fromS) / 10);
        while (per10s.length <= k) per10s.push(0);
        per10s[k] = (per10s[k] ?? 0) + 1;
      }
    }
  const d = f.delay.p2p;
  const mainCpuMax = maxOf(procs.map(mainCpu));
  const waitMedian = median(procs.map(wait));
  const windowLate = [...sites.values()].reduce((n, x) => n + x.late, 0);
  const windowCount = [...sites.values()].reduce((n, x) => n + x.count, 0);
  return {
    layout,
    bots,
    online: r.ready.players,
    p2pSites: r.p2pSitesAtEnd.length,
    readyAfterS: r.ready.afterS,
    bound,
    p2p: { count: d.count, mean: d.mean, p50: d.p50, p99: d.p99, max: d.max },
    lateShare: windowCount > 0 ? windowLate / windowCount : NaN,
    machine: r.machine,
    processes: {
      count: procs.length,
      eluMeanMax: maxOf(procs.map(elu)),
      eluMeanMedian: median(procs.map(elu)),
      lateP99MaxMs: maxOf(procs.map(lateP99)),
      mainCpuMax,
      waitMedian,
      waitMax: maxOf(procs.map(wait)),
      servingProcesses: serving.length,
      servingEluMax: maxOf(serving.map(elu)),
    },
    bySite,
    verdict: verdict({ ...r.machine, mainCpuMax, mainCpuMedian: median(procs.map(mainCpu)), waitMedian }),
    processList: procs.map((p) => ({ key: p.key, bots: p.bots, servingSites: p.servingSites, eluMean: elu(p), lateP99MaxMs: lateP99(p), cpuMsPerS: p.window.cpuMsPerS ?? NaN, mainCpuMsPerS: mainCpu(p), runQueueWaitMsPerS: wait(p) })),
    phase: { beforeWindow: before, inWindow, per10s },
  };
}
