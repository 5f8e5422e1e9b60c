/**
 * One client misbehaves in every way we know while another plays: the honest one must keep being
 * served, and the server must keep answering.
 */
import { describe, expect, it } from 'vitest';
import { MAX_CLIENT_MESSAGE_BYTES, PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { SqliteStorage } from './storage/sqlite.js';
import { WS_MAX_PAYLOAD } from './ws.js';
import { get, Player, register, startServer, WsClient } from './testkit.js';

describe('abuse', () => {
  it('a malformed-message barrage and an action flood from one client do not disturb another', async () => {
    const s = await startServer({ actionRate: { perSecond: 20, burst: 40 }, maxFramesPerSecond: 2000 });
    const honest = await Player.connect(s.wsUrl, await register(s.base, 'honest'));
    const evilSession = await register(s.base, 'evil');
    const evil = await WsClient.open(s.wsUrl);

    // The honest player walks back and forth the whole time, each step awaited.
    const honestPlay = (async () => {
      let applied = 0;
      for (let i = 0; i < 30; i++) {
        const u = await honest.act({ kind: 'move', dir: i % 2 === 0 ? 'up' : 'down' });
        if (u.events.some((e) => e.kind === 'moved' && e.user === 'honest')) applied++;
      }
      return applied;
    })();

    // Before hello: garbage of every kind.
    const garbage = [
      '',
      'x',
      '{',
      '[]',
      'null',
      '42',
      '"str"',
      '{"type":1}',
      '{"type":"nope"}',
      '{"type":"hello"}',
      '\u0000\u0001',
      '{"type":"__proto__"}',
    ];
    for (const g of garbage) evil.sendRaw(g);
    evil.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef]), true);
    evil.sendRaw(
      JSON.stringify({
        type: 'action',
        actionNo: 1,
        action: { kind: 'say', text: 'x'.repeat(MAX_CLIENT_MESSAGE_BYTES) },
      }),
    );
    evil.send({ type: 'action', actionNo: 1, action: { kind: 'move', dir: 'up' } });
    evil.send({ type: 'logout' });
    evil.send({ type: 'hello', v: PROTOCOL_VERSION, token: evilSession.token });
    await evil.waitType('enter');
    // After hello: a second hello, schema violations, replays, then a flood.
    evil.send({ type: 'hello', v: PROTOCOL_VERSION, token: evilSession.token });
    evil.send({
      type: 'action',
      actionNo: 1,
      action: { kind: 'join', user: { name: 'honest', site: 'meadow', x: 1, y: 1, inventory: [] } },
    });
    evil.send({ type: 'action', actionNo: 0, action: { kind: 'pickup' } });
    evil.send({ type: 'action', actionNo: 1.5, action: { kind: 'pickup' } });
    evil.send({ type: 'action', actionNo: 5, action: { kind: 'move', dir: 'north' } });
    evil.send({ type: 'action', actionNo: 5, action: { kind: 'say', text: 'first' } });
    evil.send({ type: 'action', actionNo: 5, action: { kind: 'say', text: 'replayed' } });
    evil.send({ type: 'action', actionNo: 4, action: { kind: 'say', text: 'older' } });
    for (let n = 100; n < 300; n++)
      evil.send({ type: 'action', actionNo: n, action: { kind: 'say', text: `spam ${n}` } });
    evil.send({ type: 'ping', id: 99, t: 0 });
    // Pong comes after every frame before it was handled.
    await evil.waitType('pong', (m) => m.id === 99);

    const codes = evil.all.filter((m) => m.type === 'error').map((m) => (m.type === 'error' ? m.code : ''));
    const count = (c: string) => codes.filter((x) => x === c).length;
    expect(count('ERR_MALFORMED')).toBeGreaterThanOrEqual(8);
    expect(count('ERR_UNKNOWN_TYPE')).toBe(3);
    expect(count('ERR_TOO_LARGE')).toBe(1);
    expect(count('ERR_NOT_AUTHENTICATED')).toBe(2);
    expect(count('ERR_ALREADY_AUTHENTICATED')).toBe(1);
    expect(count('ERR_ACTION_NUMBER')).toBe(2);
    // Rate limiting drops the excess, answers every dropped action by its number (so a client
    // can free its slot), and logs it at most once a second.
    const appliedNos = new Set(
      evil.all.flatMap((m) =>
        m.type === 'update' ? m.applied.filter((a) => a.user === 'evil').map((a) => a.actionNo) : [],
      ),
    );
    const limitedNos = new Set(
      evil.all.flatMap((m) => (m.type === 'error' && m.code === 'ERR_RATE_LIMITED' ? [Number(m.ref)] : [])),
    );
    const flood = Array.from({ length: 200 }, (_, i) => 100 + i);
    expect(flood.filter((n) => appliedNos.has(n) === limitedNos.has(n))).toEqual([]);
    expect(appliedNos.size).toBeGreaterThanOrEqual(30);
    expect(appliedNos.size).toBeLessThan(100);
    const rateLogs = s.logs.filter((l) => l.includes('"ws.rate_limited"')).length;
    expect(rateLogs).toBeGreaterThanOrEqual(1);
    expect(rateLogs).toBeLessThanOrEqual(2);
    expect(evil.isClosed).toBe(false);
    // The impersonating join never happened.
    expect(
      honest.client.all.some(
        (m) => m.type === 'update' && m.events.some((e) => e.kind === 'said' && e.text === 'replayed'),
      ),
    ).toBe(false);

    expect(await honestPlay).toBe(30);
    // Honest still served: ping and a fresh action.
    honest.client.send({ type: 'ping', id: 1, t: 0 });
    await honest.client.waitType('pong');
    await honest.act({ kind: 'say', text: 'still here' });
    expect((await get(s.base, '/api/health')).body).toEqual({ ok: true });
    // Every refusal was logged (rate-limit replies are summed up in ws.rate_limited above).
    expect(s.logs.filter((l) => l.includes('"ws.reject"')).length).toBeGreaterThanOrEqual(
      codes.length - count('ERR_RATE_LIMITED'),
    );
  });

  it('frames larger than the payload cap close that connection only', async () => {
    const s = await startServer();
    const honest = await Player.connect(s.wsUrl, await register(s.base, 'honest'));
    const evil = await WsClient.open(s.wsUrl);
    evil.sendRaw('x'.repeat(WS_MAX_PAYLOAD + 1));
    expect((await evil.waitClose()).code).toBe(1009);
    const binary = await WsClient.open(s.wsUrl);
    binary.sendRaw(Buffer.alloc(WS_MAX_PAYLOAD * 4), true);
    expect((await binary.waitClose()).code).toBe(1009);
    await honest.act({ kind: 'move', dir: 'up' });
  });

  it('a connection sending too many frames per second is closed and logged', async () => {
    const s = await startServer({ maxFramesPerSecond: 50 });
    const honest = await Player.connect(s.wsUrl, await register(s.base, 'honest'));
    const evil = await Player.connect(s.wsUrl, await register(s.base, 'evil'));
    for (let i = 0; i < 200; i++) evil.client.send({ type: 'ping', id: i, t: 0 });
    await evil.client.waitError('ERR_RATE_LIMITED');
    expect((await evil.client.waitClose()).code).toBe(1008);
    expect(s.logs.some((l) => l.includes('"ws.flood_closed"'))).toBe(true);
    // The flooder left the map; the honest player saw it go and keeps playing.
    await honest.client.waitType('update', (u) =>
      u.events.some((e) => e.kind === 'left' && e.user.name === 'evil'),
    );
    await honest.act({ kind: 'move', dir: 'up' });
  });

  it('an exception inside a handler becomes ERR_INTERNAL for that client only', async () => {
    // A storage that fails for one user: its hello blows up deep inside the game.
    const storage = new SqliteStorage(':memory:');
    const getUser = storage.getUser.bind(storage);
    storage.getUser = (name) => {
      if (name === 'victim') throw new Error('disk on fire');
      return getUser(name);
    };
    const s = await startServer({ storage });
    const honest = await Player.connect(s.wsUrl, await register(s.base, 'honest'));
    const victim = await WsClient.open(s.wsUrl);
    victim.send({ type: 'hello', v: PROTOCOL_VERSION, token: (await register(s.base, 'victim')).token });
    await victim.waitError('ERR_INTERNAL');
    // Half-entered is no state to play in: the connection is closed.
    expect((await victim.waitClose()).code).toBe(1011);
    expect(s.logs.some((l) => l.includes('"ws.internal"') && l.includes('disk on fire'))).toBe(true);
    await honest.act({ kind: 'move', dir: 'up' });
    expect((await get(s.base, '/api/health')).status).toBe(200);
  });
});

describe('connections per address', () => {
  it('past the cap a new connection is told why and closed; a closed one frees its place', async () => {
    const s = await startServer({ maxConnectionsPerIp: 2 });
    const a = await WsClient.open(s.wsUrl);
    const b = await WsClient.open(s.wsUrl);
    const c = await WsClient.open(s.wsUrl);
    await c.waitError('ERR_TOO_MANY_CONNECTIONS');
    expect((await c.waitClose()).code).toBe(1008);
    expect(a.isClosed || b.isClosed).toBe(false);
    a.ws.close();
    await a.waitClose();
    // The server may see the close a moment after the client: try again until it has.
    let admitted = false;
    for (let i = 0; i < 50 && !admitted; i++) {
      const d = await WsClient.open(s.wsUrl);
      d.send({ type: 'ping', id: 1, t: 0 });
      admitted = await Promise.race([d.waitType('pong').then(() => true), d.closed.then(() => false)]);
    }
    expect(admitted).toBe(true);
  });
});

describe('peer envelopes', () => {
  it('a serving tab may send a whole state at once (thousands of frames) without being cut off; a flood past that is', async () => {
    const s = await startServer({ maxFramesPerSecond: 200 });
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: (await register(s.base, 'carrier')).token });
    await c.waitType('enter');
    const frame = (id: number, index: number) => JSON.stringify({ type: 'peer', as: 'server', site: 'meadow', id, index, count: 128, data: 'QUJD' });
    // The largest state transfer: MAX_TRANSFER_BYTES in base64 chunks of PEER_CHUNK_BYTES.
    for (let i = 0; i < 4100; i++) c.sendRaw(frame(Math.floor(i / 128), i % 128));
    c.send({ type: 'ping', id: 7, t: 0 });
    await c.waitType('pong', (m) => m.id === 7, 20_000);
    expect(c.isClosed).toBe(false);
    // Sent faster than the budget refills (1000 a second): closed within a few batches.
    for (let batch = 0; batch < 20 && !c.isClosed; batch++) {
      for (let i = 0; i < 5000; i++) c.sendRaw(frame(100 + Math.floor(i / 128), i % 128));
      c.send({ type: 'ping', id: 8 + batch, t: 0 });
      await Promise.race([c.waitType('pong', (m) => m.id === 8 + batch, 60_000), c.closed]);
    }
    expect(c.all.some((m) => m.type === 'error' && m.code === 'ERR_RATE_LIMITED')).toBe(true);
    expect((await c.waitClose(20_000)).code).toBe(1008);
  });
});
