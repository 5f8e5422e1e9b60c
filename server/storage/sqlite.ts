/**
 * Storage in one SQLite file (better-sqlite3): WAL so the periodic save does not block readers,
 * prepared statements only, batch saves in one transaction.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SiteState } from '../../src/game/types.js';
import { p2pSiteSchema, readJson, scryptParamsSchema, siteStateSchema, userStateSchema } from './shapes.js';
import type { AccountRecord, SaveBatch, SessionRecord, Storage, StoredP2PSite, StoredUser } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  name TEXT PRIMARY KEY COLLATE NOCASE,
  salt TEXT NOT NULL,
  hash TEXT NOT NULL,
  params TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  token_hash TEXT PRIMARY KEY,
  user TEXT NOT NULL COLLATE NOCASE,
  guest INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user);
CREATE TABLE IF NOT EXISTS user_states (
  name TEXT PRIMARY KEY COLLATE NOCASE,
  guest INTEGER NOT NULL,
  state TEXT NOT NULL,
  last_action_no INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS site_states (
  site TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS p2p_sites (
  site TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

export type Synchronous = 'NORMAL' | 'FULL';
/**
 * WAL + FULL: each commit is on disk when the call returns, so before any message its step sends
 * (a P2P site's servers then never run ahead of its record, even after a power cut). NORMAL
 * loses nothing on a kill -9 but may lose the last transactions on a power cut; FULL costs a
 * sync per transaction (docs/hosting.md "After a crash", sim/FINDINGS.md 42; syncCost.ts).
 */
export const SYNCHRONOUS: Synchronous = 'FULL';

interface AccountRow {
  name: string;
  salt: string;
  hash: string;
  params: string;
  created: number;
}
interface SessionRow {
  token_hash: string;
  user: string;
  guest: number;
  expires_at: number;
}
interface UserRow {
  guest: number;
  state: string;
  last_action_no: number;
}

export class SqliteStorage implements Storage {
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly saveTx: (batch: SaveBatch, now: number) => void;
  private readonly purgeTx: (before: number) => number;
  private readonly createTx: (a: AccountRecord) => boolean;

  /**
   * `file` is a path (its directory is created) or ':memory:'. `synchronous`: SQLite's setting
   * (docs/hosting.md "After a crash"; syncCost.ts measures both).
   */
  constructor(file: string, opts: { synchronous?: Synchronous } = {}) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous ?? SYNCHRONOUS}`);
    this.db.pragma('busy_timeout = 2000');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmt = {
      getAccount: db.prepare<[string], AccountRow>(
        'SELECT name, salt, hash, params, created FROM accounts WHERE name = ?',
      ),
      insertAccount: db.prepare(
        'INSERT OR IGNORE INTO accounts (name, salt, hash, params, created) VALUES (@name, @salt, @hash, @params, @created)',
      ),
      nameUsed: db.prepare<[string, string, string], { one: number }>(
        `SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM accounts WHERE name = ?)
           OR EXISTS (SELECT 1 FROM user_states WHERE name = ?)
           OR EXISTS (SELECT 1 FROM sessions WHERE user = ?)`,
      ),
      liveSession: db.prepare<[string, number], { one: number }>(
        'SELECT 1 AS one FROM sessions WHERE user = ? AND expires_at > ? LIMIT 1',
      ),
      putSession: db.prepare(
        'INSERT OR REPLACE INTO sessions (token_hash, user, guest, expires_at) VALUES (@token_hash, @user, @guest, @expires_at)',
      ),
      getSession: db.prepare<[string], SessionRow>(
        'SELECT token_hash, user, guest, expires_at FROM sessions WHERE token_hash = ?',
      ),
      deleteSession: db.prepare('DELETE FROM sessions WHERE token_hash = ?'),
      purgeSessions: db.prepare('DELETE FROM sessions WHERE expires_at < ?'),
      purgeGuests: db.prepare(
        'DELETE FROM user_states WHERE guest = 1 AND name NOT IN (SELECT user FROM sessions)',
      ),
      getUser: db.prepare<[string], UserRow>(
        'SELECT guest, state, last_action_no FROM user_states WHERE name = ?',
      ),
      deleteUser: db.prepare('DELETE FROM user_states WHERE name = ?'),
      putUser: db.prepare(
        `INSERT INTO user_states (name, guest, state, last_action_no, updated) VALUES (@name, @guest, @state, @last, @updated)
         ON CONFLICT(name) DO UPDATE SET guest = excluded.guest, state = excluded.state,
           last_action_no = excluded.last_action_no, updated = excluded.updated`,
      ),
      putP2P: db.prepare(
        `INSERT INTO p2p_sites (site, record, updated) VALUES (@site, @record, @updated)
         ON CONFLICT(site) DO UPDATE SET record = excluded.record, updated = excluded.updated`,
      ),
      deleteP2P: db.prepare('DELETE FROM p2p_sites WHERE site = ?'),
      allP2P: db.prepare<[], { site: string; record: string }>('SELECT site, record FROM p2p_sites ORDER BY site'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      putMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      getSite: db.prepare<[string], { state: string }>('SELECT state FROM site_states WHERE site = ?'),
      putSite: db.prepare(
        `INSERT INTO site_states (site, state, updated) VALUES (@site, @state, @updated)
         ON CONFLICT(site) DO UPDATE SET state = excluded.state, updated = excluded.updated`,
      ),
    };
    this.saveTx = db.transaction((batch: SaveBatch, now: number) => {
      for (const name of batch.forget ?? []) this.stmt.deleteUser.run(name);
      for (const site of batch.dropRecords ?? []) this.stmt.deleteP2P.run(site);
      for (const u of batch.users) {
        this.stmt.putUser.run({
          name: u.name,
          guest: u.guest ? 1 : 0,
          state: JSON.stringify(u.state),
          last: u.lastActionNo,
          updated: now,
        });
      }
      for (const s of batch.sites)
        this.stmt.putSite.run({ site: s.site, state: JSON.stringify(s), updated: now });
    });
    // A state left under the name (an ended guest's) goes with the account's creation: written
    // apart, a crash between the two started the account with that guest's bag.
    this.createTx = db.transaction((a: AccountRecord) => {
      const r = this.stmt.insertAccount.run({
        name: a.name,
        salt: a.salt,
        hash: a.hash,
        params: JSON.stringify(a.params),
        created: a.created,
      });
      if (r.changes !== 1) return false;
      this.stmt.deleteUser.run(a.name);
      return true;
    });
    this.purgeTx = db.transaction((before: number) => {
      const n = this.stmt.purgeSessions.run(before).changes;
      this.stmt.purgeGuests.run();
      return n;
    });
  }

  getAccount(name: string): AccountRecord | undefined {
    const row = this.stmt.getAccount.get(name);
    if (!row) return undefined;
    const params = readJson(row.params, scryptParamsSchema);
    if (!params) return undefined;
    return { name: row.name, salt: row.salt, hash: row.hash, params, created: row.created };
  }

  createAccount(a: AccountRecord): boolean {
    return this.createTx(a);
  }

  isNameUsed(name: string): boolean {
    return this.stmt.nameUsed.get(name, name, name) !== undefined;
  }

  hasLiveSession(name: string, now: number): boolean {
    return this.stmt.liveSession.get(name, now) !== undefined;
  }

  putSession(s: SessionRecord): void {
    this.stmt.putSession.run({
      token_hash: s.tokenHash,
      user: s.user,
      guest: s.guest ? 1 : 0,
      expires_at: s.expiresAt,
    });
  }

  getSession(tokenHash: string): SessionRecord | undefined {
    const row = this.stmt.getSession.get(tokenHash);
    return row
      ? { tokenHash: row.token_hash, user: row.user, guest: row.guest === 1, expiresAt: row.expires_at }
      : undefined;
  }

  deleteSession(tokenHash: string): void {
    this.stmt.deleteSession.run(tokenHash);
  }

  purgeExpired(before: number): number {
    return this.purgeTx(before);
  }

  getUser(name: string): StoredUser | undefined {
    const row = this.stmt.getUser.get(name);
    if (!row) return undefined;
    const state = readJson(row.state, userStateSchema);
    if (!state) return undefined;
    return { state, guest: row.guest === 1, lastActionNo: row.last_action_no };
  }

  deleteUser(name: string): void {
    this.stmt.deleteUser.run(name);
  }

  getSite(siteId: string): SiteState | undefined {
    const row = this.stmt.getSite.get(siteId);
    if (!row) return undefined;
    const state = readJson(row.state, siteStateSchema);
    return state && state.site === siteId ? state : undefined;
  }

  saveBatch(batch: SaveBatch, now: number): void {
    this.saveTx(batch, now);
  }

  putP2PSite(record: StoredP2PSite, now: number): void {
    this.stmt.putP2P.run({ site: record.site, record: JSON.stringify(record), updated: now });
  }

  deleteP2PSite(site: string): void {
    this.stmt.deleteP2P.run(site);
  }

  p2pSites(): StoredP2PSite[] {
    const out: StoredP2PSite[] = [];
    for (const row of this.stmt.allP2P.all()) {
      const r = readJson(row.record, p2pSiteSchema);
      if (r && r.site === row.site) out.push(r);
    }
    return out;
  }

  getMeta(key: string): string | undefined {
    return this.stmt.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmt.putMeta.run(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
