/**
 * The parent's sums over every bot process: each second's tallies added into reservoirs and
 * counters (after the warm-up only, but for the time to enter, which is measured from the start),
 * each process's CPU, and the `--json` summary built from them.
 */
import { Reservoir, rounded, type DistSummary } from './stats.js';
import { emptyTally, type Bytes, type LinkClass, type Mode, type Role, type Tally } from './tally.js';

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
  /** Latest cumulative CPU per process, and the values at the end of the warm-up. */
  private readonly cpu = new Map<string, CpuReport>();
  private readonly cpuBase = new Map<string, CpuReport>();

  /** Adds one flush; during the warm-up (`counting` false) only the times to enter count. */
  add(t: Tally, counting: boolean): void {
    this.enter.addStream(t.enter);
    if (!counting) return;
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
    samples: { cs: t.delay.cs.values(), p2p: t.delay.p2p.values() },
  };
}
