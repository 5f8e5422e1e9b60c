/**
 * A bot rides out an admin restart on its own, without a server: fake HTTP and WebSocket, P2P on
 * in-memory links. The admin "restarts" by closing the socket and refusing one attempt.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { insecureFastScheme } from '../protocol/crypto.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { MemoryHub } from '../net/p2p/memoryLink.js';
import { UNPROCESSED_AFTER_MS } from './bot.js';
import { enterCs, enteredGuest, guestBot, soloView, welcome } from './botKit.js';
import { Recorder } from './tally.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('Bot', () => {
  it('reconnects by itself after the admin socket drops, with the same token and the same P2P node', async () => {
    const { bot, sockets } = guestBot({
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
    enterCs(sockets[0]!, soloView('meadow'));
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

  it('records the delay of every accepted action by mode, and counts those not accepted in time as not processed', async () => {
    const rec = new Recorder();
    const { bot, sock } = await enteredGuest({ recorder: rec });
    expect(rec.tally.enter.n).toBe(1);
    for (let k = 0; k < 4; k++) expect(bot.act({ kind: 'say', text: `hi ${k}` })).toBe(true);
    expect(rec.tally.sent.cs).toBe(4);
    const update = (seq: number, nos: number[]) =>
      sock.deliver({ type: 'update', site: 'meadow', seq, applied: nos.map((actionNo) => ({ user: 'guest-1', actionNo })), events: [] });
    update(2, [1]);
    update(3, [3]); // 2 was passed: not given up until its time is out
    expect(rec.tally.delay.cs.n).toBe(2);
    expect(rec.tally.unprocessed.cs).toBe(0);
    bot.sweep(performance.now() + UNPROCESSED_AFTER_MS - 1);
    expect(rec.tally.unprocessed.cs).toBe(0);
    bot.sweep(performance.now() + UNPROCESSED_AFTER_MS + 1); // 2 and 4 never came
    expect(rec.tally.unprocessed.cs).toBe(2);
    bot.sweep(performance.now() + 2 * UNPROCESSED_AFTER_MS); // counted once
    expect(rec.tally.unprocessed.cs).toBe(2);
    expect(rec.tally.delay.p2p.n).toBe(0);
    expect(rec.tally.admin.framesSent).toBeGreaterThanOrEqual(5); // hello, prefs, 4 actions (pings maybe)
    bot.close();
  });

  it('wanders instead of dying when the item it heads for is out of reach', async () => {
    const view = soloView('lake');
    const item = view.items[0];
    expect(item).toBeDefined();
    // 8,6 is on the lake's island: walkable, reached by no walk from the spawn (path.test.ts). The
    // rules grow no item there now, but a Site Server's copy from before may still hold one.
    const unreachable = { ...view, items: [{ ...item!, x: 8, y: 6 }] };
    const { bot, sock } = await enteredGuest({ site: 'lake', random: () => 0.3 }, unreachable); // heads for an item (under 0.6), the first one
    const before = sock.sent.length;
    expect(() => bot.play()).not.toThrow();
    expect(sock.sent.slice(before)).toContainEqual(expect.objectContaining({ type: 'action', action: expect.objectContaining({ kind: 'move' }) }));
    bot.close();
  });

  it('roams: heads for a portal of its site, walks there and takes it, and times the switch', async () => {
    const rec = new Recorder();
    // Always decides to roam, always the first portal (meadow 18,6 -> town).
    const { bot, sock } = await enteredGuest({ roam: 1, random: () => 0, recorder: rec });
    bot.play();
    const first = sock.of('action')[0];
    expect(first?.action.kind).toBe('move');
    // Put it next to the portal: the next move steps on it, then it takes it.
    sock.deliver({ type: 'update', site: 'meadow', seq: 2, applied: [{ user: 'guest-1', actionNo: 1 }], events: [{ kind: 'moved', user: 'guest-1', x: 17, y: 6 }] });
    bot.play();
    expect(sock.of('action')[1]?.action).toEqual({ kind: 'move', dir: 'right' });
    sock.deliver({ type: 'update', site: 'meadow', seq: 3, applied: [{ user: 'guest-1', actionNo: 2 }], events: [{ kind: 'moved', user: 'guest-1', x: 18, y: 6 }] });
    bot.play();
    expect(sock.of('action')[2]?.action).toEqual({ kind: 'portal' });
    expect(rec.tally.switches.n).toBe(0);
    enterCs(sock, soloView('town', { x: 2, y: 6 }), 3);
    expect(rec.tally.switches.n).toBe(1);
    bot.close();
  });
});
