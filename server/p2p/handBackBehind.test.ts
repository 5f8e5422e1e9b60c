/**
 * The hand-back's fetch when the server it asks first is behind the others (sim/FINDINGS.md 51,
 * managed world seed 9711): its older state is one the others still vouch for, so taking it again
 * and again never reached the marker. A state past the last one taken is asked for instead.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ADMIN_ID, SYSTEM_ACTOR } from '../../src/protocol/messages.js';
import { harness } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('P2PSite hand-back with a server behind', () => {
  it('closes with another server\'s state past the marker when s0 serves only an older update, and flags nobody', async () => {
    const h = harness();
    await h.start();
    h.act('alice', { kind: 'move', dir: 'right' });
    await h.run(400);
    const old = h.appliedIn('alice', 1)!;
    expect(old).toBeGreaterThan(0);
    // s0 (asked first: the first of the site's servers) answers every state request with that
    // older update, as a server stuck there would; the others keep its hash, so they vouch for it.
    const rewrite = h.net.rewrite;
    h.net.rewrite = (from, to, msg) => {
      const m = rewrite(from, to, msg);
      return m && from === ADMIN_ID && to === 's0' && m.type === 'stateRequest' ? { ...m, seq: old } : m;
    };
    h.site.close('test');
    for (let i = 0; i < 50 && h.closed.length === 0; i++) await h.run(100);
    expect(h.closed).toHaveLength(1);
    const markerSeq = h.appliedIn(SYSTEM_ACTOR, h.sysNo(SYSTEM_ACTOR))!;
    expect(h.closed[0]!.seq).toBeGreaterThanOrEqual(markerSeq);
    expect(h.closed[0]!.snapshot).toEqual(h.servers.get('s1')?.snapshot());
    expect(h.minority).toEqual([]);
  });
});
