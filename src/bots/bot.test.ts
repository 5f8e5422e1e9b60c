/**
 * A bot rides out an admin restart on its own, without a server: fake HTTP and WebSocket, P2P on
 * in-memory links. The admin "restarts" by closing the socket and refusing one attempt.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { applyAction, createSite, newUser, viewOf } from '../game/index.js';
import { insecureFastScheme } from '../protocol/crypto.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { FakeSocket } from '../net/fakeSocket.js';
import { MemoryHub } from '../net/p2p/memoryLink.js';
import { Bot } from './bot.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function welcome(sock: FakeSocket): void {
  sock.open();
  sock.deliver({
    type: 'welcome',
    v: PROTOCOL_VERSION,
    user: 'guest-1',
    guest: true,
    serverTime: 1,
    adminKey: 'ab'.repeat(32),
    challenge: 'cd'.repeat(32),
    p2p: { config: {}, transferThreshold: 3, linkTimeoutMs: 10_000 },
    iceServers: [],
  });
}

describe('Bot', () => {
  it('reconnects by itself after the admin socket drops, with the same token and the same P2P node', async () => {
    const sockets: FakeSocket[] = [];
    const bot = new Bot({
      url: 'http://test:1/',
      site: 'meadow',
      rate: 0,
      fetch: () => Promise.resolve(new Response(JSON.stringify({ token: 'tok', user: 'guest-1', guest: true, expiresAt: 0 }), { status: 200 })),
      socketFactory: (url) => {
        const k = new FakeSocket(url);
        sockets.push(k);
        return k;
      },
      p2p: {
        links: () => new MemoryHub({ manual: true }).factory(),
        wakeup: { set: () => undefined, clear: () => undefined },
        randomBytes: (n) => new Uint8Array(n).fill(3),
        crypto: insecureFastScheme,
      },
    });
    const started = bot.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets.map((k) => k.url)).toEqual(['ws://test:1/ws']);
    welcome(sockets[0]!);
    const snap = applyAction(createSite('meadow'), 'guest-1', { kind: 'join', user: newUser('guest-1', 'meadow') }).snapshot;
    sockets[0]!.deliver({ type: 'enter', site: 'meadow', mode: 'cs', seq: 1, view: viewOf(snap), hash: null, lastActionNo: 0, servers: [] });
    await started;
    const conn = bot.conn;
    const node = conn?.node;
    expect(node).toBeTruthy();

    sockets[0]!.close(1006, '');
    expect(bot.ended).toBeNull();
    expect(bot.state.status).toBe('connecting');
    expect(bot.session?.reconnecting).toBe(true);
    await vi.advanceTimersByTimeAsync(800);
    expect(sockets).toHaveLength(2);
    sockets[1]!.close(1006, ''); // still down
    await vi.advanceTimersByTimeAsync(1600);
    expect(sockets).toHaveLength(3);
    welcome(sockets[2]!);
    expect(sockets[2]!.sent[0]).toEqual({ type: 'hello', v: PROTOCOL_VERSION, token: 'tok' });
    expect(bot.conn).not.toBe(conn);
    expect(bot.conn?.node).toBe(node);
    expect(bot.state.status).toBe('online');
    expect(node?.isClosed).toBe(false);

    bot.close();
    expect(bot.ended).toEqual({ error: null, dropToken: false });
    expect(node?.isClosed).toBe(true);
  });
});
