/** Save and restore across a real restart: close the server, start a new one on the same database file. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getSite, type Item } from '../src/game/index.js';
import { PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { SqliteStorage } from './storage/sqlite.js';
import { guest, login, Player, register, startServer, tempDir, WsClient } from './testkit.js';

describe('restart', () => {
  it('a user online at shutdown comes back with the same site, position and inventory; site items are kept', async () => {
    const dbFile = join(tempDir(), 'db', 'mmo.db');
    const s1 = await startServer({ dbFile });
    const aliceSession = await register(s1.base, 'alice');
    const alice = await Player.connect(s1.wsUrl, aliceSession);
    const bob = await Player.connect(s1.wsUrl, await register(s1.base, 'bob'));
    const g = await guest(s1.base, 'lake');
    const gp = await Player.connect(s1.wsUrl, g);

    // Alice picks up an item on the meadow, then walks through the portal to town and a bit on.
    const enter = alice.client.all.find((m) => m.type === 'enter');
    if (enter?.type !== 'enter') throw new Error('no enter');
    const item = enter.view!.items[0]!;
    await alice.walkTo(item.x, item.y);
    const picked = await alice.act({ kind: 'pickup' });
    expect(picked.events).toContainEqual({ kind: 'picked', user: 'alice', item });
    const portal = getSite('meadow').portals.find((p) => p.to === 'town')!;
    await alice.walkTo(portal.x, portal.y);
    await alice.takePortal();
    await alice.act({ kind: 'move', dir: 'right' });
    const aliceLast = alice.client.all.filter(
      (m) => m.type === 'update' && m.applied.some((a) => a.user === 'alice'),
    ).length;

    // Bob logs out after a step; the guest just stays.
    await bob.act({ kind: 'move', dir: 'up' });
    bob.client.send({ type: 'logout' });
    await bob.client.waitType('bye');
    await gp.act({ kind: 'move', dir: 'right' });

    // What the meadow looks like to a newcomer just before shutdown.
    const peek = await Player.connect(s1.wsUrl, await guest(s1.base, 'meadow'));
    const before = peek.client.all.find((m) => m.type === 'enter');
    if (before?.type !== 'enter') throw new Error('no enter');
    const meadowItems: Item[] = before.view!.items;
    expect(meadowItems.some((i) => i.id === item.id)).toBe(false);

    await s1.close();
    // Clients see the shutdown as a close ("going away").
    expect((await alice.client.waitClose()).code).toBe(1001);

    const s2 = await startServer({ dbFile });
    // The old session token still works after the restart.
    const alice2 = await Player.connect(s2.wsUrl, aliceSession);
    expect([alice2.site, alice2.x, alice2.y]).toEqual(['town', alice.x, alice.y]);
    const enter2 = alice2.client.all.find((m) => m.type === 'enter');
    if (enter2?.type !== 'enter') throw new Error('no enter');
    expect(enter2.view!.users.find((u) => u.name === 'alice')?.inventory).toEqual([
      { id: item.id, kind: item.kind },
    ]);
    expect(enter2.lastActionNo).toBe(aliceLast);

    const bob2 = await Player.connect(s2.wsUrl, await login(s2.base, 'bob'));
    expect([bob2.site, bob2.x, bob2.y]).toEqual(['meadow', bob.x, bob.y]);
    const meadow2 = bob2.client.all.find((m) => m.type === 'enter');
    if (meadow2?.type !== 'enter') throw new Error('no enter');
    expect(meadow2.view!.items).toEqual(meadowItems);
    // The meadow's sequence goes on from where it was (peek's join, its leave at shutdown is not a step, bob's join).
    expect(meadow2.seq).toBe(before.seq + 1);

    const g2 = await Player.connect(s2.wsUrl, g);
    expect([g2.site, g2.x, g2.y]).toEqual(['lake', gp.x, gp.y]);
  });

  it('the periodic save writes online users and sites without a shutdown', async () => {
    const dbFile = join(tempDir(), 'mmo.db');
    const s = await startServer({ dbFile, saveIntervalMs: 100 });
    const alice = await Player.connect(s.wsUrl, await register(s.base, 'alice'));
    await alice.act({ kind: 'move', dir: 'up' });
    // Read the file through a second connection until the save shows up (WAL allows concurrent readers).
    const reader = new SqliteStorage(dbFile);
    try {
      const saved = await new Promise<{ x: number; y: number }>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error('no periodic save')), 5000);
        const poll = setInterval(() => {
          const u = reader.getUser('alice');
          if (u && u.state.y === alice.y && reader.getSite('meadow')) {
            clearInterval(poll);
            clearTimeout(deadline);
            resolve(u.state);
          }
        }, 20);
      });
      expect(saved).toMatchObject({ x: alice.x, y: alice.y });
    } finally {
      reader.close();
    }
  });

  it('a token from before the restart that expired meanwhile is refused as expired', async () => {
    const dbFile = join(tempDir(), 'mmo.db');
    let t = 1_700_000_000_000;
    const s1 = await startServer({ dbFile, now: () => t, sessionTtlMs: 10_000 });
    const session = await register(s1.base, 'alice');
    await s1.close();
    t += 10_001;
    const s2 = await startServer({ dbFile, now: () => t, sessionTtlMs: 10_000 });
    const c = await WsClient.open(s2.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: session.token });
    await c.waitError('ERR_TOKEN_EXPIRED');
  });
});
