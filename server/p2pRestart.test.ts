/**
 * An admin restart while a site is P2P, in Node: the real Administration Server (closed, then a
 * new one on the same port and database) and bots running the tab's session and P2P code over
 * real data channels. The site plays on while the admin is down, and goes on after it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getSite, isWalkable, stepFrom } from '../src/game/index.js';
import { SqliteStorage } from './storage/sqlite.js';
import { startServer, tempDir } from './testkit.js';
import { bot, crowd, FAST, me, operator, step, until, walkTo } from './p2pKit.js';

const DIRS = ['up', 'down', 'left', 'right'] as const;


describe('an admin restart with a P2P site', () => {
  it('the site plays on while the admin is down; after it the same servers serve on, a portal taken meanwhile completes, nothing is lost', async () => {
    const dbFile = join(tempDir(), 'mmo.db');
    const s = await startServer({ dbFile, p2p: FAST });
    const { servers, a, b } = await crowd(s);
    await until('P2P', () => a.state.mode === 'p2p' && b.state.mode === 'p2p' && a.state.view && b.state.view);
    await until('three servers', () => servers.every((x) => x.conn?.node?.server?.stats().status === 'running'));
    const ids = servers.map((x) => x.conn!.node!.serverId!);
    const nodes = [...servers, a, b].map((x) => x.conn!.node!);
    const item = a.state.view!.items[0]!;
    await walkTo(a, item);
    await step(a, { kind: 'pickup' });
    const bItems = me(b)!.inventory;

    await s.close();
    await until('every bot lost the admin', () => [...servers, a, b].every((x) => x.state.status !== 'online'));
    // Played over data channels only: a moves, b sees it.
    const at = me(a)!;
    const dir = DIRS.find((d) => {
      const to = stepFrom(at, d);
      return isWalkable(getSite('meadow'), to.x, to.y) && !b.state.view?.users.some((u) => u.x === to.x && u.y === to.y);
    })!;
    await step(a, { kind: 'move', dir });
    const moved = me(a)!;
    expect(moved).not.toEqual(at);
    await until('b sees a move', () => b.state.view?.users.some((u) => u.name === a.name && u.x === moved.x && u.y === moved.y));
    // b takes the portal to the forest: it leaves the meadow now, arrives when the admin is back.
    await walkTo(b, getSite('meadow').portals.find((p) => p.to === 'forest')!);
    await until('sent', () => b.act({ kind: 'portal' }));
    await until('a sees b leave', () => !a.state.view?.users.some((u) => u.name === b.name));

    const s2 = await startServer({ dbFile, port: s.port, p2p: FAST });
    await until('all back online', () => [...servers, a, b].every((x) => x.state.status === 'online'), 30_000);
    // The same node objects, the same server ids, still running: no new hand-over.
    expect([...servers, a, b].map((x) => x.conn!.node!)).toEqual(nodes);
    expect(servers.map((x) => x.conn!.node!.serverId)).toEqual(ids);
    const site = await until('meadow waits for nobody', async () => {
      const m = (await operator(s2)).sites.find((x) => x.id === 'meadow')!;
      return m.waitingFor === null && m;
    });
    expect(site.mode).toBe('p2p');
    expect(site.servers.filter((x) => x.state === 'active').map((x) => x.id).sort()).toEqual([...ids].sort());
    const there = await until('b on the forest', () => b.state.site === 'forest' && b.state.mode === 'cs' && me(b), 20_000);
    expect(there.inventory).toEqual(bItems);
    // a plays on where it was; when it leaves, what it picked before the restart is stored.
    expect(a.state.site).toBe('meadow');
    await step(a, { kind: 'say', text: 'still here' });
    expect(me(a)).toMatchObject({ x: moved.x, y: moved.y });
    a.close();
    const stored = await until('a stored with the item', () => {
      const st = new SqliteStorage(dbFile);
      try {
        const u = st.getUser(a.name);
        return u?.state.inventory.some((i) => i.id === item.id) && u;
      } finally {
        st.close();
      }
    });
    expect(stored.state.inventory.map((i) => i.id)).toEqual([item.id]);
    expect(stored.state.site).toBe('meadow');
    // Empty now: the resumed site goes back to the admin like any other, and a newcomer plays there.
    await until('meadow back at the admin', async () => (await operator(s2)).sites.find((x) => x.id === 'meadow')?.mode === 'cs', 20_000);
    const c = await bot(s2, 'meadow', { serve: false });
    expect(c.state.mode).toBe('cs');
    expect(c.state.view?.items.map((i) => i.id)).not.toContain(item.id);
  }, 60_000);
});
