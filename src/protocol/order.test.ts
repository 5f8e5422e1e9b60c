import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addVote, decide, dissenters, emptyVotes } from './acceptance.js';
import { compareByMedianArrival, majorityArrival, windowEndAfter } from './order.js';
import type { UpdateMessage } from './messages.js';

describe('compareByMedianArrival', () => {
  it('orders by median, then user (code units), then actionNo', () => {
    const xs = [
      { user: 'bob', actionNo: 2, median: 10 },
      { user: 'alice', actionNo: 9, median: 10 },
      { user: 'Zed', actionNo: 1, median: 10 },
      { user: 'alice', actionNo: 3, median: 10 },
      { user: 'carol', actionNo: 1, median: 5 },
    ];
    const sorted = [...xs].sort(compareByMedianArrival).map((x) => `${x.user}#${x.actionNo}`);
    expect(sorted).toEqual(['carol#1', 'Zed#1', 'alice#3', 'alice#9', 'bob#2']);
  });

  it('is a total order: antisymmetric and transitive, independent of input order', () => {
    const item = fc.record({
      user: fc.constantFrom('a', 'b', 'B', 'ab', 'é'),
      actionNo: fc.integer({ min: 1, max: 5 }),
      median: fc.constantFrom(0, 1, 1.5, 2),
    });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 30 }), (xs) => {
        const a = [...xs].sort(compareByMedianArrival);
        const b = [...xs].reverse().sort(compareByMedianArrival);
        expect(a.map((x) => JSON.stringify(x))).toEqual(b.map((x) => JSON.stringify(x)));
        for (const x of xs) for (const y of xs) expect(Math.sign(compareByMedianArrival(x, y)) + 0).toBe(-Math.sign(compareByMedianArrival(y, x)) + 0);
      }),
    );
  });
});

describe('majorityArrival', () => {
  it('is the N_majority-th earliest arrival', () => {
    expect(majorityArrival([5, 1, 3, 9, 7], 3)).toBe(5);
    expect(majorityArrival([5, 1, 3], 3)).toBe(5);
    expect(majorityArrival([5, 1], 3)).toBeNull();
    expect(majorityArrival([2, 2, 2, 1], 3)).toBe(2);
  });

  it('a minority of arbitrary arrivals keeps the median within the honest range', () => {
    // N_server = 5: 3 honest arrivals, 2 chosen by cheaters.
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 0, maxLength: 2 }),
        (honest, cheat) => {
          const m = majorityArrival([...honest, ...cheat], 3);
          expect(m).not.toBeNull();
          expect(m as number).toBeGreaterThanOrEqual(Math.min(...honest));
          expect(m as number).toBeLessThanOrEqual(Math.max(...honest));
        },
      ),
    );
  });
});

describe('majority acceptance', () => {
  const upd = (hash: string): UpdateMessage => ({
    type: 'update',
    site: 'meadow',
    seq: 1,
    prev: '0'.repeat(32),
    window: 100,
    applied: [],
    events: [],
    stateHash: '1'.repeat(32),
    hash,
  });
  const servers = new Set(['s0', 's1', 's2', 's3', 's4']);
  const A = 'a'.repeat(32);
  const B = 'b'.repeat(32);

  it('accepts when N_majority agree and a full copy is present', () => {
    const v = emptyVotes();
    addVote(v, 's0', A, upd(A), servers);
    addVote(v, 's1', A, null, servers);
    expect(decide(v, 3, servers)).toBeNull();
    addVote(v, 's2', A, null, servers);
    expect(decide(v, 3, servers)?.hash).toBe(A);
  });

  it('hashes alone are not enough: waits for a full copy of the majority hash', () => {
    const v = emptyVotes();
    for (const s of ['s0', 's1', 's2']) addVote(v, s, A, null, servers);
    addVote(v, 's3', B, upd(B), servers);
    expect(decide(v, 3, servers)).toBeNull();
    addVote(v, 's4', A, upd(A), servers);
    expect(decide(v, 3, servers)?.hash).toBe(A);
    expect(dissenters(v, A)).toEqual(['s3']);
  });

  it('a split (2-2-1) accepts nothing; a server voting twice keeps its first vote; outsiders do not count', () => {
    const v = emptyVotes();
    addVote(v, 's0', A, upd(A), servers);
    addVote(v, 's1', A, null, servers);
    addVote(v, 's2', B, upd(B), servers);
    addVote(v, 's3', B, null, servers);
    expect(addVote(v, 's3', A, null, servers)).toBe('changed');
    expect(addVote(v, 'x9', A, null, servers)).toBe('outsider');
    expect(decide(v, 3, servers)).toBeNull();
  });
});

describe('majorityArrival and windows at their edges (mutants StrykerJS found alive)', () => {
  it('N_majority 1 (a one-server site) takes the earliest; 0 or too few arrivals give null', () => {
    expect(majorityArrival([5, 3], 1)).toBe(3);
    expect(majorityArrival([], 1)).toBeNull();
    expect(majorityArrival([1, 2], 0)).toBeNull();
  });

  it('windows are (kT, (k+1)T]: a time on the grid closes its own window', () => {
    expect(windowEndAfter(0, 100)).toBe(0);
    expect(windowEndAfter(0.5, 100)).toBe(100);
    expect(windowEndAfter(100, 100)).toBe(100);
    expect(windowEndAfter(100.5, 100)).toBe(200);
    expect(windowEndAfter(250, 50)).toBe(250);
  });
});

describe('majority acceptance: the answers and a changed server set', () => {
  const upd = (hash: string): UpdateMessage => ({
    type: 'update',
    site: 'meadow',
    seq: 1,
    prev: '0'.repeat(32),
    window: 100,
    applied: [],
    events: [],
    stateHash: '1'.repeat(32),
    hash,
  });
  const A = 'a'.repeat(32);
  const B = 'b'.repeat(32);

  it('says whether a vote counted, repeated or changed (the user flags only a change)', () => {
    const servers = new Set(['s0', 's1', 's2']);
    const v = emptyVotes();
    expect(addVote(v, 's0', A, null, servers)).toBe('counted');
    expect(addVote(v, 's0', A, upd(A), servers)).toBe('duplicate');
    expect(addVote(v, 's0', B, null, servers)).toBe('changed');
    expect(v.byServer.get('s0')).toBe(A);
    expect(v.full.get(A)?.hash).toBe(A); // a full copy that arrives with a repeated vote is kept
  });

  it('votes of servers that left the set no longer count', () => {
    const v = emptyVotes();
    const before = new Set(['s0', 's1', 's2', 's3', 's4']);
    for (const s of ['s0', 's1', 's2']) addVote(v, s, A, upd(A), before);
    expect(decide(v, 3, before)?.hash).toBe(A);
    const after = new Set(['s1', 's2', 's3', 's4', 'c0']); // s0 replaced
    expect(decide(v, 3, after)).toBeNull();
    addVote(v, 'c0', A, null, after);
    expect(decide(v, 3, after)?.hash).toBe(A);
  });
});
