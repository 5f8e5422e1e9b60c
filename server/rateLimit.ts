/**
 * Rate limits of the admin: the token buckets of src/protocol/budget.ts (shared with the Site
 * Servers) and the per-connection frame counter.
 */
export { KeyedRateLimiter, TokenBucket, type RateSpec } from '../src/protocol/budget.js';

/** Counts events in fixed one-second windows; for the per-connection frame cap. */
export class WindowCounter {
  private windowStart = -Infinity;
  private count = 0;

  /** Counts one event; returns the count in the current window including it. */
  hit(now: number): number {
    if (now - this.windowStart >= 1000 || now < this.windowStart) {
      this.windowStart = now;
      this.count = 0;
    }
    return ++this.count;
  }
}
