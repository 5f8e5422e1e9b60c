import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { insecureFastScheme } from '../protocol/crypto.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import type { SessionEnd } from './connection.js';
import { plainBox } from './connectionHarness.js';
import { FakeSocket } from './fakeSocket.js';
import { MemoryHub } from './p2p/memoryLink.js';
import { RECONNECT_FOR_MS, ReconnectingSession, reconnectDelay } from './reconnect.js';

describe('reconnectDelay', () => {
  it('backs off linearly up to a cap', () => {
    expect([1, 2, 3, 6, 7, 50].map((n) => reconnectDelay(n, 0))).toEqual([800, 1600, 2400, 4800, 5000, 5000]);
  });

  it('keeps trying through a server restart of several seconds, then gives up', () => {
    // Attempts spaced as the app spaces them: the sum of the delays so far is the time since the drop.
    let since = 0;
    let attempts = 0;
    for (let n = 1; ; n++) {
      const d = reconnectDelay(n, since);
      if (d === null) break;
      since += d;
      attempts = n;
    }
    expect(attempts).toBeGreaterThan(10);
    expect(since).toBe(RECONNECT_FOR_MS);
    expect(reconnectDelay(1, RECONNECT_FOR_MS)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// ReconnectingSession: fake sockets, a P2P node on (unused) in-memory links.
// ---------------------------------------------------------------------------------------------

function session(o: { retryToken?: () => string | null } = {}) {
  let clock = 0;
  const sockets: FakeSocket[] = [];
  const ends: SessionEnd[] = [];
  const store = plainBox();
  const s = new ReconnectingSession({
    store,
    url: 'ws://test/ws',
    socketFactory: (url) => {
      const k = new FakeSocket(url);
      sockets.push(k);
      return k;
    },
    now: () => clock,
    p2p: {
      links: () => new MemoryHub({ manual: true }).factory(),
      wakeup: { set: () => undefined, clear: () => undefined },
      randomBytes: (n) => new Uint8Array(n).fill(7),
      crypto: insecureFastScheme,
    },
    onEnd: (e) => ends.push(e),
    ...o,
  });
  s.connect('tok');
  const sock = (): FakeSocket => sockets.at(-1)!;
  const welcome = (): void => {
    sock().open();
    sock().deliver({
      type: 'welcome',
      v: PROTOCOL_VERSION,
      user: 'alice',
      guest: false,
      serverTime: 1,
      adminKey: 'ab'.repeat(32),
      challenge: 'cd'.repeat(32),
      p2p: { config: {}, transferThreshold: 3, linkTimeoutMs: 10_000 },
      iceServers: [],
    });
  };
  /** Lets `ms` pass on both the session's clock and its timers. */
  const wait = (ms: number): void => {
    clock += ms;
    vi.advanceTimersByTime(ms);
  };
  return { s, store, sockets, ends, sock, welcome, wait };
}

describe('ReconnectingSession', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('after a drop tries again with the same token and the same running P2P node', () => {
    const t = session();
    t.welcome();
    const node = t.s.node!;
    const first = t.s.conn;
    t.sock().close(1006, '');
    expect(t.store.getState().status).toBe('connecting');
    expect(t.s.reconnecting).toBe(true);
    expect(node.isClosed).toBe(false);
    expect(t.sockets).toHaveLength(1);
    t.wait(800);
    expect(t.sockets).toHaveLength(2);
    expect(t.s.conn).not.toBe(first);
    expect(t.s.node).toBe(node);
    t.sock().open();
    expect(t.sock().sent[0]).toEqual({ type: 'hello', v: PROTOCOL_VERSION, token: 'tok' });
    // Refused while the admin is down: the next attempts back off, still with the same node.
    t.sock().close(1006, '');
    t.wait(1599);
    expect(t.sockets).toHaveLength(2);
    t.wait(1);
    expect(t.sockets).toHaveLength(3);
    t.welcome();
    expect(t.s.node).toBe(node);
    expect(t.store.getState().status).toBe('online');
    // A session that was up starts a new outage: the first delay again.
    t.sock().close(1006, '');
    t.wait(800);
    expect(t.sockets).toHaveLength(4);
    expect(t.ends).toEqual([]);
  });

  it(`gives up after ${RECONNECT_FOR_MS / 1000} s and closes the node`, () => {
    const t = session();
    t.welcome();
    const node = t.s.node!;
    t.sock().close(1006, '');
    for (let i = 0; i < 100 && t.ends.length === 0; i++) {
      t.wait(5000);
      t.sock().close(1006, '');
    }
    expect(t.ends).toEqual([{ error: { code: 'ERR_CLOSED', message: 'connection closed' }, dropToken: false }]);
    expect(node.isClosed).toBe(true);
    const n = t.sockets.length;
    t.wait(60_000);
    expect(t.sockets).toHaveLength(n);
  });

  it('logging out or closing between attempts ends at once and closes the node', () => {
    for (const how of ['logout', 'close'] as const) {
      const t = session();
      t.welcome();
      const node = t.s.node!;
      t.sock().close(1006, '');
      t.s[how]();
      expect(t.ends).toEqual([{ error: null, dropToken: how === 'logout' }]);
      expect(node.isClosed).toBe(true);
      t.wait(10_000);
      expect(t.sockets).toHaveLength(1);
    }
  });

  it('does not retry a fatal error, nor without a token', () => {
    const a = session();
    a.welcome();
    a.sock().deliver({ type: 'bye', reason: 'ERR_LOGGED_IN_ELSEWHERE' });
    expect(a.ends[0]?.error?.code).toBe('ERR_LOGGED_IN_ELSEWHERE');
    const b = session({ retryToken: () => null });
    b.welcome();
    const node = b.s.node!;
    b.sock().close(1006, '');
    expect(b.ends[0]?.error?.code).toBe('ERR_CLOSED');
    expect(node.isClosed).toBe(true);
    for (const t of [a, b]) {
      t.wait(10_000);
      expect(t.sockets).toHaveLength(1);
    }
  });
});
