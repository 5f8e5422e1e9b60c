/**
 * Logging out of a P2P site and in again (issue 18 "Logging back in to a P2P site can stall"): a
 * registered player on a site served by three Node peers logs out and in twenty times while
 * another process keeps a core busy and the serving tabs starve in turns; every time it must be
 * back on the site, with its state, within a bound.
 *
 * The stall's cause (docs/hosting.md, Limits, "Logging back in"): the servers sent the update
 * with the user's join down the data channel of its previous session, which they still thought
 * open, and on a quiet site no later update came; the entering user only started taking the
 * state on an update, so it waited forever. Here each session's channels outlive it at the
 * servers' end, as a closed tab's do until the far end notices.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Bot, nodeP2P } from '../src/bots/bot.js';
import type { SocketFactory, SocketLike } from '../src/net/adminSocket.js';
import { Api } from '../src/net/api.js';
import type { P2PEnvironment } from '../src/net/connection.js';
import type { PeerLink } from '../src/net/p2p/link.js';
import { startServer, type TestServer } from './testkit.js';
import { bot, FAST, until } from './p2pKit.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A process that keeps one core busy until the test ends. */
function busyCore(): void {
  const child: ChildProcess = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
}

/** `p`, or an error saying what did not happen within `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A tab whose main thread is starved now and then: while `frozen`, nothing it would run runs
 * (timers, data channel frames, admin messages); it all runs, in order, once it thaws.
 */
class Starvable {
  frozen = false;
  private held: Array<() => void> = [];

  /** `busyOnEnterMs`: the tab also starves that long when the admin puts it on a site. */
  constructor(private readonly busyOnEnterMs = 0) {}

  /** Starves for `ms` from now. */
  starve(ms: number): void {
    this.frozen = true;
    setTimeout(() => this.thaw(), ms);
  }

  run(cb: () => void): void {
    if (this.frozen) this.held.push(cb);
    else cb();
  }

  thaw(): void {
    this.frozen = false;
    for (const cb of this.held.splice(0)) cb();
  }

  p2p(): P2PEnvironment {
    const env = nodeP2P();
    return {
      ...env,
      wakeup: { set: (ms, cb) => env.wakeup.set(ms, () => this.run(cb)), clear: () => env.wakeup.clear() },
      links: (ice) => {
        const make = env.links(ice);
        return (o) => {
          const link = make(o);
          return wrapLink(link, {
            onOpen: (cb) => link.onOpen(() => this.run(cb)),
            onMessage: (cb) => link.onMessage((bytes) => this.run(() => cb(bytes))),
            onClose: (cb) => link.onClose((why) => this.run(() => cb(why))),
          });
        };
      },
    };
  }

  socket(): SocketFactory {
    return (url) => {
      const ws = new WebSocket(url) as unknown as SocketLike;
      const proxy: SocketLike = {
        get readyState() {
          return ws.readyState;
        },
        send: (d) => ws.send(d),
        close: (c, r) => ws.close(c, r),
        onopen: null,
        onmessage: null,
        onclose: null,
        onerror: null,
      };
      ws.onopen = (e) => this.run(() => proxy.onopen?.(e));
      ws.onmessage = (e) => {
        if (this.busyOnEnterMs > 0 && typeOf(e.data) === 'enter') this.starve(this.busyOnEnterMs);
        this.run(() => proxy.onmessage?.(e));
      };
      ws.onclose = (e) => this.run(() => proxy.onclose?.(e));
      ws.onerror = (e) => this.run(() => proxy.onerror?.(e));
      return proxy;
    };
  }
}

function typeOf(data: unknown): unknown {
  try {
    return (JSON.parse(String(data)) as { type?: unknown }).type;
  } catch {
    return null;
  }
}

/** `link` with some of its calls replaced (`open` read through `isOpen`). */
function wrapLink(
  link: PeerLink,
  o: Partial<Pick<PeerLink, 'send' | 'onOpen' | 'onMessage' | 'onClose' | 'close'>> & { isOpen?: () => boolean },
): PeerLink {
  return {
    get open() {
      return o.isOpen ? o.isOpen() : link.open;
    },
    get buffered() {
      return link.buffered;
    },
    send: o.send ?? ((b) => link.send(b)),
    onOpen: o.onOpen ?? ((cb) => link.onOpen(cb)),
    onMessage: o.onMessage ?? ((cb) => link.onMessage(cb)),
    onClose: o.onClose ?? ((cb) => link.onClose(cb)),
    close: o.close ?? (() => link.close()),
    signal: (d) => link.signal(d),
  };
}

/**
 * Node P2P whose channels outlive the session: closing one stops it here, but the far end sees
 * it open (and its frames vanish) until the test ends, as with a tab closed on a busy machine.
 */
function lingeringP2P(tab: Starvable): P2PEnvironment {
  const env = tab.p2p();
  return {
    ...env,
    links: (ice) => {
      const make = env.links(ice);
      return (o) => {
        const link = make(o);
        let closed = false;
        cleanups.push(() => link.close());
        return wrapLink(link, {
          isOpen: () => !closed && link.open,
          send: (b) => !closed && link.send(b),
          onMessage: (cb) => link.onMessage((bytes) => (closed ? undefined : cb(bytes))),
          close: () => void (closed = true),
        });
      };
    },
  };
}

/** One login of `account`, not serving: the bot once it is on its site with a view. */
async function login(s: TestServer, account: { name: string; password: string }, trail: string[]): Promise<Bot> {
  // A fresh tab on a busy machine: busy for a moment when it is put on the site.
  const tab = new Starvable(800);
  const b = new Bot({
    url: s.url,
    rate: 0,
    serve: false,
    account,
    p2p: lingeringP2P(tab),
    socketFactory: tab.socket(),
    log: (event, fields) => void trail.push(`${String(event)} ${JSON.stringify(fields)}`),
  });
  cleanups.push(() => b.close());
  await b.start();
  return b;
}

describe('logging out of a P2P site and in again', () => {
  it('twenty cycles with a busy core and starving servers all come back on the site with their state', async () => {
    busyCore();
    const s = await startServer({ p2p: FAST });
    const tabs = [new Starvable(), new Starvable(), new Starvable()];
    const servers: Bot[] = [];
    for (const t of tabs) {
      const b = new Bot({ url: s.url, site: 'town', rate: 0, p2p: t.p2p(), socketFactory: t.socket() });
      cleanups.push(() => b.close());
      await b.start();
      servers.push(b);
    }
    await until('keys registered', () => servers.every((b) => b.conn?.node?.serverId));
    // One serving tab at a time starves for most of a second.
    let turn = 0;
    const starve = setInterval(() => {
      tabs[turn++ % tabs.length]?.starve(900);
    }, 2500);
    cleanups.push(() => clearInterval(starve));
    // Two guests standing still make the meadow busy (P2P) and quiet: no update but ours.
    const guests = [await bot(s, 'meadow', { serve: false }), await bot(s, 'meadow', { serve: false })];
    await until('meadow P2P', () => guests.every((g) => g.state.mode === 'p2p' && g.state.view !== null));
    const account = { name: 'relogger', password: 'secret-pass' };
    await new Api({ base: s.base }).register(account.name, account.password);
    let before: unknown = null;
    for (let cycle = 0; cycle < 20; cycle++) {
      const trail: string[] = [];
      const u = await within(login(s, account, trail), 20_000, () => `cycle ${cycle}: no state from the servers within 20 s\n${trail.join('\n')}`);
      expect(u.state.site).toBe('meadow');
      expect(u.state.mode).toBe('p2p');
      const me = (): unknown => u.state.view?.users.find((x) => x.name === account.name);
      // Back with what it left with: where it stood, what it carried.
      if (before !== null) expect(me()).toEqual(before);
      u.act({ kind: 'say', text: `cycle ${cycle}` });
      u.act({ kind: 'move', dir: cycle % 2 ? 'left' : 'right' });
      await until(`cycle ${cycle} applied`, () => Object.keys(u.state.inflight).length === 0, 20_000);
      before = me();
      u.logout();
      await until(`cycle ${cycle} logged out`, () => u.ended !== null);
    }
  }, 120_000);
});
