/**
 * Token buckets: `rate` tokens per second refill up to `burst`. One bucket per key (user name or
 * IP), so reconnecting does not refill a user's bucket.
 */
export interface RateSpec {
  perSecond: number;
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly spec: RateSpec,
    now: number,
  ) {
    this.tokens = spec.burst;
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty (the caller drops the request). */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True when refilled to the brim: the bucket carries no history and can be forgotten. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.spec.burst;
  }

  private refill(now: number): void {
    // A clock that steps back must not mint tokens.
    const dt = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.spec.burst, this.tokens + (dt * this.spec.perSecond) / 1000);
  }
}

export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly spec: RateSpec) {}

  take(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      b = new TokenBucket(this.spec, now);
      this.buckets.set(key, b);
    }
    return b.take(now);
  }

  /** Forgets full buckets, so the map does not grow with every key ever seen. */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.isFull(now)) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}

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
