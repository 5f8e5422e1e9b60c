/**
 * What the Administration Server keeps across restarts. The interface is synchronous because the
 * one implementation (SQLite via better-sqlite3) is, and because a synchronous save cannot interleave
 * with game steps on the event loop.
 */
import type { SiteState, UserState } from '../../src/game/types.js';
import type { CoordinatorRecord } from '../../src/protocol/api.js';

/** scrypt cost parameters, stored per account so they can be raised later without breaking old hashes. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keylen: number;
}

export interface AccountRecord {
  /** Canonical spelling; lookups are case-insensitive so "Alice" cannot impersonate "alice". */
  name: string;
  /** Hex. */
  salt: string;
  /** Hex. */
  hash: string;
  params: ScryptParams;
  created: number;
}

export interface SessionRecord {
  /** SHA-256 of the bearer token (hex): a leaked database does not hand out live sessions. */
  tokenHash: string;
  user: string;
  guest: boolean;
  expiresAt: number;
}

export interface StoredUser {
  state: UserState;
  guest: boolean;
  /** Highest action number applied for this user, so replays are refused across reconnects and restarts. */
  lastActionNo: number;
}

export interface SaveBatch {
  users: ReadonlyArray<{ name: string } & StoredUser>;
  sites: readonly SiteState[];
  /** Users whose rows go (a guest that logged out), in the same transaction. */
  forget?: readonly string[];
  /** P2P sites back at the admin: their records go in the same transaction as the world that has them client-server. */
  dropRecords?: readonly string[];
}

/**
 * A site its Site Servers host, as the admin needs it to go on after a restart (its fallback
 * state is the site's row and its users' rows, stored with every world save).
 */
export interface StoredP2PSite {
  site: string;
  /** The coordinator's record; `membership` and `resend` are checked (shape, admin signature) before use. */
  coordinator: Omit<CoordinatorRecord, 'membership' | 'resend'> & { membership: unknown; resend?: unknown };
  /** Users of the site (its servers hold their states). */
  users: string[];
  /** Servers known to hold the site's state (a lost site counts them). */
  holders: string[];
  /** Update the stored fallback state is at. */
  baseSeq: number;
}

export interface Storage {
  getAccount(name: string): AccountRecord | undefined;
  /**
   * False when the name (case-insensitively) exists already. A state stored under the name (an
   * ended guest's) is deleted in the same transaction: the account starts fresh.
   */
  createAccount(account: AccountRecord): boolean;
  /** Whether any account, session or stored state uses this name; for picking fresh guest names. */
  isNameUsed(name: string): boolean;

  /** Whether a session of `name` (case-insensitively) is still valid at `now`. */
  hasLiveSession(name: string, now: number): boolean;
  putSession(session: SessionRecord): void;
  getSession(tokenHash: string): SessionRecord | undefined;
  deleteSession(tokenHash: string): void;
  /**
   * Deletes sessions that expired before `before`, then the stored states of guests left without
   * a session (guests are not accounts). Returns the number of sessions removed.
   */
  purgeExpired(before: number): number;

  getUser(name: string): StoredUser | undefined;
  deleteUser(name: string): void;
  getSite(siteId: string): SiteState | undefined;

  /**
   * Saves user and site states, and deletes the rows of `forget` and the records of
   * `dropRecords`, in one transaction: a crash never keeps an item both on the map and in a bag,
   * nor a row of one step beside the world of the step before.
   */
  saveBatch(batch: SaveBatch, now: number): void;

  /** P2P sites that go on across a restart: put on every change, deleted when the site is back. */
  putP2PSite(record: StoredP2PSite, now: number): void;
  deleteP2PSite(site: string): void;
  /** Records that fit the shape (others are skipped: those sites start client-server). */
  p2pSites(): StoredP2PSite[];

  /** Small settings of the server itself (e.g. its signing key, so peers keep trusting it across restarts). */
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  close(): void;
}
