/**
 * Shapes the admin's P2P site modules share (site.ts, reads.ts, fallback.ts, lifecycle.ts, the
 * game): kept here so that none of them imports another only for a type (no import cycle).
 */
import type { CoordinatorRecord } from '../../src/protocol/api.js';
import type { SiteSnapshot } from '../../src/game/types.js';

export interface VerifiedSite {
  seq: number;
  snapshot: SiteSnapshot;
  /** Highest action number applied per user (users continue above it). */
  lastActionNo: Map<string, number>;
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
