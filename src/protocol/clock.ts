/**
 * Clock synchronisation against the Administration Server, NTP style (protocol.md "Clocks").
 * A round sends `samples` requests; each reply gives t0 (local send), t1 (admin receive),
 * t2 (admin send), t3 (local receive):
 *   round trip = (t3 - t0) - (t2 - t1),  offset = ((t1 - t0) + (t2 - t3)) / 2.
 * The sample with the lowest round trip wins (its offset error is at most half its round trip).
 * Rounds repeat every `resyncEvery`. The synced clock never runs backward: a new offset that is
 * larger is applied at once (time jumps forward), a smaller one is slewed in at `maxSlew`.
 */
import type { ClockSync, ClockSyncOptions } from './api.js';

export interface ClockSample {
  t0: number;
  t1: number;
  t2: number;
  t3: number;
}

/** Round trip of one sample, excluding the admin's processing time. */
export function sampleRoundTrip(s: ClockSample): number {
  return s.t3 - s.t0 - (s.t2 - s.t1);
}

/** Offset (admin clock - local clock) estimated from one sample. */
export function sampleOffset(s: ClockSample): number {
  return (s.t1 - s.t0 + (s.t2 - s.t3)) / 2;
}

/** The sample with the lowest round trip (first of equals), or null. */
export function bestSample(samples: readonly ClockSample[]): ClockSample | null {
  let best: ClockSample | null = null;
  for (const s of samples) if (best === null || sampleRoundTrip(s) < sampleRoundTrip(best)) best = s;
  return best;
}

export function createClockSync(opts: ClockSyncOptions): ClockSync {
  const samplesPerRound = opts.samples ?? 8;
  const gap = opts.sampleGap ?? 50;
  const every = opts.resyncEvery ?? 30_000;
  const retry = Math.min(every, opts.retryEvery ?? 1000);
  const maxSlew = opts.maxSlew ?? 0.05;
  const timeout = opts.sampleTimeout ?? 2000;

  let nextId = 1;
  const outstanding = new Map<number, number>(); // id -> t0
  let round: ClockSample[] = [];
  let sentInRound = 0;
  let nextSendAt: number | null = opts.now(); // first round at once
  let target: number | null = null;
  let rtt: number | null = null;
  let applied = 0; // offset in use
  let lastLocal: number | null = null;
  let lastOut = -Infinity;
  let handedOut = false;

  function finishRoundIfDone(): void {
    if (sentInRound >= samplesPerRound && outstanding.size === 0) {
      // A round nobody answered (sent before the link was up, or lost) is tried again soon.
      const answered = round.length > 0;
      round = [];
      sentInRound = 0;
      nextSendAt = opts.now() + (answered ? every : retry);
    }
  }

  function expire(local: number): void {
    for (const [id, t0] of outstanding) if (local >= t0 + timeout) outstanding.delete(id);
  }

  return {
    receive(reply) {
      const t0 = outstanding.get(reply.id);
      if (t0 === undefined) return;
      if (!Number.isFinite(reply.t1) || !Number.isFinite(reply.t2)) return;
      outstanding.delete(reply.id);
      const sample: ClockSample = { t0, t1: reply.t1, t2: reply.t2, t3: opts.now() };
      if (sampleRoundTrip(sample) < 0) return; // impossible: the admin's clock went backward
      round.push(sample);
      const best = bestSample(round);
      if (best) {
        target = sampleOffset(best);
        rtt = sampleRoundTrip(best);
        if (!handedOut) applied = target;
      }
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
    roundTrip() {
      return rtt;
    },
  };
}
