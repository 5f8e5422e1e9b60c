import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { insecureFastScheme, type SignatureScheme } from '../../protocol/crypto.js';
import type { ClientMessage } from '../../protocol/messages.js';
import { setup, welcomeAndEnter } from '../connectionHarness.js';
import { CLOCK_PING_BASE } from '../../protocol/clock.js';
import { IDLE_CLOCK_RESYNC_MS } from './node.js';
import { MemoryHub } from './memoryLink.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('P2PNode with a scheme still loading (the tab before its WASM Ed25519 is in)', () => {
  it('registers its key only once the scheme is ready, even with the clock synced before', async () => {
    let wake: (() => void) | null = null;
    let loaded: () => void = () => undefined;
    const crypto: SignatureScheme = { ...insecureFastScheme, ready: new Promise<void>((r) => (loaded = r)) };
    const t = setup({
      p2p: {
        links: () => new MemoryHub({ manual: true }).factory(),
        wakeup: { set: (_ms, cb) => (wake = cb), clear: () => (wake = null) },
        randomBytes: (n) => new Uint8Array(n).fill(1),
        crypto,
      },
    });
    welcomeAndEnter(t);
    const sent = (type: string) => t.sock().sent.filter((m) => m.type === type);
    wake!();
    const ping = sent('ping').at(-1) as Extract<ClientMessage, { type: 'ping' }>;
    t.advance(4);
    t.sock().deliver({ type: 'pong', id: ping.id, t: ping.t, serverTime: 1_796_000_000_000 });
    expect(t.conn.node!.clockOffset()).not.toBeNull();
    expect(sent('key')).toHaveLength(0);
    loaded();
    await crypto.ready;
    expect(sent('key')).toHaveLength(1);
  });
});

/** A P2P tab whose wake-ups the test runs by hand, answering each clock sample over a loopback link. */
function clockedTab() {
  let wake: (() => void) | null = null;
  let wakeIn = 0;
  const t = setup({
    p2p: {
      links: () => new MemoryHub({ manual: true }).factory(),
      wakeup: { set: (ms, cb) => ((wake = cb), (wakeIn = ms)), clear: () => (wake = null) },
      randomBytes: (n) => new Uint8Array(n).fill(1),
      crypto: insecureFastScheme,
    },
  });
  welcomeAndEnter(t);
  let local = 1000; // the harness's clock
  const step = (ms: number): void => void ((local += ms), t.advance(ms));
  const offset = 1_796_000_000_000.37;
  /** Clock samples sent, with the harness's time each went out. */
  const pings: Array<{ id: number; t: number; at: number }> = [];
  let seen = 0;
  // Loopback: 0.05-0.35 ms each way, varied (a fixed delay would give every sample the same phase within the admin's millisecond).
  let seed = 7;
  const delay = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), 0.05 + (0.3 * seed) / 2 ** 31);
  /** Runs the node's wake-ups until `until` (harness time), answering every clock sample. */
  const runUntil = (until: number): void => {
    while (wake && local + wakeIn < until) {
      const w: () => void = wake;
      wake = null;
      step(wakeIn);
      w();
      const sent = t.sock().sent;
      for (; seen < sent.length; seen++) {
        const p = sent[seen];
        if (p?.type !== 'ping' || p.id < CLOCK_PING_BASE) continue;
        pings.push({ id: p.id, t: p.t, at: local });
        step(delay());
        const serverTime = Math.floor(local + offset);
        step(delay());
        t.sock().deliver({ type: 'pong', id: p.id, t: p.t, serverTime });
      }
    }
  };
  return { t, pings, offset, runUntil, now: () => local };
}

/** When each round of 8 samples started, in whole seconds after `from`. */
const roundStarts = (pings: Array<{ at: number }>, from: number): number[] => pings.filter((_, i) => i % 8 === 0).map((p) => Math.floor((p.at - from) / 1000));

describe("P2PNode's clock against the admin's whole-millisecond stamps (Date.now)", () => {
  it('serving, on a sub-millisecond link keeps its schedule: no false clock step restarts the quick rounds', () => {
    const c = clockedTab();
    c.runUntil(1100); // the first round's samples, answered: the key goes out
    c.t.sock().deliver({ type: 'keyOk', serverId: 'alice~1111' });
    c.t.sock().deliver({ type: 'serve', site: 'meadow', serverId: 'alice~1111' });
    expect(c.t.conn.node!.server).not.toBeNull();
    c.runUntil(1000 + 120_000);
    // Rounds of 8 (350 ms) start 1, 2, 4, 8, 16, 30, 30 s after the end of the last one.
    expect(roundStarts(c.pings, 1000)).toEqual([0, 1, 3, 8, 16, 32, 63, 93]);
    expect(c.pings).toHaveLength(8 * 8);
    expect(Math.abs((c.t.conn.node!.clockOffset() ?? NaN) - c.offset)).toBeLessThan(0.5);
  });
});

// Each sample is a frame in and out at the admin, for every tab: a tab serving nothing has no use
// for a tight clock until it is picked (docs/performance.md "Admin CPU").
describe("P2PNode's clock pace", () => {
  it('serving nothing: the quick rounds, then one every IDLE_CLOCK_RESYNC_MS; picked to serve: a round at once, then the quick rounds; serving no more: the idle pace again', () => {
    const c = clockedTab();
    c.runUntil(1000 + 2.5 * IDLE_CLOCK_RESYNC_MS);
    // Gaps of 1, 2, 4 ... 64 s, then 120 s (each from the end of the last round, 350 ms after its start).
    expect(roundStarts(c.pings, 1000)).toEqual([0, 1, 3, 8, 16, 32, 65, 129, 249]);
    const picked = c.now();
    c.t.sock().deliver({ type: 'keyOk', serverId: 'alice~1111' });
    c.t.sock().deliver({ type: 'serve', site: 'meadow', serverId: 'alice~1111' });
    c.runUntil(picked + 40_000);
    expect(roundStarts(c.pings.slice(72), picked)).toEqual([0, 1, 3, 8, 16, 32]);
    const ended = c.now();
    c.t.sock().deliver({ type: 'serveEnd', site: 'meadow', reason: 'test' });
    expect(c.t.conn.node!.server).toBeNull();
    c.runUntil(ended + 300_000);
    // (`ended` is the last round's end.) The round already due 30 s after it comes; the gaps after it are the idle ones.
    expect(roundStarts(c.pings.slice(72 + 48), ended)).toEqual([30, 150, 270]);
    expect(Math.abs((c.t.conn.node!.clockOffset() ?? NaN) - c.offset)).toBeLessThan(0.5);
  });
});
