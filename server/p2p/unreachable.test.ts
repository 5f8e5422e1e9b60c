import { describe, expect, it } from 'vitest';
import { REPORTS_SETTLE_MS, UnreachableReports } from './unreachable.js';

describe('UnreachableReports', () => {
  it('evicts a server two peers cannot reach, once the burst settled, one at a time', () => {
    const r = new UnreachableReports({ nMajority: 2, evictEveryMs: 3000 });
    r.add('s1', 'alice', 2, 100);
    r.add('s1', 'bob', 2, 300);
    expect(r.weighAt).toBe(100 + REPORTS_SETTLE_MS);
    r.add('s2', 'carol', 2, 400);
    r.add('s2', 'dan', 2, 400);
    expect(r.weigh(1100, () => true)).toEqual({ id: 's1', by: ['alice', 'bob'] });
    expect(r.weighAt).toBeNull();
    // s2 has enough reports too, but not within T_ignore of the last eviction.
    expect(r.weigh(2000, () => true)).toBeNull();
    expect(r.weigh(4100, () => true)).toEqual({ id: 's2', by: ['carol', 'dan'] });
  });

  it('does not count a peer that cannot reach most servers (its own link is the trouble), nor evict a server gone already', () => {
    const r = new UnreachableReports({ nMajority: 2, evictEveryMs: 0 });
    // eve reaches neither s1 nor s2: her reports are not credible.
    r.add('s1', 'eve', 2, 0);
    r.add('s2', 'eve', 2, 0);
    r.add('s1', 'alice', 2, 0);
    expect(r.weigh(1000, () => true)).toBeNull();
    r.add('s1', 'bob', 2, 1000);
    expect(r.weigh(2000, (id) => id !== 's1')).toBeNull();
    expect(r.weigh(2000, () => true)).toEqual({ id: 's1', by: ['alice', 'bob'] });
  });
});
