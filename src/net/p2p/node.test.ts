import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { insecureFastScheme, type SignatureScheme } from '../../protocol/crypto.js';
import type { ClientMessage } from '../../protocol/messages.js';
import { setup, welcomeAndEnter } from '../connectionHarness.js';
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
