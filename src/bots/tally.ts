/**
 * What the bots of one process measured since the last flush: counters and samples, plain data
 * so a child process can send it to the parent each second (`flush`), where `Totals` (totals.ts)
 * adds it up. Samples per stream and flush are bounded (a uniform subsample beyond `FLUSH_CAP`);
 * counts, sums and maxima stay exact.
 */
export type Mode = 'cs' | 'p2p';
/** A bot's role: serving (it is a Site Server of some site) or only playing. */
export type Role = 'serving' | 'playing';
/** Link classes of the paper: client-admin, server-user, server-server. */
export type LinkClass = 'cu' | 'su' | 'ss';

export const FLUSH_CAP = 2000;
/** Late actions kept per flush (each one's site, time and delay; the counts stay exact). */
export const LATE_CAP = 500;

export interface Stream {
  n: number;
  sum: number;
  max: number;
  sample: number[];
}

export interface Bytes {
  sent: number;
  received: number;
  framesSent: number;
  framesReceived: number;
}

/** An action accepted later than its bound (2 T_timeslot of its site): where and when. */
export interface LateAction {
  /** When it was accepted, ms since the epoch (the processes' clocks are the machine's). */
  at: number;
  site: string;
  mode: Mode;
  ms: number;
  /** The acting bot was a Site Server (of some site) then. */
  serving: boolean;
}

/** Accepted actions of one site: how many, how many late, the sum and the largest delay. */
export interface SiteDelays {
  n: number;
  late: number;
  sum: number;
  max: number;
}

export interface Tally {
  delay: Record<Mode, Stream>;
  bySite: Record<string, SiteDelays>;
  late: LateAction[];
  sent: Record<Mode, number>;
  /** Actions sent and never accepted within the bound (or superseded by a later accepted one). */
  unprocessed: Record<Mode, number>;
  enter: Stream;
  switches: Stream;
  linkDelay: Record<LinkClass, Stream>;
  linkDrops: Record<LinkClass, { loss: number; down: number }>;
  /** The process's CPU ms over the flush, split between roles by `handlerWallMs`. */
  handlerMs: Record<Role, number>;
  /** Wall ms inside each role's callbacks (instrument.ts handlerTimer). */
  handlerWallMs: Record<Role, number>;
  botSeconds: Record<Role, number>;
  /** Seconds of bots on a site of each mode (users per round). */
  modeSeconds: Record<Mode, number>;
  peer: Record<Role, Bytes>;
  admin: Bytes;
}

const stream = (): Stream => ({ n: 0, sum: 0, max: -Infinity, sample: [] });
const bytes = (): Bytes => ({ sent: 0, received: 0, framesSent: 0, framesReceived: 0 });

export function emptyTally(): Tally {
  return {
    delay: { cs: stream(), p2p: stream() },
    bySite: {},
    late: [],
    sent: { cs: 0, p2p: 0 },
    unprocessed: { cs: 0, p2p: 0 },
    enter: stream(),
    switches: stream(),
    linkDelay: { cu: stream(), su: stream(), ss: stream() },
    linkDrops: { cu: { loss: 0, down: 0 }, su: { loss: 0, down: 0 }, ss: { loss: 0, down: 0 } },
    handlerMs: { serving: 0, playing: 0 },
    handlerWallMs: { serving: 0, playing: 0 },
    botSeconds: { serving: 0, playing: 0 },
    modeSeconds: { cs: 0, p2p: 0 },
    peer: { serving: bytes(), playing: bytes() },
    admin: bytes(),
  };
}

export function addSample(s: Stream, v: number, random: () => number = Math.random): void {
  if (!Number.isFinite(v)) return;
  s.n++;
  s.sum += v;
  if (v > s.max) s.max = v;
  if (s.sample.length < FLUSH_CAP) s.sample.push(v);
  else {
    const j = Math.floor(random() * s.n);
    if (j < FLUSH_CAP) s.sample[j] = v;
  }
}

/** This process's CPU time (user + system, every thread), ms. */
export const processCpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/** The recorder the bots, links and sockets of one process write to. */
export class Recorder {
  private t = emptyTally();
  private lastCpu: number;

  /** `cpu`: the process's CPU ms so far (injectable for tests). */
  constructor(private readonly cpu: () => number = processCpuMs) {
    this.lastCpu = cpu();
  }

  get tally(): Tally {
    return this.t;
  }

  /**
   * The tally since the last flush; starts a new one. The process's CPU since the last flush is
   * booked to the roles in proportion to the wall time inside their callbacks (none if no
   * callback ran: the idle process's own timers are nobody's).
   */
  flush(): Tally {
    const t = this.t;
    this.t = emptyTally();
    const cpu = this.cpu();
    const spent = Math.max(0, cpu - this.lastCpu);
    this.lastCpu = cpu;
    const wall = t.handlerWallMs.serving + t.handlerWallMs.playing;
    if (wall > 0) {
      t.handlerMs.serving = (spent * t.handlerWallMs.serving) / wall;
      t.handlerMs.playing = (spent * t.handlerWallMs.playing) / wall;
    }
    return t;
  }

  /** An accepted action's delay; with `where`, also its site's counts and, over `lateMs`, the late list. */
  delay(mode: Mode, ms: number, where?: { site: string; lateMs: number; serving: boolean; at: number }): void {
    addSample(this.t.delay[mode], ms);
    if (!where || !Number.isFinite(ms)) return;
    const d = (this.t.bySite[where.site] ??= { n: 0, late: 0, sum: 0, max: 0 });
    d.n++;
    d.sum += ms;
    d.max = Math.max(d.max, ms);
    if (ms <= where.lateMs) return;
    d.late++;
    if (this.t.late.length < LATE_CAP) this.t.late.push({ at: where.at, site: where.site, mode, ms, serving: where.serving });
  }
  sent(mode: Mode): void {
    this.t.sent[mode]++;
  }
  unprocessed(mode: Mode): void {
    this.t.unprocessed[mode]++;
  }
  entered(ms: number): void {
    addSample(this.t.enter, ms);
  }
  switched(ms: number): void {
    addSample(this.t.switches, ms);
  }
  linkWaited(cls: LinkClass, ms: number): void {
    addSample(this.t.linkDelay[cls], ms);
  }
  linkDropped(cls: LinkClass, why: 'loss' | 'down'): void {
    this.t.linkDrops[cls][why]++;
  }
  /** Wall ms spent in one callback of a bot in `role`. */
  handler(role: Role, ms: number): void {
    this.t.handlerWallMs[role] += ms;
  }
  botSecond(role: Role, mode: Mode | null, secs: number): void {
    this.t.botSeconds[role] += secs;
    if (mode) this.t.modeSeconds[mode] += secs;
  }
  peerBytes(role: Role, dir: 'sent' | 'received', n: number): void {
    const b = this.t.peer[role];
    b[dir] += n;
    if (dir === 'sent') b.framesSent++;
    else b.framesReceived++;
  }
  adminBytes(dir: 'sent' | 'received', n: number): void {
    const b = this.t.admin;
    b[dir] += n;
    if (dir === 'sent') b.framesSent++;
    else b.framesReceived++;
  }
}
