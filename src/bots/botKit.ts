/**
 * The bot tests' one way to build a bot and let it in (bot.test.ts, phase.test.ts): a guest on
 * fake HTTP and WebSocket, the admin's welcome, and a client-server site with the bot alone on it.
 * The tests run on vitest's fake timers.
 */
import { vi } from 'vitest';
import { applyAction, createSite, newUser, viewOf, type SiteView } from '../game/index.js';
import { PROTOCOL_VERSION, type P2PSettings } from '../protocol/messages.js';
import { FakeSocket } from '../net/fakeSocket.js';
import { Bot, type BotOptions } from './bot.js';

/** A guest bot (guest-1) on fake HTTP and WebSocket (no P2P links unless given): the sockets it opens, in order. */
export function guestBot(o: Partial<BotOptions>): { bot: Bot; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  const bot = new Bot({
    url: 'http://test:1/',
    site: 'meadow',
    rate: 0,
    fetch: () =>
      Promise.resolve(
        new Response(JSON.stringify({ token: 'tok', user: 'guest-1', guest: true, expiresAt: 0 }), {
          status: 200,
        }),
      ),
    socketFactory: (url) => {
      const k = new FakeSocket(url);
      sockets.push(k);
      return k;
    },
    ...o,
  });
  return { bot, sockets };
}

/** The admin's socket opens and welcomes guest-1 (`p2p` over the defaults). */
export function welcome(sock: FakeSocket, p2p: Partial<P2PSettings> = {}): void {
  sock.open();
  sock.deliver({
    type: 'welcome',
    v: PROTOCOL_VERSION,
    user: 'guest-1',
    guest: true,
    serverTime: 1,
    adminKey: 'ab'.repeat(32),
    challenge: 'cd'.repeat(32),
    p2p: { config: {}, transferThreshold: 3, linkTimeoutMs: 10_000, ...p2p },
    iceServers: [],
  });
}

/** What guest-1 sees of `site` with itself alone on it, joined at `at` (default the spawn point). */
export function soloView(site: string, at?: { x: number; y: number }): SiteView {
  const user = { ...newUser('guest-1', site), ...at };
  return viewOf(applyAction(createSite(site), 'guest-1', { kind: 'join', user }).snapshot);
}

/** The admin puts the bot on `view`'s site, client-server, at update 1. */
export function enterCs(sock: FakeSocket, view: SiteView, lastActionNo = 0): void {
  sock.deliver({
    type: 'enter',
    site: view.site,
    mode: 'cs',
    seq: 1,
    view,
    hash: null,
    lastActionNo,
    servers: [],
  });
}

/**
 * A guest bot (`o`) started, welcomed (`p2p`) and put on `view`'s site client-server (default its
 * site with itself alone on it): the bot and its admin socket.
 */
export async function enteredGuest(
  o: Partial<BotOptions>,
  view: SiteView = soloView(o.site ?? 'meadow'),
  p2p: Partial<P2PSettings> = {},
): Promise<{ bot: Bot; sock: FakeSocket }> {
  const { bot, sockets } = guestBot(o);
  const started = bot.start();
  await vi.advanceTimersByTimeAsync(0);
  const sock = sockets[0]!;
  welcome(sock, p2p);
  enterCs(sock, view);
  await started;
  return { bot, sock };
}
