import { describe, expect, it } from 'vitest';
import { KeyedRateLimiter, TokenBucket, WindowCounter } from './rateLimit.js';

describe('TokenBucket', () => {
  it('allows a burst, then refills at the rate', () => {
    const b = new TokenBucket({ perSecond: 10, burst: 3 }, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.take(50)).toBe(false); // half a token
    expect(b.take(100)).toBe(true);
    expect(b.take(100)).toBe(false);
    expect(b.isFull(10_000)).toBe(true);
  });

  it('does not mint tokens when the clock steps back', () => {
    const b = new TokenBucket({ perSecond: 10, burst: 1 }, 1000);
    expect(b.take(1000)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(1000)).toBe(false);
    expect(b.take(1100)).toBe(true);
  });
});

describe('KeyedRateLimiter', () => {
  it('keeps one bucket per key and forgets full ones', () => {
    const l = new KeyedRateLimiter({ perSecond: 1, burst: 1 });
    expect(l.take('a', 0)).toBe(true);
    expect(l.take('a', 0)).toBe(false);
    expect(l.take('b', 0)).toBe(true);
    expect(l.size).toBe(2);
    l.sweep(5000);
    expect(l.size).toBe(0);
  });
});

describe('WindowCounter', () => {
  it('counts per one-second window', () => {
    const w = new WindowCounter();
    expect([w.hit(0), w.hit(500), w.hit(999), w.hit(1000), w.hit(1001)]).toEqual([1, 2, 3, 1, 2]);
  });
});
