import { describe, expect, it } from 'vitest';
import { createClockSync, LIVE_CLOCK_RESOLUTION, offsetInterval, sampleOffset, sampleRoundTrip, type ClockFilterOptions, type PacedClockSync } from './clock.js';

describe('clock sync math', () => {
  it('offset = ((t1 - t0) + (t2 - t3)) / 2, round trip excludes the admin time', () => {
    const s = { t0: 100, t1: 1150, t2: 1160, t3: 130 };
    expect(sampleOffset(s)).toBe((1050 + 1030) / 2);
    expect(sampleRoundTrip(s)).toBe(20);
  });

  it('the offset lies in the intersection of [t2 - t3, t1 - t0], widened by the drift since each sample', () => {
    // True offset 1000. A: 2 ms up, 10 down; B: 10 up, 2 down. Each alone is 4 ms off; together exact.
    const a = { t0: 0, t1: 1002, t2: 1002, t3: 12 };
    const b = { t0: 100, t1: 1110, t2: 1110, t3: 112 };
    expect(sampleOffset(a)).toBe(996);
    expect(sampleOffset(b)).toBe(1004);
    expect(offsetInterval([a, b], 112, 0)).toEqual({ lo: 998, hi: 1002, used: 2 });
    // 1000 ms after b, with 1e-3 of drift allowed: b widens by 1 ms each side, a by 1.1.
    const aged = offsetInterval([a, b], 1112, 1e-3);
    expect(aged?.lo).toBeCloseTo(997, 9);
    expect(aged?.hi).toBeCloseTo(1003.1, 9);
    // An older sample that contradicts the newer ones (a clock step) is not used, nor anything older.
    const stale = { t0: -50, t1: 500, t2: 500, t3: -40 };
    expect(offsetInterval([a, stale, b], 112, 0)).toEqual({ lo: 998, hi: 1010, used: 1 });
    expect(offsetInterval([], 0, 0)).toBeNull();
  });

  it("widens each interval by the clocks' resolution: an admin stamping whole milliseconds is not a step", () => {
    // True offset 1000.5; 0.1 ms each way; the admin stamps floor(true time), as Date.now does.
    const a = { t0: 0, t1: 1000, t2: 1000, t3: 0.2 }; // true admin time 1000.6
    const b = { t0: 10, t1: 1011, t2: 1011, t3: 10.2 }; // true admin time 1011.0
    const exact = offsetInterval([a], 0.2, 0);
    expect(exact?.hi).toBeLessThan(1000.5); // without the resolution the truth is outside
    expect(offsetInterval([a, b], 10.2, 0)?.used).toBe(1); // and a looks like a step against b
    const res = { admin: 1, local: 0 };
    expect(offsetInterval([a], 0.2, 0, res)).toEqual({ lo: 999.8, hi: 1001, used: 1 });
    const both = offsetInterval([a, b], 10.2, 0, res);
    expect(both).toMatchObject({ used: 2 });
    expect(both?.lo).toBeCloseTo(1000.8, 9);
    expect(both?.hi).toBeCloseTo(1001, 9);
    // A coarse local clock widens both sides.
    const coarse = offsetInterval([a], 0.2, 0, { admin: 1, local: 0.1 });
    expect(coarse?.lo).toBeCloseTo(999.7, 9);
    expect(coarse?.hi).toBeCloseTo(1001.1, 9);
  });

  function run(opts: { offset: number; delays: number[]; admin?: (t: number) => number }) {
    let local = 0;
    const requests: Array<{ id: number; t0: number }> = [];
    const c = createClockSync({
      now: () => local,
      send: (r) => requests.push(r),
      samples: opts.delays.length,
      sampleGap: 10,
    });
    let i = 0;
    const admin = opts.admin ?? ((t: number) => t + opts.offset);
    while (i < opts.delays.length) {
      const w = c.nextWakeAt();
      if (w !== null && w > local) local = w;
      c.tick();
      const r = requests.shift();
      if (!r) continue;
      const [up, down] = [opts.delays[i] ?? 0, (opts.delays[i] ?? 0) * 3];
      local += up;
      const t1 = admin(local);
      local += down;
      c.receive({ id: r.id, t1, t2: t1 });
      i++;
    }
    return { c, setLocal: (t: number) => (local = t), getLocal: () => local };
  }

  it('bounds the offset by the least delay up and the least down, from any samples; error at most half the width', () => {
    // Up 40, 2, 30, 25 ms and down three times that: the offset lies in [5000 - 6, 5000 + 2].
    const { c } = run({ offset: 5000, delays: [40, 2, 30, 25] });
    expect(c.roundTrip()).toBeCloseTo(8, 1);
    expect(Math.abs((c.offset() as number) - 5000)).toBeLessThanOrEqual(4);
  });

  it('the synced clock never runs backward: a lower new offset is slewed in', () => {
    const { c, setLocal, getLocal } = run({ offset: 5000, delays: [2] });
    let last = c.now();
    expect(last).toBeGreaterThan(getLocal() + 4990);
    // A later round finds the admin 300 ms behind our estimate.
    let local = getLocal();
    const req: Array<{ id: number; t0: number }> = [];
    void req;
    local += 30_000;
    setLocal(local);
    c.tick();
    // Answer every sample of the new round with offset 4700.
    for (let k = 0; k < 20; k++) {
      const w = c.nextWakeAt();
      if (w !== null && w > local) {
        local = w;
        setLocal(local);
      }
      c.tick();
    }
    const before = c.now();
    expect(before).toBeGreaterThanOrEqual(last);
    last = before;
    for (let t = 0; t < 100; t++) {
      local += 50;
      setLocal(local);
      const n = c.now();
      expect(n).toBeGreaterThanOrEqual(last);
      last = n;
    }
  });

  it('slews towards a smaller offset at no more than maxSlew and jumps forward at once', () => {
    let local = 0;
    const reqs: Array<{ id: number; t0: number }> = [];
    const c = createClockSync({
      now: () => local,
      send: (r) => reqs.push(r),
      samples: 1,
      resyncEvery: 1000,
      maxSlew: 0.1,
    });
    c.tick();
    let r = reqs.shift();
    local = 10;
    c.receive({ id: r?.id ?? 0, t1: 1005, t2: 1005 }); // offset 1000, rtt 10
    expect(c.now()).toBe(1010);
    local = 1010;
    c.tick();
    r = reqs.shift();
    local = 1012;
    c.receive({ id: r?.id ?? 0, t1: 1011 + 900, t2: 1011 + 900 }); // offset 900 (100 lower)
    const a = c.now();
    local += 100;
    const b = c.now();
    expect(b - a).toBeGreaterThanOrEqual(100 - 0.1 * 100 - 1e-9); // slewed by at most 10 ms per 100 ms
    expect(b).toBeGreaterThan(a);
    local += 10_000;
    expect(c.now() - local).toBeCloseTo(900, 5);
    local += 1000;
    c.tick();
    r = reqs.shift();
    local += 2;
    c.receive({ id: r?.id ?? 0, t1: local - 1 + 2000, t2: local - 1 + 2000 }); // offset 2000: jump forward
    expect(c.now() - local).toBeCloseTo(2000, 5);
  });

  it('a host woken exactly when asked always makes progress, even when every sample is lost', () => {
    let local = 0;
    const sent: number[] = [];
    const c = createClockSync({
      now: () => local,
      send: (r) => sent.push(r.id),
      samples: 2,
      sampleGap: 10,
      sampleTimeout: 100,
      resyncEvery: 1000,
    });
    for (let k = 0; k < 20; k++) {
      const w = c.nextWakeAt();
      expect(w).not.toBeNull();
      local = w as number;
      c.tick();
      // Asked for the same instant again would be a busy loop.
      expect(c.nextWakeAt()).toBeGreaterThan(local);
    }
    expect(sent.length).toBeGreaterThan(4); // rounds went on after their samples timed out
    expect(c.offset()).toBeNull();
  });

  it('a round nobody answered is tried again after retryEvery; answered ones come after firstResync, doubling up to resyncEvery', () => {
    let local = 0;
    const sent: Array<{ id: number; t0: number }> = [];
    const c = createClockSync({ now: () => local, send: (r) => sent.push(r), samples: 2, sampleGap: 10, sampleTimeout: 100, resyncEvery: 30_000, retryEvery: 1000 });
    /** Wakes the clock until it sends `n` more samples; returns when the last went out. */
    const sendsUntil = (n: number): number => {
      const target = sent.length + n;
      while (sent.length < target) {
        local = Math.max(local, c.nextWakeAt() as number);
        c.tick();
      }
      return local;
    };
    sendsUntil(2); // round 1, never answered (the socket was not open)
    const lost = sent.splice(0);
    expect(lost).toHaveLength(2);
    const second = sendsUntil(1);
    // Both samples timed out at 110; the next round starts 1 s later, not 30 s.
    expect(second).toBe(110 + 1000);
    sendsUntil(1);
    for (const r of sent.splice(0)) c.receive({ id: r.id, t1: r.t0 + 5_000, t2: r.t0 + 5_000 });
    expect(c.offset()).toBe(5_000);
    const gaps: number[] = [];
    for (let k = 0; k < 7; k++) {
      const answeredAt = local;
      gaps.push(sendsUntil(1) - answeredAt);
      sendsUntil(1);
      for (const r of sent.splice(0)) c.receive({ id: r.id, t1: r.t0 + 5_000, t2: r.t0 + 5_000 });
    }
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });
});

/** mulberry32: a seeded PRNG, so the jitter is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One server syncing with the admin over a jittered link, in virtual time. Each direction is 30 ms
 * ± 5 ms (the bench's l_cu); the way up also queues behind other frames now and then (a third of
 * the requests wait up to 40 ms more), so the delays are asymmetric sample by sample. The local
 * clock runs `driftPpm` fast against the admin's; the admin's clock may step at `stepAt`.
 * Returns the error of the estimate (offset() - true offset) at each `probeEvery`.
 */
function syncOverJitter(o: {
  seed: number;
  seconds: number;
  driftPpm?: number;
  stepAt?: number;
  stepBy?: number;
  probeEvery?: number;
  /** Loopback: 0.05-0.35 ms each way, as the bench's bots and admin on one machine. */
  loopback?: boolean;
  /** The admin stamps its replies with its true time rounded down to whole ms, as Date.now does. */
  wholeMs?: boolean;
  clock?: ClockFilterOptions;
  /** Called with the true time of every request sent. */
  onSend?: (t: number) => void;
  /** Called at each probe, before the error is read (a host changing the pace). */
  onProbe?: (c: PacedClockSync, t: number) => void;
}) {
  const rand = prng(o.seed);
  const trueOffset0 = 1_000_000 * rand();
  let t = 0; // true time
  const local = (): number => t * (1 + (o.driftPpm ?? 0) / 1e6);
  const admin = (): number => t + trueOffset0 + (o.stepAt !== undefined && t >= o.stepAt ? (o.stepBy ?? 0) : 0);
  const stamp = (): number => (o.wholeMs ? Math.floor(admin()) : admin());
  const events: Array<{ at: number; run: () => void }> = [];
  const after = (ms: number, run: () => void): void => void events.push({ at: t + ms, run });
  const c = createClockSync({
    ...o.clock,
    now: local,
    send: ({ id }) => {
      o.onSend?.(t);
      const up = o.loopback ? 0.05 + 0.3 * rand() : 25 + 10 * rand() + (rand() < 1 / 3 ? 40 * rand() : 0);
      const down = o.loopback ? 0.05 + 0.3 * rand() : 25 + 10 * rand();
      after(up, () => {
        const t1 = stamp();
        after(down, () => c.receive({ id, t1, t2: t1 }));
      });
    },
  });
  const errors: number[] = [];
  const probe = o.probeEvery ?? 1000;
  for (let p = probe; p <= o.seconds * 1000; p += probe) {
    for (;;) {
      const w = c.nextWakeAt();
      // Local wake time -> true time (the drift is tiny, but keep it exact).
      const wTrue = w === null ? Infinity : w / (1 + (o.driftPpm ?? 0) / 1e6);
      const next = events.reduce((m, e) => Math.min(m, e.at), Infinity);
      const at = Math.min(wTrue, next);
      if (at > p) break;
      t = Math.max(t, at);
      if (next <= wTrue) {
        const i = events.findIndex((e) => e.at === next);
        events.splice(i, 1)[0]?.run();
      } else {
        while (local() < (w as number)) t += 1e-6; // the division may round below the wake time
        c.tick();
      }
    }
    t = p;
    o.onProbe?.(c, t);
    errors.push((c.offset() ?? NaN) - (admin() - local()));
  }
  return errors;
}

describe('clock sync over a jittered, asymmetric link', () => {
  // Half the least round trip is 25 ms. The old estimator (one round's lowest-round-trip sample of
  // 8, the next round 30 s later) was 1.2 ms off on average here, up to 4.6. Servers of a site
  // whose clocks disagree make each window wait for the latest one (docs/performance.md 7).
  it('after 20 s the estimate is within 0.5 ms of the truth on average, 2 ms at worst, over 60 servers', () => {
    const errs = Array.from({ length: 60 }, (_, k) => Math.abs(syncOverJitter({ seed: 1 + k, seconds: 20 }).at(-1) ?? NaN));
    expect(errs.reduce((a, b) => a + b, 0) / errs.length).toBeLessThanOrEqual(0.5);
    expect(Math.max(...errs)).toBeLessThanOrEqual(2);
  });

  it('with the local clock 50 ppm fast, within 1.5 ms on average and 6 ms at worst over ten minutes', () => {
    // Between rounds (30 s) the clocks drift 1.5 ms apart: that much the estimate cannot follow.
    const errs = Array.from({ length: 10 }, (_, k) => syncOverJitter({ seed: 100 + k, seconds: 600, driftPpm: 50, probeEvery: 5000 }).slice(6)).flat().map(Math.abs);
    expect(errs.reduce((a, b) => a + b, 0) / errs.length).toBeLessThanOrEqual(1.5);
    expect(Math.max(...errs)).toBeLessThanOrEqual(6);
  });

  it("follows a step of the admin's clock within one round (the old samples are dropped)", () => {
    const errs = syncOverJitter({ seed: 7, seconds: 300, stepAt: 200_000, stepBy: 250, probeEvery: 1000 });
    expect(Math.abs(errs[198] ?? NaN)).toBeLessThanOrEqual(2);
    // The next round is at most 30 s after the step; from 5 s after that, quick rounds again.
    expect(Math.max(...errs.slice(236).map(Math.abs))).toBeLessThanOrEqual(2);
  });
});

describe('clock sync against a live admin, which stamps whole milliseconds (Date.now)', () => {
  const live: ClockFilterOptions = { adminResolution: LIVE_CLOCK_RESOLUTION.admin, localResolution: LIVE_CLOCK_RESOLUTION.local };
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

  it('on the jittered link, as exact: within 0.5 ms on average after 20 s, 2 ms at worst, over 60 servers', () => {
    const errs = Array.from({ length: 60 }, (_, k) => Math.abs(syncOverJitter({ seed: 1 + k, seconds: 20, wholeMs: true, clock: live }).at(-1) ?? NaN));
    expect(mean(errs)).toBeLessThanOrEqual(0.5);
    expect(Math.max(...errs)).toBeLessThanOrEqual(2);
  });

  // At a1d0a58 the admin's bytes in rose in both modes: on loopback, intervals of different
  // samples missed each other by a fraction of the admin's millisecond, every round looked like a
  // step, and the quick rounds never ended (bench/live/adminload.ts: 5.9 samples a second a tab).
  it('on loopback, no false step: rounds of 8 at about 0, 1, 3, 7, 15, 31 s, then every 30 s, and within 0.5 ms', () => {
    // Each gap counts from the end of the previous round (7 sample gaps of 50 ms and a round trip later).
    const scheduled = (seconds: number): number => {
      let n = 0;
      for (let start = 0, gap = 1000; start < seconds * 1000; start += 350 + gap, gap = Math.min(30_000, gap * 2)) n += 8;
      return n;
    };
    for (let seed = 1; seed <= 5; seed++) {
      const sent: number[] = [];
      const errs = syncOverJitter({ seed, seconds: 300, loopback: true, wholeMs: true, clock: live, probeEvery: 5000, onSend: (t) => sent.push(t) });
      expect(sent.filter((t) => t < 60_000)).toHaveLength(scheduled(60));
      expect(sent).toHaveLength(scheduled(300));
      expect(Math.max(...errs.map(Math.abs))).toBeLessThanOrEqual(0.5);
    }
    // Without the resolution the same link and stamps restart the quick rounds over and over.
    let unwidened = 0;
    syncOverJitter({ seed: 1, seconds: 300, loopback: true, wholeMs: true, onSend: () => unwidened++ });
    expect(unwidened).toBeGreaterThan(3 * scheduled(300));
  });
});

// A tab that serves no site syncs rarely (P2PNode: every sample is a frame the admin wakes for);
// the one picked to serve starts a round at once and the quick rounds again.
describe('clock sync paced by the host', () => {
  const live: ClockFilterOptions = { adminResolution: LIVE_CLOCK_RESOLUTION.admin, localResolution: LIVE_CLOCK_RESOLUTION.local };
  const idle = { resyncEvery: 120_000, firstResync: 120_000 };
  const serving = { every: 30_000, first: 1000, now: true };

  it('idle: a round at 0, then every 120 s; paced to serve: a round at once, then 1, 2, 4, 8, 16, 30 s; idle again: gaps back to 120 s', () => {
    const sent: number[] = [];
    syncOverJitter({
      seed: 3, seconds: 600, loopback: true, wholeMs: true, clock: { ...live, ...idle }, probeEvery: 1000, onSend: (t) => sent.push(t),
      onProbe: (c, t) => {
        if (t === 200_000) c.pace(serving);
        if (t === 300_000) c.pace({ every: 120_000 });
      },
    });
    // A round is 8 samples 50 ms apart; each gap counts from the end of the previous round.
    expect(sent.length % 8).toBe(0);
    const starts = sent.filter((_, i) => i % 8 === 0);
    expect(starts[2]).toBe(200_000);
    const gaps = starts.slice(1).map((t, i) => Math.round((t - (starts[i] as number) - 350) / 100) / 10);
    expect(gaps).toEqual([120, 79.3, 1, 2, 4, 8, 16, 30, 30, 30, 120, 120]);
  });

  it('idle for minutes with the local clock 50 ppm fast, then paced to serve: within 2 ms from 1 s later, over 20 tabs on the jittered link', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const errs = syncOverJitter({
        seed, seconds: 260, driftPpm: 50, wholeMs: true, clock: { ...live, ...idle }, probeEvery: 1000,
        onProbe: (c, t) => void (t === 230_000 && c.pace(serving)),
      });
      // Before: the last round was 110 s ago, the clocks drifted apart by about 5.5 ms since.
      expect(Math.abs(errs[228] ?? NaN)).toBeGreaterThan(2);
      expect(Math.max(...errs.slice(230).map(Math.abs))).toBeLessThanOrEqual(2);
    }
  });
});
