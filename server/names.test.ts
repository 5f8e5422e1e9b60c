/**
 * Player names and protocol identities (issue 17, finding 1 and "Names"): no player may be called
 * like a fixed peer id (`admin`, any case), even from a database older than the rule; a guest's
 * name is held while its session lives and free again once it logged out or its session ended.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type SessionReply } from '../src/protocol/messages.js';
import { hashToken } from './accounts.js';
import { hashPassword } from './password.js';
import { SqliteStorage } from './storage/sqlite.js';
import { post, startServer, tempDir, TEST_SCRYPT, WsClient } from './testkit.js';

type Err = { error: string };

describe('protocol identities are not player names', () => {
  it('refuses admin in any case for guests and registration, and @admin as invalid', async () => {
    const s = await startServer();
    for (const name of ['admin', 'Admin', 'ADMIN']) {
      const g = await post<Err>(s.base, '/api/guest', { name });
      expect([g.status, g.body.error]).toEqual([400, 'ERR_NAME_RESERVED']);
      const r = await post<Err>(s.base, '/api/register', { name, password: 'secret-pass' });
      expect([r.status, r.body.error]).toEqual([400, 'ERR_NAME_RESERVED']);
    }
    expect((await post<Err>(s.base, '/api/guest', { name: '@admin' })).body.error).toBe('ERR_NAME_INVALID');
    // Names that only contain it are fine.
    expect((await post<SessionReply>(s.base, '/api/guest', { name: 'admins' })).status).toBe(200);
  });

  it('an account and a session named admin from an older database neither log in nor say hello', async () => {
    const dbFile = join(tempDir(), 'mmo.db');
    const old = new SqliteStorage(dbFile);
    old.createAccount({ name: 'Admin', ...(await hashPassword('secret-pass', TEST_SCRYPT)), created: 0 });
    old.putSession({ tokenHash: hashToken('ab'.repeat(32)), user: 'Admin', guest: false, expiresAt: Date.now() + 3_600_000 });
    old.close();
    const s = await startServer({ dbFile });
    const l = await post<Err>(s.base, '/api/login', { name: 'admin', password: 'secret-pass' });
    expect([l.status, l.body.error]).toEqual([403, 'ERR_NAME_RESERVED']);
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: 'ab'.repeat(32) });
    await c.waitError('ERR_NAME_RESERVED');
    expect((await c.waitClose()).code).toBe(1008);
    expect(c.all.some((m) => m.type === 'welcome')).toBe(false);
  });
});

describe('guest names', () => {
  it('are held while the session lives, free again after a logout', async () => {
    const s = await startServer();
    const first = await post<SessionReply>(s.base, '/api/guest', { name: 'Wanderer' });
    expect(first.status).toBe(200);
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: first.body.token });
    await c.waitType('enter');
    // Online, and with its session alive even once its tab is closed: taken.
    expect((await post<Err>(s.base, '/api/guest', { name: 'wanderer' })).body.error).toBe('ERR_NAME_TAKEN');
    c.send({ type: 'logout' });
    await c.waitType('bye');
    await c.waitClose();
    const again = await post<SessionReply>(s.base, '/api/guest', { name: 'Wanderer', site: 'lake' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ user: 'Wanderer', guest: true });
    // The new guest starts fresh where it chose.
    const c2 = await WsClient.open(s.wsUrl);
    c2.send({ type: 'hello', v: PROTOCOL_VERSION, token: again.body.token });
    expect((await c2.waitType('enter')).site).toBe('lake');
  });

  it('are free once the session has expired (not an hour later), for guests and registration', async () => {
    let t = 1_000_000;
    const s = await startServer({ now: () => t, sessionTtlMs: 60_000 });
    expect((await post(s.base, '/api/guest', { name: 'Drifter' })).status).toBe(200);
    expect((await post(s.base, '/api/guest', { name: 'Roamer' })).status).toBe(200);
    t += 30_000;
    expect((await post<Err>(s.base, '/api/guest', { name: 'Drifter' })).body.error).toBe('ERR_NAME_TAKEN');
    t += 30_001;
    expect((await post<SessionReply>(s.base, '/api/guest', { name: 'drifter' })).status).toBe(200);
    expect((await post<SessionReply>(s.base, '/api/register', { name: 'Roamer', password: 'secret-pass' })).status).toBe(200);
  });

  it('a guest still online after its session ended keeps its name', async () => {
    let t = 1_000_000;
    const s = await startServer({ now: () => t, sessionTtlMs: 60_000 });
    const first = await post<SessionReply>(s.base, '/api/guest', { name: 'Lingerer' });
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: first.body.token });
    await c.waitType('enter');
    t += 120_000;
    expect((await post<Err>(s.base, '/api/guest', { name: 'Lingerer' })).body.error).toBe('ERR_NAME_TAKEN');
  });
});
