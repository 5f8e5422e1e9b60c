/**
 * Shapes the admin's P2P site modules share (site.ts, reads.ts, fallback.ts, lifecycle.ts, the
 * game): kept here so that none of them imports another only for a type (no import cycle).
 */
import type { CoordinatorRecord } from '../../src/protocol/api.js';
import type { SiteSnapshot, UserState } from '../../src/game/types.js';

export interface VerifiedSite {
  seq: number;
  snapshot: SiteSnapshot;
  /** Highest action number applied per user (users continue above it). */
  lastActionNo: Map<string, number>;
  /** The admin's system actions the state has applied (its applied set's floor and numbers above it). */
  systemApplied?: { floor: number; nos: number[] };
  /** A hand-back's cut: users on the site whose join it has not applied, as they joined (joinOrders.ts). */
  joinsNotApplied?: UserState[];
}

export interface HandOver {
  snapshot: SiteSnapshot;
  seq: number;
  prev: string;
  lastActionNo: Array<[string, number]>;
}

/** A site taken up again from storage after the admin restarted. */
export interface ResumedFrom {
  coordinator: CoordinatorRecord;
  holders: string[];
  /** Its stored fallback state (site row and its users' rows). */
  base: VerifiedSite;
}
