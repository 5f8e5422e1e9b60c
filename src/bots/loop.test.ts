import { describe, expect, it } from 'vitest';
import { LoopMonitor, PROBE_MS } from './loop.js';
import { LATE_CAP, Recorder } from './tally.js';

const block = (ms: number): void => {
  const t = performance.now();
  while (performance.now() - t < ms);
};
const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LoopMonitor', () => {
  it('sees a blocked loop: utilisation near 1 and the probe late by the block', async () => {
    const m = new LoopMonitor();
    try {
      await tick(5 * PROBE_MS);
      const idle = m.sample();
      expect(idle.elu).toBeLessThan(0.9);
      block(300);
      await tick(2 * PROBE_MS);
      const busy = m.sample();
      expect(busy.elu).toBeGreaterThan(0.6);
      expect(busy.delayMaxMs).toBeGreaterThan(250);
      expect(busy.delayP99Ms).toBeGreaterThan(250);
      expect(busy.cpuMs).toBeGreaterThan(0); // CPU, not wall: the machine is shared
      expect(busy.seconds).toBeGreaterThan(0.3);
      // Blocked 300 ms: the main thread was on a core or waiting for one all that time (Linux). The
      // kernel's per-thread counters lag on a loaded machine (244 ms seen at load 8): most of it, not all.
      if (Number.isFinite(busy.mainCpuMs)) expect(busy.mainCpuMs + busy.runQueueWaitMs).toBeGreaterThan(200);
    } finally {
      m.stop();
    }
  });
});

describe('Recorder late actions', () => {
  it('counts every action by site and keeps those over the bound, capped', () => {
    const rec = new Recorder(() => 0);
    const where = (site: string) => ({ site, lateMs: 200, serving: false, at: 1000 });
    rec.delay('p2p', 150, where('meadow'));
    rec.delay('p2p', 200, where('meadow'));
    rec.delay('p2p', 201, where('meadow'));
    rec.delay('cs', 900, { ...where('town'), serving: true });
    rec.delay('p2p', 999); // no site: the delay only
    const t = rec.flush();
    expect(t.delay.p2p.n).toBe(4);
    expect(t.bySite).toEqual({ meadow: { n: 3, late: 1, sum: 551, max: 201 }, town: { n: 1, late: 1, sum: 900, max: 900 } });
    expect(t.late).toEqual([
      { at: 1000, site: 'meadow', mode: 'p2p', ms: 201, serving: false },
      { at: 1000, site: 'town', mode: 'cs', ms: 900, serving: true },
    ]);
    for (let i = 0; i < LATE_CAP + 10; i++) rec.delay('p2p', 500, where('lake'));
    const u = rec.flush();
    expect(u.late).toHaveLength(LATE_CAP);
    expect(u.bySite.lake?.late).toBe(LATE_CAP + 10);
  });
});
