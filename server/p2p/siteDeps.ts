/**
 * What the admin gives one P2P site (site.ts): its settings and keys, time, sending to its peers'
 * tabs, candidates for a slot, and where its findings go (the game, the suspect book, storage).
 * The manager builds it (manager.ts `siteDeps`); site tests build their own (siteHarness.ts).
 */
import type { PeerMessage } from '../../src/protocol/messages.js';
import type { CoordinatorServer, CoreEvent } from '../../src/protocol/api.js';
import type { SiteConfig } from '../../src/protocol/config.js';
import type { SignatureScheme } from '../../src/protocol/crypto.js';
import type { UserState } from '../../src/game/types.js';
import type { Logger } from '../log.js';
import type { StoredP2PSite } from '../storage/types.js';
import type { ServingDeps } from './serving.js';
import type { VerifiedSite } from './types.js';
import type { SiteLifecycle } from './lifecycle.js';
import type { Transit } from './transit.js';

export interface SiteDeps extends ServingDeps {
  config: SiteConfig;
  secretKey: string;
  crypto: SignatureScheme;
  random: () => number;
  log: Logger;
  /** Delivers a peer message to a server id or a user name (over that tab's admin WebSocket). */
  deliver(to: string, msg: PeerMessage): void;
  candidates(): CoordinatorServer[];
  /** A user left the site (portal or logout) as the majority applied it. */
  onLeft(user: UserState, via: 'portal' | 'logout', seq: number): void;
  /** A majority-verified copy of the site (to store). */
  onVerified(state: VerifiedSite): void;
  /** The hand-back finished: the site as of the cut. */
  onClosed(state: VerifiedSite): void;
  /** The admin's own tally put a server in the minority (about a state or an update). */
  onMinority(serverId: string, what: string): void;
  /** Every flag about a server: a user's report (a claim) or the admin's own finding (suspects.ts). */
  onFlag?(e: Extract<CoreEvent, { kind: 'flagged' }>): void;
  /** A server proved to have signed two Timeslots for one seq (already evicted by the coordinator). */
  onEquivocation?(serverId: string, seq: number): void;
  /** The admin's own probe: the server's tab is heard from over its WebSocket (unreachable.ts). */
  answers?(serverId: string): boolean;
  /** How often to take a verified copy. */
  saveEveryMs: number;
  /** A state fetch without a majority answer this long: the site lost its majority (default LOST_AFTER_MS). */
  lostAfterMs?: number;
  /** The site's lifecycle at the admin (lifecycle.ts): this site moves it, from client-server or (resumed) from storage. */
  life: SiteLifecycle;
  /** Users in transit (transit.ts): departures during a hand-back are held there until the cut. */
  transit: Transit;
  /** Keeps what a restarted admin needs to go on; null once the site is back at the admin. */
  persist?: (record: StoredP2PSite | null) => void;
  /** After a restart: how long to wait for servers and users to reconnect (default RESUME_GRACE_MS). */
  resumeGraceMs?: number;
  /** What this site's `nextWakeAt` is may have changed: its driver looks again (the hosts' Driver.poke). */
  wake(): void;
  /**
   * Runs `fn` once the current input is handled: the coordinator's sends and a fetch's result never
   * re-enter the caller (queueMicrotask on the admin; a simulator runs them in its own order).
   */
  defer(fn: () => void): void;
}
