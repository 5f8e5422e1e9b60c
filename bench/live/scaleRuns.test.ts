/**
 * The scale section's layouts and its analysis of a run, on made-up bot summaries: late actions by
 * site and phase, the processes serving each site, the machine's figures passed through.
 */
import { describe, expect, it } from 'vitest';
import type { BotFigures, Dist } from './figures.js';
import type { ScenarioResult } from './scenario.js';
import { parseBotLoad, type BotLoad } from './scaleLoad.js';
import { scaleGroups, scaleRun, scaleScenario, verdict } from './scaleRuns.js';

const dist = (xs: number[]): Dist => ({ count: xs.length, mean: xs.reduce((a, b) => a + b, 0) / xs.length, p50: xs[0] ?? NaN, p99: xs[xs.length - 1] ?? NaN, max: xs[xs.length - 1] ?? NaN, samples: xs });
const traffic = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0 };
const figures = (p2p: number[]): BotFigures => ({
  requested: 2,
  online: 2,
  failed: 0,
  p2pPlaying: 2,
  serving: 1,
  enterMs: { count: 2, p50: 1, p99: 1, max: 1, pending: 0 },
  delay: { all: dist(p2p), cs: dist([]), p2p: dist(p2p) },
  notProcessed: { cs: { sent: 0, lost: 0 }, p2p: { sent: p2p.length, lost: 0 } },
  cpu: { totalMs: 1, wallMs: 1, method: 't', serving: { ms: 1, botSeconds: 1 }, playing: { ms: 1, botSeconds: 1 } },
  bytes: { serving: traffic, playing: traffic, admin: traffic, userPerRound: { sent: 0, received: 0 }, serverPerRound: { sent: 0, received: 0 } },
  latency: { cu: null, su: null, ss: null },
  roam: { switches: 0, p50: NaN, p99: NaN },
});

/** A summary as src/bots/totals.ts writes it: window 30-60 s, two processes, one serving meadow. */
const summary = {
  window: { fromMs: 30_000, toMs: 60_000 },
  bySite: { meadow: { count: 100, late: 7, mean: 90, max: 900 }, lake: { count: 50, late: 0, mean: 60, max: 150 } },
  late: {
    count: 9,
    kept: [
      { tS: 12, site: 'meadow', mode: 'p2p', ms: 800, serving: false },
      { tS: 13, site: 'meadow', mode: 'cs', ms: 800, serving: false },
      ...[31, 32, 35, 41, 41, 55, 59].map((tS) => ({ tS, site: 'meadow', mode: 'p2p', ms: 300, serving: false })),
    ],
  },
  processes: {
    byProcess: {
      child0: { bots: 20, servingSites: ['meadow'], window: { seconds: 30, eluMean: 0.9, eluMax: 1, lateP99MaxMs: 400, lateMaxMs: 900, cpuMsPerS: 950, mainCpuMsPerS: 900, runQueueWaitMsPerS: 50 } },
      child1: { bots: 20, servingSites: [], window: { seconds: 30, eluMean: 0.2, eluMax: 0.3, lateP99MaxMs: 10, lateMaxMs: 20, cpuMsPerS: 150, mainCpuMsPerS: 120, runQueueWaitMsPerS: 5 } },
    },
  },
};

function result(load: BotLoad | null): ScenarioResult {
  return {
    name: 'scale-40-packed',
    settings: { nServer: 3, T_timeslot: 100, threshold: 3 },
    injection: {},
    groups: [{ label: 'all', args: [], figures: figures([50, 60, 300]), load }],
    ready: { players: 40, requested: 40, p2pSites: ['meadow'], afterS: 20, reached: true, warm: true },
    p2pSitesAtEnd: ['meadow', 'lake', 'town', 'forest', 'cave', 'ruins'],
    admin: { cpuMsPerPlayerSecond: 1, bytesInPerPlayerSecond: 1, bytesOutPerPlayerSecond: 1, cpuShare: 0.1, playerSeconds: 100, seconds: 30 } as ScenarioResult['admin'],
    bots: { cpuMs: 1, cpuMsPerPlayerSecond: 1 },
    machine: { cores: 2, busyCores: 1.9, benchCores: 1.2, loadAverage: 3 },
    adminSource: 'api',
    wallS: 70,
  };
}

describe('scale runs', () => {
  it('lays out the same bots packed (one group, all serve) or split (volunteers one a process, players apart)', () => {
    expect(scaleGroups('packed', 200, 3)).toEqual([{ label: 'all', count: 200, site: 'all', rate: 2, serve: true }]);
    const split = scaleGroups('split', 200, 3);
    expect(split.map((g) => [g.count, g.serve, g.perProcess])).toEqual([
      [24, true, 1],
      [176, false, 20],
    ]);
    expect(() => scaleGroups('split', 24, 3)).toThrow();
    const s = scaleScenario({ layout: 'split', bots: 200, quick: false });
    expect(s).toMatchObject({ measureS: 120, expectP2P: 6, admin: { threshold: 3, nServer: 3 } });
  });

  it("finds the late actions' sites and phases and the processes serving each site", () => {
    const load = parseBotLoad(summary);
    expect(load).not.toBeNull();
    const r = scaleRun('packed', 40, result(load));
    expect(r.bound).toBe(200);
    expect(r.lateShare).toBeCloseTo(7 / 150);
    // The cs one does not count; one P2P before the window, 7 in it, by 10 s of it.
    expect(r.phase).toEqual({ beforeWindow: 1, inWindow: 7, per10s: [3, 2, 2] });
    expect(r.bySite).toEqual([
      { site: 'lake', count: 50, late: 0, serversEluMax: NaN, serversLateP99Ms: NaN },
      { site: 'meadow', count: 100, late: 7, serversEluMax: 0.9, serversLateP99Ms: 400 },
    ]);
    expect(r.processes).toMatchObject({ count: 2, eluMeanMax: 0.9, servingProcesses: 1, servingEluMax: 0.9, mainCpuMax: 900, waitMax: 50 });
    expect(r.processList.map((p) => p.key)).toEqual(['all/child0', 'all/child1']);
    expect(r.machine.benchCores).toBe(1.2);
    expect(r.verdict).toBe('an event loop saturated (a main thread 900 ms/s on a core); other work used 0.70 of 2 cores');
  });

  it('names what ran out: a loop, the machine, and whose work filled it', () => {
    const quiet = { cores: 2, busyCores: 0.5, benchCores: 0.4, mainCpuMax: 300, mainCpuMedian: 200, waitMedian: 10 };
    expect(verdict(quiet)).toBe('no resource ran out');
    expect(verdict({ ...quiet, mainCpuMax: 950 })).toBe('an event loop saturated (a main thread 950 ms/s on a core)');
    expect(verdict({ ...quiet, busyCores: 2, benchCores: 1.9, waitMedian: 300 })).toBe(
      'the machine saturated (main threads waited 300 ms/s for a core, ran 200); the bench alone used 1.90 of 2 cores',
    );
    expect(verdict({ ...quiet, busyCores: 2, benchCores: 0.7, mainCpuMedian: 57, waitMedian: 804 })).toBe(
      'the machine saturated (main threads waited 804 ms/s for a core, ran 57); other work used 1.30 of 2 cores',
    );
  });

  it('reads an older summary without the load parts as none', () => {
    expect(parseBotLoad({ window: { fromMs: 0, toMs: 1 } })).toBeNull();
    expect(scaleRun('packed', 40, result(null)).processes.count).toBe(0);
  });
});
