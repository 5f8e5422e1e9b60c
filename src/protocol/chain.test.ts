import { describe, expect, it } from 'vitest';
import { Chain } from './chain.js';
import { insecureFastScheme, ZERO_HASH } from './crypto.js';
import type { Timeslot } from './messages.js';
import { signTimeslot, timeslotHash } from './signed.js';

function chainOf(n: number): Timeslot[] {
  const out: Timeslot[] = [];
  let prev = ZERO_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const ts = signTimeslot(
      { site: 'meadow', server: 's1', seq, stamp: seq * 100, prevHash: prev, epoch: 1, entries: [['u', seq, seq * 100 - 10, 'a'.repeat(32)]], heads: [], update: null },
      'k'.repeat(64),
      insecureFastScheme,
    );
    out.push(ts);
    prev = timeslotHash(ts);
  }
  return out;
}

describe('Chain', () => {
  it('links in order, buffers ahead of a gap, drains it when the gap fills', () => {
    const ts = chainOf(4);
    const c = new Chain('s1', { seq: 0, hash: ZERO_HASH, stamp: 0 }, 16, 8);
    expect(c.offer(ts[0] as Timeslot, 0).kind).toBe('added');
    expect(c.offer(ts[2] as Timeslot, 0).kind).toBe('buffered');
    expect(c.offer(ts[3] as Timeslot, 0).kind).toBe('buffered');
    const r = c.offer(ts[1] as Timeslot, 0);
    expect(r.kind === 'added' && r.items.map((i) => i.seq)).toEqual([2, 3, 4]);
    expect(c.top.seq).toBe(4);
    expect(c.offer(ts[1] as Timeslot, 0).kind).toBe('duplicate');
  });

  it('a chain joined midway is incomplete until backfilled to seq 1 or to a Timeslot before the frontier', () => {
    const ts = chainOf(5);
    const t3 = ts[2] as Timeslot;
    const c = new Chain('s1', { seq: 2, hash: t3.prevHash, stamp: -Infinity }, 16, 8);
    c.offer(t3, 0);
    c.offer(ts[3] as Timeslot, 0);
    expect(c.complete(150)).toBe(false);
    expect(c.complete(300)).toBe(true); // what is missing lies before the frontier
    expect(c.offer(ts[1] as Timeslot, 0).kind).toBe('added'); // #2 prepended by its hash
    expect(c.complete(150)).toBe(false);
    expect(c.offer(ts[0] as Timeslot, 0).kind).toBe('added');
    expect(c.complete(150)).toBe(true);
    expect(c.items.map((i) => i.seq)).toEqual([1, 2, 3, 4]);
    // A Timeslot that does not hash to the anchor is not prepended.
    const d = new Chain('s1', { seq: 2, hash: 'f'.repeat(32), stamp: -Infinity }, 16, 8);
    expect(d.offer(ts[1] as Timeslot, 0).kind).toBe('old');
  });
});
