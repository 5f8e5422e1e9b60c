/**
 * What the bench uses of a bot group's `--json` summary, in one normalized shape (botsJson.ts reads
 * the file into it), and how the groups of one scenario add up.
 */
import { quantile } from './stats.js';

export interface Dist {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
  /** A bounded uniform sample (for plots and for merging groups). */
  samples: number[];
}

export interface Traffic {
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
}

export type LinkClass = 'cu' | 'su' | 'ss';

export interface BotFigures {
  requested: number;
  online: number;
  failed: number;
  p2pPlaying: number;
  serving: number;
  enterMs: { count: number; p50: number; p99: number; max: number; pending: number };
  delay: { all: Dist; cs: Dist; p2p: Dist };
  /** Actions sent and those never accepted, by the mode of the bot's site when sent. */
  notProcessed: { cs: { sent: number; lost: number }; p2p: { sent: number; lost: number } };
  cpu: {
    totalMs: number;
    wallMs: number;
    method: string;
    serving: { ms: number; botSeconds: number };
    playing: { ms: number; botSeconds: number };
  };
  bytes: {
    serving: Traffic;
    playing: Traffic;
    admin: Traffic;
    /** Peer-link bytes of a playing user per round (T_timeslot), and of a Site Server per round. */
    userPerRound: { sent: number; received: number };
    serverPerRound: { sent: number; received: number };
  };
  /** The latency each frame really got where it was injected; null where nothing was injected. */
  latency: Record<LinkClass, { count: number; mean: number; p50: number; p99: number } | null>;
  roam: { switches: number; p50: number; p99: number };
}

const distOf = (samples: number[], count: number, sum: number, max: number): Dist => ({
  count,
  mean: count > 0 ? sum / count : NaN,
  p50: quantile(samples, 0.5),
  p99: quantile(samples, 0.99),
  max,
  samples,
});

/** Merges distributions: exact count, mean and max; percentiles from the samples pooled in proportion to their counts. */
export function mergeDist(ds: readonly Dist[]): Dist {
  const count = ds.reduce((n, d) => n + d.count, 0);
  const sum = ds.reduce((n, d) => n + (d.count > 0 ? d.mean * d.count : 0), 0);
  const max = Math.max(-Infinity, ...ds.filter((d) => d.count > 0).map((d) => d.max));
  // Each kept sample must stand for the same number of actions: thin the over-sampled groups to
  // the weight per sample of the least sampled one.
  const per = ds.map((d) => (d.samples.length > 0 ? d.count / d.samples.length : 0));
  const maxPer = Math.max(0, ...per);
  const samples: number[] = [];
  ds.forEach((d, i) => {
    if ((per[i] ?? 0) === 0) return;
    const keep = Math.min(d.samples.length, Math.round(d.count / maxPer));
    const step = d.samples.length / Math.max(1, keep);
    for (let k = 0; k < keep; k++) samples.push(d.samples[Math.floor(k * step)] ?? NaN);
  });
  return distOf(samples.filter(Number.isFinite), count, sum, count > 0 ? max : NaN);
}

const addTraffic = (ts: readonly Traffic[]): Traffic => ({
  bytesSent: ts.reduce((n, t) => n + t.bytesSent, 0),
  bytesReceived: ts.reduce((n, t) => n + t.bytesReceived, 0),
  messagesSent: ts.reduce((n, t) => n + t.messagesSent, 0),
  messagesReceived: ts.reduce((n, t) => n + t.messagesReceived, 0),
});

/** Weighted mean of `f` over groups, weighted by `w` (NaN when no weight). */
function weighted(fs: readonly BotFigures[], f: (x: BotFigures) => number, w: (x: BotFigures) => number): number {
  const tw = fs.reduce((n, x) => n + (Number.isFinite(f(x)) ? w(x) : 0), 0);
  return tw > 0 ? fs.reduce((n, x) => n + (Number.isFinite(f(x)) ? f(x) * w(x) : 0), 0) / tw : NaN;
}

/** The figures of several groups of one scenario as if one. */
export function mergeFigures(fs: readonly BotFigures[]): BotFigures {
  const sum = (f: (x: BotFigures) => number): number => fs.reduce((n, x) => n + f(x), 0);
  const lat = (k: LinkClass): BotFigures['latency'][LinkClass] => {
    const ls = fs.map((x) => x.latency[k]).filter((l): l is NonNullable<typeof l> => l !== null && l.count > 0);
    if (ls.length === 0) return null;
    const count = ls.reduce((n, l) => n + l.count, 0);
    const byCount = (g: (l: (typeof ls)[number]) => number): number => ls.reduce((n, l) => n + g(l) * l.count, 0) / count;
    return { count, mean: byCount((l) => l.mean), p50: byCount((l) => l.p50), p99: Math.max(...ls.map((l) => l.p99)) };
  };
  return {
    requested: sum((x) => x.requested),
    online: sum((x) => x.online),
    failed: sum((x) => x.failed),
    p2pPlaying: sum((x) => x.p2pPlaying),
    serving: sum((x) => x.serving),
    enterMs: {
      count: sum((x) => x.enterMs.count),
      p50: weighted(fs, (x) => x.enterMs.p50, (x) => x.enterMs.count),
      p99: Math.max(...fs.map((x) => x.enterMs.p99)),
      max: Math.max(...fs.map((x) => x.enterMs.max)),
      pending: sum((x) => x.enterMs.pending),
    },
    delay: {
      all: mergeDist(fs.map((x) => x.delay.all)),
      cs: mergeDist(fs.map((x) => x.delay.cs)),
      p2p: mergeDist(fs.map((x) => x.delay.p2p)),
    },
    notProcessed: {
      cs: { sent: sum((x) => x.notProcessed.cs.sent), lost: sum((x) => x.notProcessed.cs.lost) },
      p2p: { sent: sum((x) => x.notProcessed.p2p.sent), lost: sum((x) => x.notProcessed.p2p.lost) },
    },
    cpu: {
      totalMs: sum((x) => x.cpu.totalMs),
      wallMs: sum((x) => x.cpu.wallMs),
      method: fs[0]?.cpu.method ?? '',
      serving: { ms: sum((x) => x.cpu.serving.ms), botSeconds: sum((x) => x.cpu.serving.botSeconds) },
      playing: { ms: sum((x) => x.cpu.playing.ms), botSeconds: sum((x) => x.cpu.playing.botSeconds) },
    },
    bytes: {
      serving: addTraffic(fs.map((x) => x.bytes.serving)),
      playing: addTraffic(fs.map((x) => x.bytes.playing)),
      admin: addTraffic(fs.map((x) => x.bytes.admin)),
      userPerRound: {
        sent: weighted(fs, (x) => x.bytes.userPerRound.sent, (x) => x.cpu.playing.botSeconds),
        received: weighted(fs, (x) => x.bytes.userPerRound.received, (x) => x.cpu.playing.botSeconds),
      },
      serverPerRound: {
        sent: weighted(fs, (x) => x.bytes.serverPerRound.sent, (x) => x.cpu.serving.botSeconds),
        received: weighted(fs, (x) => x.bytes.serverPerRound.received, (x) => x.cpu.serving.botSeconds),
      },
    },
    latency: { cu: lat('cu'), su: lat('su'), ss: lat('ss') },
    roam: {
      switches: sum((x) => x.roam.switches),
      p50: weighted(fs, (x) => x.roam.p50, (x) => x.roam.switches),
      p99: Math.max(...fs.map((x) => x.roam.p99)),
    },
  };
}

/** Share of actions not processed (NaN when none were sent). */
export const lostShare = (x: { sent: number; lost: number }): number => (x.sent > 0 ? x.lost / x.sent : NaN);
