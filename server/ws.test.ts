import { describe, expect, it, vi } from 'vitest';
import { createSite, getSite } from '../src/game/index.js';
import { PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { guest, login, Player, post, register, startServer, WsClient } from './testkit.js';
import { until } from './p2pKit.js';
import { RTT_BEAT_MS, RTT_PING_BEATS, RttPinger } from './ws.js';

describe('WebSocket: hello', () => {
  it('welcomes a registered user and puts a new one on the default spawn', async () => {
    const s = await startServer();
    const session = await register(s.base, 'alice');
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: session.token });
    const welcome = await c.waitType('welcome');
    expect(welcome).toMatchObject({ v: PROTOCOL_VERSION, user: 'alice', guest: false });
    expect(typeof welcome.serverTime).toBe('number');
    const enter = await c.waitType('enter');
    const def = getSite('meadow');
    expect(enter).toMatchObject({ site: 'meadow', mode: 'cs', lastActionNo: 0, servers: [] });
    expect(enter.view!.users).toEqual([
      { name: 'alice', site: 'meadow', x: def.spawn.x, y: def.spawn.y, inventory: [] },
    ]);
    expect(enter.view!.items).toEqual(createSite('meadow').site.items);
    // The join was an applied step of the site.
    expect(enter.seq).toBe(1);
    // welcome comes first.
    expect(c.all.map((m) => m.type)).toEqual(['welcome', 'enter']);
  });

  it('puts a guest on the site it chose', async () => {
    const s = await startServer();
    const g = await guest(s.base, 'cave');
    const p = await Player.connect(s.wsUrl, g);
    expect(p.site).toBe('cave');
    expect([p.x, p.y]).toEqual([getSite('cave').spawn.x, getSite('cave').spawn.y]);
  });

  it('refuses unknown tokens, wrong versions, and closes', async () => {
    const s = await startServer();
    const session = await register(s.base, 'alice');
    const cases = [
      [{ type: 'hello', v: PROTOCOL_VERSION, token: 'f'.repeat(64) }, 'ERR_TOKEN_INVALID'],
      [{ type: 'hello', v: PROTOCOL_VERSION + 1, token: session.token }, 'ERR_VERSION'],
      [{ type: 'hello', v: 0, token: session.token }, 'ERR_VERSION'],
    ] as const;
    for (const [hello, code] of cases) {
      const c = await WsClient.open(s.wsUrl);
      c.send(hello);
      await c.waitError(code);
      expect((await c.waitClose()).code).toBe(1008);
    }
  });

  it('refuses an expired token (injected clock), and logs in again fine', async () => {
    let t = 1_700_000_000_000;
    const s = await startServer({ now: () => t, sessionTtlMs: 60_000 });
    const session = await register(s.base, 'alice');
    t += 59_999;
    const ok = await Player.connect(s.wsUrl, session);
    ok.client.send({ type: 'logout' });
    await ok.client.waitType('bye');

    const again = await login(s.base, 'alice');
    t += 60_000;
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: again.token });
    const err = await c.waitError('ERR_TOKEN_EXPIRED');
    expect(err.message).toMatch(/expired/);
    await c.waitClose();
    // The logged-out token is gone for good.
    const c2 = await WsClient.open(s.wsUrl);
    c2.send({ type: 'hello', v: PROTOCOL_VERSION, token: session.token });
    await c2.waitError('ERR_TOKEN_INVALID');
  });

  it('answers anything before hello with ERR_NOT_AUTHENTICATED, a second hello with ERR_ALREADY_AUTHENTICATED', async () => {
    const s = await startServer();
    const session = await register(s.base, 'alice');
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'action', actionNo: 1, action: { kind: 'move', dir: 'up' } });
    await c.waitError('ERR_NOT_AUTHENTICATED');
    c.send({ type: 'logout' });
    await c.waitError('ERR_NOT_AUTHENTICATED');
    // ping works before hello (clock sync on the login screen).
    c.send({ type: 'ping', id: 7, t: 1.5 });
    expect(await c.waitType('pong')).toMatchObject({ id: 7, t: 1.5 });
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: session.token });
    await c.waitType('enter');
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: session.token });
    await c.waitError('ERR_ALREADY_AUTHENTICATED');
    expect(c.isClosed).toBe(false);
  });

  it('closes a connection that never says hello', async () => {
    const s = await startServer({ helloTimeoutMs: 100 });
    const c = await WsClient.open(s.wsUrl);
    await c.waitError('ERR_NOT_AUTHENTICATED');
    await c.waitClose();
  });

  it('refuses WebSocket upgrades on other paths', async () => {
    const s = await startServer();
    const c = new WsClient(s.wsUrl.replace(/\/ws$/, '/other'));
    await expect(c.opened).rejects.toThrow();
  });
});

describe('WebSocket: playing', () => {
  it('answers ping with the server clock', async () => {
    const t = 1_234_567;
    const s = await startServer({ now: () => t });
    const p = await Player.connect(s.wsUrl, await register(s.base, 'alice'));
    p.client.send({ type: 'ping', id: 3, t: 99.25 });
    expect(await p.client.waitType('pong')).toEqual({ type: 'pong', id: 3, t: 99.25, serverTime: t });
  });

  it('two players see each other arrive, move, talk and leave; seq grows by one per step', async () => {
    const s = await startServer();
    const alice = await Player.connect(s.wsUrl, await register(s.base, 'alice'));
    const bob = await Player.connect(s.wsUrl, await register(s.base, 'bob'));
    const joined = await alice.client.waitType('update', (u) =>
      u.events.some((e) => e.kind === 'joined' && e.user.name === 'bob'),
    );
    expect(joined.applied).toEqual([]);

    const moved = await bob.act({ kind: 'move', dir: 'up' });
    const seen = await alice.client.waitType('update', (u) => u.seq === moved.seq);
    expect(seen).toEqual(moved);
    expect(seen.events).toEqual([{ kind: 'moved', user: 'bob', x: bob.x, y: bob.y }]);
    expect(seen.seq).toBe(joined.seq + 1);

    const said = await alice.act({ kind: 'say', text: '  hi\u0000 bob ' });
    expect(said.events).toEqual([{ kind: 'said', user: 'alice', text: 'hi bob' }]);
    expect((await bob.client.waitType('update', (u) => u.seq === said.seq)).events).toEqual(said.events);

    // A move into a tree is applied as a rejection that everyone sees (the step still counts).
    await alice.walkTo(5, 6);
    const blocked = await alice.act({ kind: 'move', dir: 'left' });
    expect(blocked.events).toEqual([{ kind: 'rejected', user: 'alice', action: 'move', reason: 'wall' }]);
    expect(await bob.client.waitType('update', (u) => u.seq === blocked.seq)).toEqual(blocked);

    bob.client.send({ type: 'logout' });
    expect(await bob.client.waitType('bye')).toEqual({ type: 'bye', reason: 'logout' });
    await bob.client.waitClose();
    const left = await alice.client.waitType('update', (u) =>
      u.events.some((e) => e.kind === 'left' && e.user.name === 'bob'),
    );
    expect(left.events).toContainEqual({
      kind: 'left',
      via: 'logout',
      user: expect.objectContaining({ name: 'bob', x: bob.x, y: bob.y }),
    });

    const sites = await (await fetch(`${s.base}/api/sites`)).json();
    expect(sites[0]).toMatchObject({ id: 'meadow', users: 1 });
  });

  it('refuses replayed or reordered action numbers without applying them', async () => {
    const s = await startServer();
    const alice = await Player.connect(s.wsUrl, await register(s.base, 'alice'));
    const first = await alice.act({ kind: 'move', dir: 'up' });
    const pos = [alice.x, alice.y];
    alice.client.send({
      type: 'action',
      actionNo: first.applied[0]!.actionNo,
      action: { kind: 'move', dir: 'up' },
    });
    const err = await alice.client.waitError('ERR_ACTION_NUMBER');
    expect(err.ref).toBe(String(first.applied[0]!.actionNo));
    // Jumping ahead is fine; going back below it is not.
    alice.client.send({ type: 'action', actionNo: 10, action: { kind: 'say', text: 'ten' } });
    await alice.client.waitType('update', (u) => u.applied.some((a) => a.actionNo === 10));
    alice.client.send({ type: 'action', actionNo: 9, action: { kind: 'move', dir: 'up' } });
    await alice.client.waitError('ERR_ACTION_NUMBER');
    // Nothing moved: a ping round trip proves the server processed everything before it.
    alice.client.send({ type: 'ping', id: 1, t: 0 });
    await alice.client.waitType('pong');
    expect(
      alice.client.all.filter((m) => m.type === 'update' && m.events.some((e) => e.kind === 'moved')),
    ).toHaveLength(1);
    expect([alice.x, alice.y]).toEqual(pos);
    // The number survives a reconnect: enter tells the client where to continue.
    alice.client.ws.close();
    await alice.client.waitClose();
    const back = await Player.connect(s.wsUrl, await login(s.base, 'alice'));
    expect(back.client.all.find((m) => m.type === 'enter')).toMatchObject({ lastActionNo: 10 });
  });

  it('pick-up race over the wire: exactly one of two players on the item tile gets it', async () => {
    const s = await startServer();
    const alice = await Player.connect(s.wsUrl, await register(s.base, 'alice'));
    const bob = await Player.connect(s.wsUrl, await register(s.base, 'bob'));
    const enter = alice.client.all.find((m) => m.type === 'enter');
    if (enter?.type !== 'enter') throw new Error('no enter');
    const item = enter.view!.items[0]!;
    await alice.walkTo(item.x, item.y);
    await bob.walkTo(item.x, item.y);
    // Both ask at once; the server applies them in arrival order.
    const na = alice.send({ kind: 'pickup' });
    const nb = bob.send({ kind: 'pickup' });
    const ua = await alice.client.waitType('update', (u) =>
      u.applied.some((a) => a.user === 'alice' && a.actionNo === na),
    );
    const ub = await alice.client.waitType('update', (u) =>
      u.applied.some((a) => a.user === 'bob' && a.actionNo === nb),
    );
    const [first, second] = ua.seq < ub.seq ? [ua, ub] : [ub, ua];
    const winner = first.applied[0]!.user;
    const loser = second.applied[0]!.user;
    expect(first.events).toContainEqual({ kind: 'picked', user: winner, item });
    expect(second.events).toContainEqual({
      kind: 'rejected',
      user: loser,
      action: 'pickup',
      reason: 'no-item',
    });
    // Bob saw the very same two updates.
    expect(await bob.client.waitType('update', (u) => u.seq === first.seq)).toEqual(first);
    expect(await bob.client.waitType('update', (u) => u.seq === second.seq)).toEqual(second);
  });

  it('a portal moves a user between sites and both sites hear of it', async () => {
    const s = await startServer();
    const alice = await Player.connect(s.wsUrl, await register(s.base, 'alice'));
    const watcher = await Player.connect(s.wsUrl, await guest(s.base, 'meadow'));
    const townie = await Player.connect(s.wsUrl, await guest(s.base, 'town'));
    const portal = getSite('meadow').portals.find((p) => p.to === 'town')!;
    await alice.walkTo(portal.x, portal.y);
    const enter = await alice.takePortal();
    expect(enter).toMatchObject({ site: 'town', mode: 'cs', servers: [] });
    expect(enter.view!.users.map((u) => u.name).sort()).toEqual(['alice', townie.name].sort());
    expect([alice.x, alice.y]).toEqual([portal.toX, portal.toY]);
    // The mover's own action was acknowledged on the source site before its enter.
    const types = alice.client.all.slice(-2).map((m) => m.type);
    expect(types).toEqual(['update', 'enter']);
    expect(enter.lastActionNo).toBe(
      alice.client.all.filter((m) => m.type === 'update' && m.applied.some((a) => a.user === 'alice')).length,
    );

    const left = await watcher.client.waitType('update', (u) => u.events.some((e) => e.kind === 'left'));
    expect(left.events).toContainEqual({
      kind: 'left',
      via: 'portal',
      user: expect.objectContaining({ name: 'alice', site: 'town', x: portal.toX, y: portal.toY }),
    });
    const joined = await townie.client.waitType('update', (u) => u.events.some((e) => e.kind === 'joined'));
    expect(joined).toMatchObject({ site: 'town', seq: enter.seq, applied: [] });
    expect(joined.events).toContainEqual({
      kind: 'joined',
      user: expect.objectContaining({ name: 'alice', site: 'town' }),
    });

    // Actions now go to town, and only town's users see them.
    const moved = await alice.act({ kind: 'move', dir: 'right' });
    expect(moved.site).toBe('town');
    await townie.client.waitType('update', (u) => u.seq === moved.seq && u.site === 'town');
    watcher.client.send({ type: 'ping', id: 1, t: 0 });
    await watcher.client.waitType('pong');
    expect(watcher.client.all.some((m) => m.type === 'update' && m.site === 'town')).toBe(false);

    const listing = await (await fetch(`${s.base}/api/sites`)).json();
    expect(listing.find((x: { id: string }) => x.id === 'town').users).toBe(2);
    expect(listing.find((x: { id: string }) => x.id === 'meadow').users).toBe(1);
  });

  it('a second connection of the same account takes over; the user is not duplicated', async () => {
    const s = await startServer();
    const first = await Player.connect(s.wsUrl, await register(s.base, 'alice'));
    const bob = await Player.connect(s.wsUrl, await register(s.base, 'bob'));
    await first.act({ kind: 'move', dir: 'up' });
    const second = await Player.connect(s.wsUrl, await login(s.base, 'alice'));
    await first.client.waitError('ERR_LOGGED_IN_ELSEWHERE');
    expect(await first.client.waitType('bye')).toEqual({ type: 'bye', reason: 'ERR_LOGGED_IN_ELSEWHERE' });
    await first.client.waitClose();
    const enter = second.client.all.find((m) => m.type === 'enter');
    if (enter?.type !== 'enter') throw new Error('no enter');
    expect(enter.view!.users.filter((u) => u.name === 'alice')).toHaveLength(1);
    expect([second.x, second.y]).toEqual([first.x, first.y]);
    expect(enter.lastActionNo).toBe(1);
    // Bob saw no one leave or join.
    const moved = await second.act({ kind: 'move', dir: 'down' });
    await bob.client.waitType('update', (u) => u.seq === moved.seq);
    expect(
      bob.client.all.filter(
        (m) =>
          m.type === 'update' &&
          m.events.some((e) => (e.kind === 'left' || e.kind === 'joined') && e.user.name === 'alice'),
      ),
    ).toEqual([]);
  });

  it('a disconnect without logout saves the user where it stood', async () => {
    const s = await startServer();
    const session = await register(s.base, 'alice');
    const a = await Player.connect(s.wsUrl, session);
    await a.act({ kind: 'move', dir: 'up' });
    await a.act({ kind: 'move', dir: 'up' });
    a.client.ws.terminate();
    const b = await Player.connect(s.wsUrl, session);
    expect([b.x, b.y]).toEqual([a.x, a.y]);
  });

  it('a guest who logs out is forgotten', async () => {
    const s = await startServer();
    const g = await guest(s.base, 'lake');
    const p = await Player.connect(s.wsUrl, g);
    p.client.send({ type: 'logout' });
    await p.client.waitType('bye');
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: g.token });
    await c.waitError('ERR_TOKEN_INVALID');
    // Guests are not accounts.
    const r = await post<{ error: string }>(s.base, '/api/login', { name: g.user, password: 'whatever' });
    expect(r.body.error).toBe('ERR_BAD_CREDENTIALS');
  });
});

describe('WebSocket: round-trip pings', () => {
  it('one timer pings the tabs on its beat: each at hello, on the next beat, then every RTT_PING_BEATS beats; none is left once all are gone', () => {
    vi.useFakeTimers();
    try {
      const pinger = new RttPinger();
      const at = { a: [] as number[], b: [] as number[], c: [] as number[] };
      const link = (k: keyof typeof at) => ({ measureRtt: () => void at[k].push(Date.now() - t0) });
      const [a, b, c] = [link('a'), link('b'), link('c')];
      const t0 = Date.now();
      pinger.add(a);
      vi.advanceTimersByTime(1300);
      pinger.add(b);
      vi.advanceTimersByTime(RTT_BEAT_MS + 2100);
      pinger.add(c);
      // Each at once on hello, and b (but not c, added after it) on the next beat.
      expect([at.a, at.b, at.c]).toEqual([[0, RTT_BEAT_MS], [1300, RTT_BEAT_MS], [RTT_BEAT_MS + 3400]]);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(7 * RTT_BEAT_MS - (RTT_BEAT_MS + 3400));
      // Then on the beats only: a and b 3 beats after their first, c on its first beat and 3 after.
      const beat = (k: number): number => k * RTT_BEAT_MS;
      expect(RTT_PING_BEATS * RTT_BEAT_MS).toBeGreaterThanOrEqual(15_000);
      expect([at.a, at.b, at.c]).toEqual([
        [0, beat(1), beat(1 + RTT_PING_BEATS), beat(1 + 2 * RTT_PING_BEATS)],
        [1300, beat(1), beat(1 + RTT_PING_BEATS), beat(1 + 2 * RTT_PING_BEATS)],
        [beat(1) + 3400, beat(2), beat(2 + RTT_PING_BEATS)],
      ]);
      pinger.delete(a);
      pinger.delete(b);
      vi.advanceTimersByTime(RTT_PING_BEATS * RTT_BEAT_MS);
      expect([at.a.length, at.b.length, at.c.length]).toEqual([4, 4, 4]);
      pinger.delete(c);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('measures a welcomed tab\'s round trip at once (the operator view shows it)', async () => {
    const s = await startServer({ adminToken: 'rtt-test-operator-token-of-32-chars' });
    await Player.connect(s.wsUrl, await register(s.base, 'alice'));
    const rtt = await until('alice\'s round trip', async () => {
      const view = (await (await fetch(`${s.base}/api/admin`, { headers: { authorization: 'Bearer rtt-test-operator-token-of-32-chars' } })).json()) as { peers: Array<{ user: string; rtt: number | null }> };
      const r = view.peers.find((x) => x.user === 'alice')?.rtt;
      return typeof r === 'number' && { r };
    });
    expect(rtt.r).toBeGreaterThanOrEqual(0);
  });
});
