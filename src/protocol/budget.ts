/**
 * Budgets of peers and players: token buckets, `perSecond` tokens refill up to `burst`. One
 * bucket per key (user name, peer id or IP), so reconnecting does not refill a user's bucket.
 * The admin (client-server sites, signaling) and the Site Servers (P2P sites) hold users to the
 * same action budget with these: one rule, one place. Pure: time is passed in.
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

  /** Takes `cost` tokens; false when there are not enough (the caller drops the request). */
  take(now: number, cost = 1): boolean {
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
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

  take(key: string, now: number, cost = 1): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      b = new TokenBucket(this.spec, now);
      this.buckets.set(key, b);
    }
    return b.take(now, cost);
  }

  /** Forgets full buckets, so the map does not grow with every key ever seen. */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.isFull(now)) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** Player actions per user, on the admin's WebSocket and at every Site Server alike. */
export const ACTION_BUDGET: RateSpec = { perSecond: 20, burst: 40 };

/**
 * What one peer may ask a Site Server for (hashes, updates, records, states), in tokens: a user
 * catching up asks for at most 32 updates every 2 T_timeslot; a whole state costs STATE_COST.
 */
export const REQUEST_BUDGET: RateSpec = { perSecond: 200, burst: 400 };
/** Tokens a state request costs: at most two whole states a second, four in a burst. */
export const STATE_COST = 100;
/** Tokens a record request costs (the hand-over it may answer with carries the site's snapshot). */
export const RECORD_COST = 20;
