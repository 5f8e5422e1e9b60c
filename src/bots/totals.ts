/**
 * The parent's sums over every bot process: each second's tallies added into reservoirs and
 * counters (after the warm-up only, but for the time to enter, which is measured from the start),
 * each process's CPU, and the `--json` summary built from them.
 */
import { Reservoir, rounded, type DistSummary } from './stats.js';
import type { LoopSample } from './loop.js';
import { emptyTally, type Bytes, type LateAction, type LinkClass, type Mode, type Role, type SiteDelays, type Tally } from './tally.js';

/** One second of one bot process: its loop, CPU, bots and the sites its serving bots serve. */
export interface ProcessSecond extends LoopSample {
  bots: number;
  servingSites: string[];
}

/** Late actions kept over the whole run (the count stays exact). */
export const LATE_KEEP = 20_000;
/** Seconds of loop samples kept per process. */
export const LOOP_KEEP = 3600;

export interface CpuReport {
  userMs: number;
  systemMs: number;
  wallMs: number;
}

const MODES: Mode[] = ['cs', 'p2p'];
const CLASSES: LinkClass[] = ['cu', 'su', 'ss'];

export class Totals {
  readonly delay: Record<Mode, Reservoir> = { cs: new Reservoir(), p2p: new Reservoir() };
  readonly delayAll = new Reservoir();
  readonly enter = new Reservoir();
  readonly switches = new Reservoir();
  readonly linkDelay: Record<LinkClass, Reservoir> = { cu: new Reservoir(), su: new Reservoir(), ss: new Reservoir() };
  /** Counters (the samples of `t` are unused). */
  readonly sum: Tally = emptyTally();
  /** Late actions of the whole run, warm-up included (entry is a phase worth seeing), and how many there were. */
  readonly late: LateAction[] = [];
  lateCount = 0;
  /** Per process, its seconds with the parent's elapsed ms at each and whether the window was open. */
  readonly loops = new Map<string, Array<ProcessSecond & { tMs: number; warm: boolean }>>();
  /** Latest cumulative CPU per process, and the values at the end of the warm-up. */
  private readonly cpu = new Map<string, CpuReport>();
  private readonly cpuBase = new Map<string, CpuReport>();

  /** Adds one flush; during the warm-up (`counting` false) only the times to enter count. */
  add(t: Tally, counting: boolean): void {
    this.enter.addStream(t.enter);
    this.lateCount += t.late.length;
    for (const l of t.late) if (this.late.length < LATE_KEEP) this.late.push(l);
    if (!counting) return;
    for (const [site, d] of Object.entries(t.bySite)) addSite((this.sum.bySite[site] ??= { n: 0, late: 0, sum: 0, max: 0 }), d);
    for (const m of MODES) {
      this.delay[m].addStream(t.delay[m]);
      this.delayAll.addStream(t.delay[m]);
      this.sum.sent[m] += t.sent[m];
      this.sum.unprocessed[m] += t.unprocessed[m];
      this.sum.modeSeconds[m] += t.modeSeconds[m];
    }
    this.switches.addStream(t.switches);
    for (const c of CLASSES) {
      this.linkDelay[c].addStream(t.linkDelay[c]);
      this.sum.linkDrops[c].loss += t.linkDrops[c].loss;
      this.sum.linkDrops[c].down += t.linkDrops[c].down;
    }
    for (const r of ['serving', 'playing'] as Role[]) {
      this.sum.handlerMs[r] += t.handlerMs[r];
      this.sum.handlerWallMs[r] += t.handlerWallMs[r];
      this.sum.botSeconds[r] += t.botSeconds[r];
      addBytes(this.sum.peer[r], t.peer[r]);
    }
    addBytes(this.sum.admin, t.admin);
  }

  /** One second of a process's loop at the parent's elapsed `tMs`. */
  loop(process: string, l: ProcessSecond, tMs: number, counting: boolean): void {
    const xs = this.loops.get(process) ?? [];
    if (xs.length < LOOP_KEEP) xs.push({ ...l, servingSites: [...l.servingSites], tMs, warm: counting });
    this.loops.set(process, xs);
  }

  cpuReport(process: string, c: CpuReport): void {
    this.cpu.set(process, c);
  }

  /** The warm-up ends: CPU from here on. */
  cpuBaseline(): void {
    for (const [k, v] of this.cpu) this.cpuBase.set(k, { ...v });
  }

  cpuTotal(): CpuReport & { processes: number } {
    const out = { userMs: 0, systemMs: 0, wallMs: 0, processes: this.cpu.size };
    for (const [k, v] of this.cpu) {
      const b = this.cpuBase.get(k) ?? { userMs: 0, systemMs: 0, wallMs: 0 };
      out.userMs += v.userMs - b.userMs;
      out.systemMs += v.systemMs - b.systemMs;
      out.wallMs += v.wallMs - b.wallMs;
    }
    return out;
  }
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

function addSite(a: SiteDelays, b: SiteDelays): void {
  a.n += b.n;
  a.late += b.late;
  a.sum += b.sum;
  a.max = Math.max(a.max, b.max);
}

/** A process's seconds in the window: mean and worst loop utilisation, lateness, CPU; and its series. */
function processSummary(xs: ReadonlyArray<ProcessSecond & { tMs: number; warm: boolean }>): Record<string, unknown> {
  const w = xs.filter((x) => x.warm);
  const secs = w.reduce((n, x) => n + x.seconds, 0);
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  const sites = new Set(w.flatMap((x) => x.servingSites));
  return {
    bots: Math.max(0, ...xs.map((x) => x.bots)),
    servingSites: [...sites].sort(),
    window: {
      seconds: r1(secs),
      eluMean: secs > 0 ? r3(w.reduce((n, x) => n + x.elu * x.seconds, 0) / secs) : null,
      eluMax: w.length > 0 ? r3(Math.max(...w.map((x) => x.elu))) : null,
      lateP99MaxMs: w.length > 0 ? r1(Math.max(...w.map((x) => x.delayP99Ms))) : null,
      lateMaxMs: w.length > 0 ? r1(Math.max(...w.map((x) => x.delayMaxMs))) : null,
      cpuMsPerS: secs > 0 ? r1(w.reduce((n, x) => n + x.cpuMs, 0) / secs) : null,
      mainCpuMsPerS: secs > 0 ? finiteOrNull(r1(w.reduce((n, x) => n + x.mainCpuMs, 0) / secs)) : null,
      runQueueWaitMsPerS: secs > 0 ? finiteOrNull(r1(w.reduce((n, x) => n + x.runQueueWaitMs, 0) / secs)) : null,
    },
    series: {
      columns: ['tS', 'elu', 'lateP99Ms', 'lateMaxMs', 'cpuMs', 'mainCpuMs', 'runQueueWaitMs', 'serving'],
      rows: xs.map((x) => [r1(x.tMs / 1000), r3(x.elu), r1(x.delayP99Ms), r1(x.delayMaxMs), r1(x.cpuMs), finiteOrNull(r1(x.mainCpuMs)), finiteOrNull(r1(x.runQueueWaitMs)), x.servingSites.length]),
    },
  };
}

function addBytes(a: Bytes, b: Bytes): void {
  a.sent += b.sent;
  a.received += b.received;
  a.framesSent += b.framesSent;
  a.framesReceived += b.framesReceived;
}

const r1 = (v: number): number => Math.round(v * 10) / 10;

export interface SummaryInput {
  args: Record<string, unknown>;
  counts: { requested: number; online: number; failed: number; p2pPlaying: number; serving: number; enterPending: number };
  totals: Totals;
  /** ms since the start: the measured window. */
  window: { fromMs: number; toMs: number };
  /** The parent's start, ms since the epoch (late actions are given from it). */
  startedAt?: number;
  /** A round (T_timeslot) in ms, for bytes per user per round. */
  roundMs: number;
  linkSpec: unknown;
}

/** Bounded sample arrays for plots are in `samples` (at most SAMPLE_CAPACITY per stream). */
export function summary(i: SummaryInput): Record<string, unknown> {
  const t = i.totals;
  const s = t.sum;
  const dist = (r: Reservoir): DistSummary => rounded(r.summary());
  const rounds = (secs: number): number => (secs * 1000) / i.roundMs;
  const perRound = (b: number, secs: number): number | null => (secs > 0 ? r1(b / rounds(secs)) : null);
  const cpu = t.cpuTotal();
  const peerSent = s.peer.serving.sent + s.peer.playing.sent;
  return {
    version: 1,
    args: i.args,
    window: { fromMs: Math.round(i.window.fromMs), toMs: Math.round(i.window.toMs) },
    counts: i.counts,
    timeToEnterMs: { ...dist(t.enter), pending: i.counts.enterPending },
    actionDelayMs: {
      all: dist(t.delayAll),
      cs: dist(t.delay.cs),
      p2p: dist(t.delay.p2p),
      percentiles: 'nearest rank over a uniform reservoir sample (exact while count <= 20000)',
    },
    actions: { sent: s.sent, unprocessed: s.unprocessed, unprocessedMeans: 'sent and not accepted within 10 s (actions in flight at a site change are neither)' },
    cpu: {
      userMs: r1(cpu.userMs),
      systemMs: r1(cpu.systemMs),
      wallMs: r1(cpu.wallMs),
      processes: cpu.processes,
      perRole: {
        method: "each process's CPU ms (process.cpuUsage, every thread, libdatachannel's included, read once a second) split between roles by the wall time inside each bot's socket, data-channel and timer callbacks, booked to the bot's role at that moment (serving: it is a Site Server)",
        handlerMs: { serving: r1(s.handlerMs.serving), playing: r1(s.handlerMs.playing) },
        botSeconds: { serving: r1(s.botSeconds.serving), playing: r1(s.botSeconds.playing) },
      },
    },
    bytes: {
      peer: s.peer,
      peerMeans: 'data-channel frames by the role of the local end: serving = a Site Server end, playing = a user end',
      admin: s.admin,
      botSecondsByMode: { cs: r1(s.modeSeconds.cs), p2p: r1(s.modeSeconds.p2p) },
      perUserPerRound: {
        roundMs: i.roundMs,
        peerSentPerP2PUser: perRound(peerSent, s.modeSeconds.p2p),
        adminPerUser: perRound(s.admin.sent + s.admin.received, s.modeSeconds.cs + s.modeSeconds.p2p),
      },
    },
    injected: {
      spec: i.linkSpec,
      measuredMs: { cu: dist(t.linkDelay.cu), su: dist(t.linkDelay.su), ss: dist(t.linkDelay.ss) },
      dropped: s.linkDrops,
    },
    portalSwitches: { ...dist(t.switches), means: 'ms from sending the portal action to the view of the next site' },
    bySite: Object.fromEntries(
      Object.entries(s.bySite).map(([site, d]) => [site, { count: d.n, late: d.late, mean: d.n > 0 ? r1(d.sum / d.n) : null, max: r1(d.max) }]),
    ),
    late: {
      means: 'actions accepted later than 2 T_timeslot of their site, the whole run (warm-up included): tS since the start, site, mode, ms, whether the acting bot was serving',
      count: t.lateCount,
      kept: t.late.map((l) => ({ tS: r1((l.at - (i.startedAt ?? 0)) / 1000), site: l.site, mode: l.mode, ms: r1(l.ms), serving: l.serving })),
    },
    processes: {
      means: "each bot process's event loop per second: utilisation (perf_hooks), how late a 50 ms probe timer ran, CPU ms (every thread), the main thread's ms on a core and waiting in the run queue for one (Linux schedstat), its serving bots; window: over the measured window",
      byProcess: Object.fromEntries([...t.loops].map(([k, xs]) => [k, processSummary(xs)])),
    },
    samples: { cs: t.delay.cs.values(), p2p: t.delay.p2p.values() },
  };
}
