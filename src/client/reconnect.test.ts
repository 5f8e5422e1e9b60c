import { describe, expect, it } from 'vitest';
import { RECONNECT_FOR_MS, reconnectDelay } from './reconnect.js';

describe('reconnectDelay', () => {
  it('backs off linearly up to a cap', () => {
    expect([1, 2, 3, 6, 7, 50].map((n) => reconnectDelay(n, 0))).toEqual([800, 1600, 2400, 4800, 5000, 5000]);
  });

  it('keeps trying through a server restart of several seconds, then gives up', () => {
    // Attempts spaced as the app spaces them: the sum of the delays so far is the time since the drop.
    let since = 0;
    let attempts = 0;
    for (let n = 1; ; n++) {
      const d = reconnectDelay(n, since);
      if (d === null) break;
      since += d;
      attempts = n;
    }
    expect(attempts).toBeGreaterThan(10);
    expect(since).toBe(RECONNECT_FOR_MS);
    expect(reconnectDelay(1, RECONNECT_FOR_MS)).toBeNull();
  });
});
