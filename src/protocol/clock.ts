/**
 * Clock synchronisation against the Administration Server, NTP style (protocol.md "Clocks").
 * A round sends `samples` requests; each reply gives t0 (local send), t1 (admin receive),
 * t2 (admin send), t3 (local receive):
 *   round trip = (t3 - t0) - (t2 - t1),  offset = ((t1 - t0) + (t2 - t3)) / 2.
 * Whatever the two one-way delays, the true offset lies in [t2 - t3, t1 - t0] (the admin received
 * after t0 and replied before t3); its midpoint is the offset above, its half width half the
 * round trip. The estimate intersects these intervals over the recent samples, each widened by
 * `maxDrift` per ms of its age (the clocks may have drifted apart since), and takes the middle:
 * the least delay seen upward and the least downward bound it, even from different samples, so
 * it beats the lowest-round-trip sample (docs/performance.md 7: the servers of a site each sync
 * with the admin alone, and each window waits for the one whose clock runs latest). An older
 * sample that would empty the intersection marks a clock step: it and older ones are dropped.
 * Clocks that read coarsely widen each interval by their resolution: the admin's stamps are whole
 * milliseconds (Date.now), and on loopback, where a round trip is far below 1 ms, unwidened
 * intervals of different samples missed each other by a fraction of a millisecond, a false step
 * on every round that restarted the quick rounds for good (~6 samples a second per tab).
 * Rounds come quickly after the start (`firstResync`, doubling up to `resyncEvery`), so a tab's
 * clock is tight within seconds of joining; a step starts the quick rounds again. The host may
 * change that pace (`pace`): a tab that serves no site needs its offset only to register and to
 * be ready when picked, and every sample is a frame the admin wakes for; a tab picked to serve
 * starts a round at once and the quick rounds again.
 * The synced clock never runs backward: a new offset that is larger is applied at once (time
 * jumps forward), a smaller one is slewed in at `maxSlew`.
 */
import type { ClockSync, ClockSyncOptions } from './api.js';

/** Clock-sync pings use ids from here up, so they never collide with the session's RTT pings. */
export const CLOCK_PING_BASE = 1 << 30;

export interface ClockSample {
  t0: number;
  t1: number;
  t2: number;
  t3: number;
}

/** Options of the estimator beyond api.ts's ClockSyncOptions. */
export interface ClockFilterOptions {
  /** The second round starts this long after the first; the gap doubles up to resyncEvery (default 1 s). */
  firstResync?: number;
  /** Largest drift assumed between the two clocks, ms per ms (default 1e-4: 100 ppm). */
  maxDrift?: number;
  /** Most recent samples kept (default 64). */
  poolSize?: number;
  /** The admin's stamps are its true time rounded down to this (ms): Date.now's 1 (default 0, exact). */
  adminResolution?: number;
  /** The local clock may read up to this (ms) either side of its true time (a browser coarsens performance.now; default 0). */
  localResolution?: number;
}

/** How coarsely the two clocks read (ClockFilterOptions' adminResolution, localResolution). */
export interface ClockResolution {
  admin: number;
  local: number;
}

/** What P2PNode's clock assumes: the admin stamps with Date.now (whole ms), a browser's performance.now is coarsened to 100 µs. */
export const LIVE_CLOCK_RESOLUTION: ClockResolution = { admin: 1, local: 0.1 };

/** Round trip of one sample, excluding the admin's processing time. */
export function sampleRoundTrip(s: ClockSample): number {
  return s.t3 - s.t0 - (s.t2 - s.t1);
}

/** Offset (admin clock - local clock) estimated from one sample. */
export function sampleOffset(s: ClockSample): number {
  return (s.t1 - s.t0 + (s.t2 - s.t3)) / 2;
}

export interface OffsetInterval {
  lo: number;
  hi: number;
  /** How many of the newest samples agree (the rest, older, contradict them: a clock stepped). */
  used: number;
}

/**
 * Where the offset lies at local time `now`, from samples ordered oldest first: the intersection of
 * each one's [t2 - t3, t1 - t0], widened by `maxDrift` per ms of age, newest first, stopping at the
 * first sample that would empty it. Null without samples. With coarse clocks the true admin times
 * are in [t, t + res.admin) and the true local ones within res.local of t: each interval becomes
 * [t2 - t3 - res.local, t1 - t0 + res.admin + res.local].
 */
export function offsetInterval(
  samples: readonly ClockSample[],
  now: number,
  maxDrift: number,
  res: ClockResolution = { admin: 0, local: 0 },
): OffsetInterval | null {
  let lo = -Infinity;
  let hi = Infinity;
  let used = 0;
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i] as ClockSample;
    const widen = maxDrift * Math.max(0, now - s.t3);
    const nlo = Math.max(lo, s.t2 - s.t3 - widen - res.local);
    const nhi = Math.min(hi, s.t1 - s.t0 + widen + res.admin + res.local);
    if (nlo > nhi) break;
    [lo, hi] = [nlo, nhi];
    used++;
  }
  return used > 0 ? { lo, hi, used } : null;
}

/** How often rounds come, from now on (`PacedClockSync.pace`). */
export interface ClockPace {
  /** Longest time between two rounds (ms). */
  every: number;
  /** The gap after a round starts here, after this call and again after a step, doubling up to `every` (default `every`: no quick rounds). */
  first?: number;
  /** A round starts at once (or, if one is under way, `first` after it ends). */
  now?: boolean;
}

export interface PacedClockSync extends ClockSync {
  pace(p: ClockPace): void;
}

export function createClockSync(opts: ClockSyncOptions & ClockFilterOptions): PacedClockSync {
  const samplesPerRound = opts.samples ?? 8;
  const gap = opts.sampleGap ?? 50;
  let every = Math.max(1, opts.resyncEvery ?? 30_000);
  const retryEvery = opts.retryEvery ?? 1000;
  const maxSlew = opts.maxSlew ?? 0.05;
  const timeout = opts.sampleTimeout ?? 2000;
  const maxDrift = opts.maxDrift ?? 1e-4;
  const poolSize = Math.max(1, opts.poolSize ?? 64);
  let firstResync = Math.min(every, opts.firstResync ?? 1000);
  const res: ClockResolution = { admin: Math.max(0, opts.adminResolution ?? 0), local: Math.max(0, opts.localResolution ?? 0) };

  let nextId = 1;
  const outstanding = new Map<number, number>(); // id -> t0
  let pool: ClockSample[] = []; // oldest first
  let answeredInRound = 0;
  let sentInRound = 0;
  let resyncGap = firstResync;
  let nextSendAt: number | null = opts.now(); // first round at once
  let target: number | null = null;
  let width: number | null = null;
  let applied = 0; // offset in use
  let lastLocal: number | null = null;
  let lastOut = -Infinity;
  let handedOut = false;

  /** Re-estimates; returns whether older samples contradicted the newer ones (and were dropped). */
  function estimate(local: number): boolean {
    const iv = offsetInterval(pool, local, maxDrift, res);
    if (!iv) return false;
    target = (iv.lo + iv.hi) / 2;
    width = iv.hi - iv.lo;
    if (!handedOut) applied = target;
    const stepped = iv.used < pool.length;
    if (stepped) pool = pool.slice(pool.length - iv.used);
    return stepped;
  }

  function finishRoundIfDone(): void {
    if (sentInRound < samplesPerRound || outstanding.size > 0) return;
    // A round nobody answered (sent before the link was up, or lost) is tried again soon.
    if (answeredInRound > 0) {
      nextSendAt = opts.now() + resyncGap;
      resyncGap = Math.min(every, resyncGap * 2);
    } else nextSendAt = opts.now() + Math.min(every, retryEvery);
    answeredInRound = 0;
    sentInRound = 0;
  }

  function expire(local: number): void {
    for (const [id, t0] of outstanding) if (local >= t0 + timeout) outstanding.delete(id);
  }

  return {
    pace(p) {
      every = Math.max(1, p.every);
      firstResync = Math.min(every, Math.max(1, p.first ?? every));
      resyncGap = firstResync;
      if (p.now && sentInRound === 0) nextSendAt = opts.now();
    },
    receive(reply) {
      const t0 = outstanding.get(reply.id);
      if (t0 === undefined) return;
      if (!Number.isFinite(reply.t1) || !Number.isFinite(reply.t2)) return;
      outstanding.delete(reply.id);
      const local = opts.now();
      const sample: ClockSample = { t0, t1: reply.t1, t2: reply.t2, t3: local };
      if (sampleRoundTrip(sample) < 0) return; // impossible: the admin's clock went backward
      answeredInRound++;
      pool.push(sample);
      if (pool.length > poolSize) pool.shift();
      // A step: the next round comes soon, and the quick rounds start again.
      if (estimate(local)) resyncGap = firstResync;
      finishRoundIfDone();
    },
    nextWakeAt() {
      const waits: number[] = [];
      if (nextSendAt !== null) waits.push(nextSendAt);
      for (const t0 of outstanding.values()) waits.push(t0 + timeout);
      return waits.length > 0 ? Math.min(...waits) : null;
    },
    tick() {
      const local = opts.now();
      expire(local);
      if (nextSendAt !== null && local >= nextSendAt && sentInRound < samplesPerRound) {
        // The samples aged since the last estimate: their bounds widened.
        if (sentInRound === 0) estimate(local);
        const id = nextId++;
        outstanding.set(id, local);
        sentInRound++;
        opts.send({ id, t0: local });
        nextSendAt = sentInRound < samplesPerRound ? local + gap : null;
      }
      if (nextSendAt === null) finishRoundIfDone();
    },
    now() {
      const local = opts.now();
      if (target !== null) {
        if (target >= applied) applied = target;
        else if (lastLocal !== null)
          applied = Math.max(target, applied - maxSlew * Math.max(0, local - lastLocal));
      }
      lastLocal = local;
      handedOut = true;
      const out = Math.max(local + applied, lastOut);
      lastOut = out;
      return out;
    },
    offset() {
      return target;
    },
    /** The width of the interval the offset lies in (a single sample's: its round trip). */
    roundTrip() {
      return width;
    },
  };
}
