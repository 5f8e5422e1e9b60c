import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { insecureFastScheme, type SignatureScheme } from '../../protocol/crypto.js';
import type { ClientMessage } from '../../protocol/messages.js';
import { setup, welcomeAndEnter } from '../connectionHarness.js';
import { CLOCK_PING_BASE } from '../../protocol/clock.js';
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

describe("P2PNode's clock against the admin's whole-millisecond stamps (Date.now)", () => {
  it('on a sub-millisecond link keeps its schedule: no false clock step restarts the quick rounds', () => {
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
    const pings = (): Array<Extract<ClientMessage, { type: 'ping' }>> =>
      t.sock().sent.filter((m): m is Extract<ClientMessage, { type: 'ping' }> => m.type === 'ping' && m.id >= CLOCK_PING_BASE);
    // Loopback: 0.05-0.35 ms each way, varied (a fixed delay would give every sample the same phase within the admin's millisecond).
    let seed = 7;
    const delay = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), 0.05 + (0.3 * seed) / 2 ** 31);
    let answered = 0;
    while (wake && local + wakeIn < 1000 + 120_000) {
      const w: () => void = wake;
      wake = null;
      step(wakeIn);
      w();
      for (const p of pings().slice(answered)) {
        answered++;
        step(delay());
        const serverTime = Math.floor(local + offset);
        step(delay());
        t.sock().deliver({ type: 'pong', id: p.id, t: p.t, serverTime });
      }
    }
    // Rounds of 8 start about 0, 1, 3, 7, 15, 31, 61 and 91 s in (each gap from the end of the last round).
    expect(pings()).toHaveLength(8 * 8);
    expect(Math.abs((t.conn.node!.clockOffset() ?? NaN) - offset)).toBeLessThan(0.5);
  });
});
