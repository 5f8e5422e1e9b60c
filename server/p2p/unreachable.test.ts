import { describe, expect, it } from 'vitest';
import { SERVER_STATS_EVERY_MS } from '../../src/protocol/messages.js';
import { REPORTS_SETTLE_MS, STATS_FRESH_MS, statsFresh, UnreachableReports } from './unreachable.js';

describe("the admin's probe of a server (its serverStats)", () => {
  it('answers while its last stats are at most three periods old; one late report is no silence', () => {
    expect(STATS_FRESH_MS).toBe(3 * SERVER_STATS_EVERY_MS);
    // A server whose reports come a period late each time still answers between two of them.
    expect(statsFresh(1000, 1000 + 2 * SERVER_STATS_EVERY_MS)).toBe(true);
    expect(statsFresh(1000, 1000 + STATS_FRESH_MS)).toBe(true);
    expect(statsFresh(1000, 1000 + STATS_FRESH_MS + 1)).toBe(false);
    // Nothing yet since it started serving: not silent (its first report is one period away).
    expect(statsFresh(null, 1e9)).toBe(true);
  });
});

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

  it("finding 2: the site's users alone cannot evict a server the admin hears from; the other servers' view or the admin's probe can", () => {
    const answers = (): boolean => true;
    const r = new UnreachableReports({ nMajority: 2, evictEveryMs: 0 });
    r.add('s1', 'alice', 2, 0, 'user');
    r.add('s1', 'bob', 2, 0, 'user');
    r.add('s1', 'carol', 2, 0, 'user');
    expect(r.weigh(1000, () => true, answers)).toBeNull();
    // The admin's own probe finds it silent: the users' reports now count.
    expect(r.weigh(1000, () => true, () => false)).toEqual({ id: 's1', by: ['alice', 'bob', 'carol'] });
    // Another server of the site could not reach it either.
    r.add('s2', 'alice', 2, 2000, 'user');
    r.add('s2', 'dave', 2, 2000, 'server');
    expect(r.weigh(3000, () => true, answers)).toEqual({ id: 's2', by: ['alice', 'dave'] });
    // With N_server 5, one server's word is not enough: N_majority - 1 of them must agree.
    const five = new UnreachableReports({ nMajority: 3, evictEveryMs: 0 });
    for (const [who, role] of [['alice', 'user'], ['bob', 'user'], ['s4x', 'server']] as const) five.add('s3', who, 2, 0, role);
    expect(five.weigh(1000, () => true, answers)).toBeNull();
    five.add('s3', 's5x', 2, 1000, 'server');
    expect(five.weigh(2000, () => true, answers)?.id).toBe('s3');
  });
});
