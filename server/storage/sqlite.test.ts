import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSite, newUser } from '../../src/game/index.js';
import { SqliteStorage } from './sqlite.js';
import type { AccountRecord, Storage, StoredP2PSite } from './types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmo-storage-'));
  dirs.push(dir);
  // A nested directory that does not exist yet: the storage creates it.
  return join(dir, 'nested', 'deeper', 'mmo.db');
}

const account: AccountRecord = {
  name: 'Alice',
  salt: 'ab'.repeat(16),
  hash: 'cd'.repeat(32),
  params: { N: 1024, r: 8, p: 1, keylen: 32 },
  created: 1000,
};

function exercise(store: Storage): void {
  expect(store.createAccount(account)).toBe(true);
  expect(store.createAccount({ ...account, name: 'alice' })).toBe(false);
  expect(store.getAccount('ALICE')).toEqual(account);
  expect(store.getAccount('bob')).toBeUndefined();
  expect(store.isNameUsed('alice')).toBe(true);
  expect(store.isNameUsed('guest-1234')).toBe(false);

  store.putSession({ tokenHash: 'h1', user: 'Alice', guest: false, expiresAt: 5000 });
  store.putSession({ tokenHash: 'h2', user: 'guest-1234', guest: true, expiresAt: 100 });
  expect(store.getSession('h1')).toEqual({ tokenHash: 'h1', user: 'Alice', guest: false, expiresAt: 5000 });
  expect(store.isNameUsed('guest-1234')).toBe(true);

  const site = createSite('meadow').site;
  const user = { ...newUser('Alice', 'town'), x: 3, y: 4, inventory: [{ id: 'meadow-1', kind: 'flower' }] };
  const guestState = newUser('guest-1234', 'lake');
  store.saveBatch(
    {
      users: [
        { name: 'Alice', guest: false, state: user, lastActionNo: 17 },
        { name: 'guest-1234', guest: true, state: guestState, lastActionNo: 2 },
      ],
      sites: [site],
    },
    2000,
  );
  expect(store.getUser('Alice')).toEqual({ state: user, guest: false, lastActionNo: 17 });
  expect(store.getUser('guest-1234')).toEqual({ state: guestState, guest: true, lastActionNo: 2 });
  expect(store.getSite('meadow')).toEqual(site);
  expect(store.getSite('town')).toBeUndefined();

  // Saving again overwrites.
  const moved = { ...user, x: 5 };
  store.saveBatch(
    { users: [{ name: 'Alice', guest: false, state: moved, lastActionNo: 18 }], sites: [] },
    3000,
  );
  expect(store.getUser('Alice')?.state.x).toBe(5);

  // Purging drops expired sessions and the state of guests left without one, never accounts' states.
  expect(store.purgeExpired(1000)).toBe(1);
  expect(store.getSession('h2')).toBeUndefined();
  expect(store.getUser('guest-1234')).toBeUndefined();
  expect(store.getUser('Alice')).toBeDefined();
  expect(store.getSession('h1')).toBeDefined();

  store.deleteSession('h1');
  expect(store.getSession('h1')).toBeUndefined();
  store.deleteUser('Alice');
  expect(store.getUser('Alice')).toBeUndefined();
}

describe('SqliteStorage', () => {
  it('round-trips everything in memory', () => {
    const store = new SqliteStorage(':memory:');
    exercise(store);
    store.close();
  });

  it('round-trips everything in a file, and keeps it after reopening', () => {
    const file = tempFile();
    const a = new SqliteStorage(file);
    const site = createSite('cave').site;
    const user = newUser('carol', 'cave');
    a.createAccount({ ...account, name: 'carol' });
    a.saveBatch({ users: [{ name: 'carol', guest: false, state: user, lastActionNo: 3 }], sites: [site] }, 1);
    a.putSession({ tokenHash: 'tok', user: 'carol', guest: false, expiresAt: 99_999 });
    a.close();

    const b = new SqliteStorage(file);
    expect(b.getAccount('carol')?.name).toBe('carol');
    expect(b.getUser('carol')).toEqual({ state: user, guest: false, lastActionNo: 3 });
    expect(b.getSite('cave')).toEqual(site);
    expect(b.getSession('tok')?.user).toBe('carol');
    exercise(b);
    b.close();
    b.close(); // idempotent
  });

  it('uses WAL mode', () => {
    const file = tempFile();
    new SqliteStorage(file).close();
    const db = new Database(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('syncs every commit (synchronous = FULL) unless told NORMAL', () => {
    // synchronous is per connection: read through the storage's own.
    const level = (s: SqliteStorage): unknown => (s as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });
    const full = new SqliteStorage(tempFile());
    const normal = new SqliteStorage(tempFile(), { synchronous: 'NORMAL' });
    expect([level(full), level(normal)]).toEqual([2, 1]);
    full.close();
    normal.close();
  });

  it('ignores rows that are not valid JSON or not the expected shape', () => {
    const file = tempFile();
    new SqliteStorage(file).close();
    const db = new Database(file);
    db.prepare("INSERT INTO user_states VALUES ('bad', 0, '{not json', 0, 0)").run();
    db.prepare(`INSERT INTO user_states VALUES ('odd', 0, '{"name":"odd","x":"1"}', 0, 0)`).run();
    db.prepare("INSERT INTO site_states VALUES ('meadow', '[]', 0)").run();
    db.prepare(
      `INSERT INTO site_states VALUES ('town', '${JSON.stringify(createSite('lake').site)}', 0)`,
    ).run();
    db.close();
    const store = new SqliteStorage(file);
    expect(store.getUser('bad')).toBeUndefined();
    expect(store.getUser('odd')).toBeUndefined();
    expect(store.getSite('meadow')).toBeUndefined();
    // A row filed under the wrong site id is not trusted either.
    expect(store.getSite('town')).toBeUndefined();
    store.close();
  });

  it('keeps P2P site records across reopening, replaces and deletes them, and skips malformed ones', () => {
    const file = tempFile();
    const rec: StoredP2PSite = {
      site: 'meadow',
      coordinator: { membership: { epoch: 3 }, sysNo: 7, banned: ['x'], ignores: [['s1', 2]], evicted: [], done: [[12, 'ab']] },
      users: ['alice'],
      holders: ['s0', 's1', 's2'],
      baseSeq: 10,
    };
    let store = new SqliteStorage(file);
    store.putP2PSite(rec, 1);
    store.putP2PSite({ ...rec, site: 'town' }, 1);
    store.putP2PSite({ ...rec, coordinator: { ...rec.coordinator, sysNo: 8 } }, 2);
    store.close();
    const db = new Database(file);
    db.prepare(`INSERT INTO p2p_sites VALUES ('cave', '{"site":"cave"}', 0)`).run();
    db.prepare(`INSERT INTO p2p_sites VALUES ('lake', '${JSON.stringify({ ...rec, site: 'ruins' })}', 0)`).run();
    db.close();
    store = new SqliteStorage(file);
    expect(store.p2pSites()).toEqual([{ ...rec, coordinator: { ...rec.coordinator, sysNo: 8 } }, { ...rec, site: 'town' }]);
    store.deleteP2PSite('meadow');
    expect(store.p2pSites().map((r) => r.site)).toEqual(['town']);
    store.close();
  });

  it('saves a batch atomically: a failing row rolls back the whole batch', () => {
    const store = new SqliteStorage(':memory:');
    const site = createSite('meadow').site;
    const bad = { name: 'x', guest: false, state: newUser('x', 'meadow'), lastActionNo: Number.NaN };
    expect(() =>
      store.saveBatch(
        {
          users: [
            { name: 'ok', guest: false, state: newUser('ok', 'meadow'), lastActionNo: 1 },
            { ...bad, name: null as unknown as string },
          ],
          sites: [site],
        },
        1,
      ),
    ).toThrow();
    expect(store.getUser('ok')).toBeUndefined();
    expect(store.getSite('meadow')).toBeUndefined();
    store.close();
  });

  it("deletes a batch's forgotten users in its transaction: a failing row keeps them", () => {
    const store = new SqliteStorage(':memory:');
    const row = (name: string, n = 1) => ({ name, guest: true, state: newUser(name, 'meadow'), lastActionNo: n });
    store.saveBatch({ users: [row('gone'), row('kept')], sites: [] }, 1);
    expect(() => store.saveBatch({ users: [{ ...row('x'), lastActionNo: Number.NaN }], sites: [], forget: ['gone'] }, 2)).toThrow();
    expect(store.getUser('gone')).toBeDefined();
    store.saveBatch({ users: [row('kept', 2)], sites: [], forget: ['gone'] }, 3);
    expect(store.getUser('gone')).toBeUndefined();
    expect(store.getUser('kept')?.lastActionNo).toBe(2);
    store.close();
  });

  it("deletes a state left under an account's name as it creates the account, in one transaction", () => {
    const store = new SqliteStorage(':memory:');
    store.saveBatch({ users: [{ name: 'dora', guest: true, state: newUser('dora', 'lake'), lastActionNo: 4 }], sites: [] }, 1);
    expect(store.createAccount({ ...account, name: 'Dora' })).toBe(true);
    expect(store.getUser('dora')).toBeUndefined();
    // Refused (the name exists): nothing else changes.
    store.saveBatch({ users: [{ name: 'Dora', guest: false, state: newUser('Dora', 'lake'), lastActionNo: 5 }], sites: [] }, 2);
    expect(store.createAccount({ ...account, name: 'DORA' })).toBe(false);
    expect(store.getUser('Dora')?.lastActionNo).toBe(5);
    store.close();
  });
});
