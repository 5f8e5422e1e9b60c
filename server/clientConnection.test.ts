/**
 * The browser's own connection code (src/net/connection.ts) against the real server, over a real
 * WebSocket: what the server answers must keep the client playable.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createGameStore, type GameState, type GameStore } from '../src/client/store.js';
import type { SocketLike } from '../src/net/adminSocket.js';
import { GameConnection, MAX_INFLIGHT } from '../src/net/connection.js';
import { register, startServer } from './testkit.js';

/** Resolves once the store satisfies `pred`; rejects with the state's gist after `ms`. */
function until(store: GameStore, pred: (s: GameState) => boolean, what: string, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pred(store.getState())) return resolve();
    const timer = setTimeout(() => {
      unsubscribe();
      const s = store.getState();
      reject(new Error(`timed out waiting for ${what}; inflight ${JSON.stringify(s.inflight)}`));
    }, ms);
    const unsubscribe = store.subscribe((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}

describe('client connection against the server', () => {
  it('actions refused by the rate limiter free their in-flight slots, and play goes on', async () => {
    // A frozen clock: the one-token bucket never refills until the test moves time on.
    let t = 1_700_000_000_000;
    const s = await startServer({ now: () => t, actionRate: { perSecond: 1, burst: 1 } });
    const session = await register(s.base, 'alice');
    const store = createGameStore();
    const conn = new GameConnection({
      store,
      url: s.wsUrl,
      socketFactory: (url) => new WebSocket(url) as unknown as SocketLike,
      onEnd: () => undefined,
    });
    conn.connect(session.token);
    try {
      await until(store, (st) => st.site !== null, 'enter');
      expect(conn.sendAction({ kind: 'move', dir: 'up' })).toBe(true);
      await until(store, (st) => st.lastActionDelay !== null, 'the first action applied');

      // Twice as many refusals in a row as there are slots.
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < MAX_INFLIGHT; i++)
          expect(conn.sendAction({ kind: 'move', dir: 'down' })).toBe(true);
        await until(store, (st) => Object.keys(st.inflight).length === 0, `round ${round} answered`);
      }
      expect(store.getState().notice?.text).toContain('ERR_RATE_LIMITED');

      t += 1000;
      const seq = store.getState().acceptedSeq;
      expect(conn.sendAction({ kind: 'move', dir: 'down' })).toBe(true);
      await until(store, (st) => st.acceptedSeq > seq && Object.keys(st.inflight).length === 0, 'applied');
    } finally {
      conn.close();
    }
  });
});
