import { describe, expect, it } from 'vitest';
import { quantile, Reservoir } from './stats.js';
import { addSample, FLUSH_CAP, type Stream } from './tally.js';

describe('bot run figures', () => {
  it('reads percentiles by nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, k) => k + 1);
    expect(quantile(v, 0.5)).toBe(50);
    expect(quantile(v, 0.99)).toBe(99);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([], 0.5)).toBeNull();
  });

  it('is exact while under capacity, bounded and uniform beyond it', () => {
    const r = new Reservoir(1000);
    for (let k = 1; k <= 1000; k++) r.add(k);
    expect(r.summary()).toEqual({ count: 1000, mean: 500.5, p50: 500, p99: 990, max: 1000 });
    for (let k = 1001; k <= 100_000; k++) r.add(k);
    const s = r.summary();
    expect(r.values()).toHaveLength(1000);
    expect(s.count).toBe(100_000);
    expect(s.max).toBe(100_000);
    // A uniform sample of 1..100000: its median near 50000 (sd of the estimate ~1600).
    expect(Math.abs((s.p50 ?? 0) - 50_000)).toBeLessThan(8000);
  });

  it('weighs a subsampled second by what it measured', () => {
    // One second of 10000 slow values (kept as FLUSH_CAP of them), then 2000 fast ones.
    const slow: Stream = { n: 0, sum: 0, max: -Infinity, sample: [] };
    for (let k = 0; k < 10_000; k++) addSample(slow, 500);
    expect(slow.sample).toHaveLength(FLUSH_CAP);
    const fast: Stream = { n: 0, sum: 0, max: -Infinity, sample: [] };
    for (let k = 0; k < 2000; k++) addSample(fast, 10);
    const r = new Reservoir(400);
    r.addStream(slow);
    r.addStream(fast);
    expect(r.count).toBe(12_000);
    expect(r.sum).toBe(10_000 * 500 + 2000 * 10);
    // 10000 of 12000 values are slow: the median too (unweighted it would be 2000 of 4000).
    const kept = r.values();
    const share = kept.filter((v) => v === 500).length / kept.length;
    expect(share).toBeGreaterThan(0.75);
    expect(r.summary().p50).toBe(500);
  });
});
