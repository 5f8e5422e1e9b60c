import { describe, expect, it } from 'vitest';
import { bestSample, createClockSync, sampleOffset, sampleRoundTrip } from './clock.js';

describe('clock sync math', () => {
  it('offset = ((t1 - t0) + (t2 - t3)) / 2, round trip excludes the admin time', () => {
    const s = { t0: 100, t1: 1150, t2: 1160, t3: 130 };
    expect(sampleOffset(s)).toBe((1050 + 1030) / 2);
    expect(sampleRoundTrip(s)).toBe(20);
    expect(bestSample([s, { t0: 0, t1: 1010, t2: 1010, t3: 8 }])).toEqual({
      t0: 0,
      t1: 1010,
      t2: 1010,
      t3: 8,
    });
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

  it('keeps the lowest round trip sample; error at most half of it', () => {
    const { c } = run({ offset: 5000, delays: [40, 2, 30, 25] });
    expect(c.roundTrip()).toBe(8);
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

  it('a round nobody answered is tried again after retryEvery, an answered one after resyncEvery', () => {
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
    const answeredAt = local;
    expect(sendsUntil(1) - answeredAt).toBe(30_000);
  });
});
