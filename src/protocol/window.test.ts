import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AppliedSet, DEDUPE_WINDOW } from './applied.js';
import { finalCandidates, type Candidate } from './window.js';

const always = (): boolean => true;

function cand(user: string, actionNo: number, arrivals: Record<string, number>): Candidate {
  return {
    user,
    actionNo,
    hash: `${user}${actionNo}`.padEnd(32, '0'),
    reports: new Map(Object.entries(arrivals).map(([s, a]) => [s, [{ arrival: a, tsSeq: 1 }]])),
  };
}

describe('finalCandidates', () => {
  it('takes candidates whose M-th earliest arrival is within the window, in median order', () => {
    const cs = [
      cand('bob', 1, { s0: 10, s1: 20, s2: 30 }), // median 30
      cand('amy', 1, { s0: 5, s1: 6, s2: 50, s3: 7 }), // median 7
      cand('cat', 1, { s0: 1, s1: 2 }), // only 2 reports: not final
      cand('dan', 1, { s0: 90, s1: 95, s2: 99, s3: 120 }), // median 99 > 50
    ];
    const f = finalCandidates(cs, 50, 3, always);
    expect(f.map((x) => `${x.candidate.user}@${x.median}`)).toEqual(['amy@7', 'bob@30']);
  });

  it('reports arriving after the window end never change what a closed window holds (finality)', () => {
    const arrival = fc.integer({ min: 0, max: 200 });
    const servers = ['s0', 's1', 's2', 's3', 's4'];
    const candidate = fc.record({
      user: fc.constantFrom('a', 'b', 'c'),
      actionNo: fc.integer({ min: 1, max: 3 }),
      arrivals: fc.dictionary(fc.constantFrom(...servers), arrival, { maxKeys: 5 }),
    });
    fc.assert(
      fc.property(fc.array(candidate, { maxLength: 8 }), fc.integer({ min: 0, max: 200 }), (raw, end) => {
        // Before: only reports at or before the end are known; after: all of them.
        const full = raw.map((r, i) => cand(r.user + i, r.actionNo, r.arrivals));
        const early = full.map((c) => ({
          ...c,
          reports: new Map([...c.reports].filter(([, rs]) => rs.every((r) => r.arrival <= end))),
        }));
        const a = finalCandidates(early, end, 3, always).map((x) => `${x.candidate.user}#${x.median}`);
        const b = finalCandidates(full, end, 3, always).map((x) => `${x.candidate.user}#${x.median}`);
        expect(b).toEqual(a);
      }),
    );
  });
});

describe('AppliedSet', () => {
  it('remembers applied numbers, compacts runs, and treats very old numbers as applied', () => {
    const s = new AppliedSet();
    s.setFloor('a', 3);
    expect(s.has('a', 3)).toBe(true);
    expect(s.has('a', 4)).toBe(false);
    s.add('a', 5);
    expect(s.toList()).toEqual([['a', 3, [5]]]);
    s.add('a', 4);
    expect(s.toList()).toEqual([['a', 5, []]]);
    s.add('a', 10 + DEDUPE_WINDOW);
    expect(s.has('a', 9)).toBe(true);
    expect(s.has('a', 11)).toBe(false);
    expect(AppliedSet.fromList(s.toList()).toList()).toEqual(s.toList());
  });
});

describe('finalCandidates at its edges (mutants StrykerJS found alive)', () => {
  it('only counted reports make the median: a report that does not count is left out', () => {
    const c = cand('amy', 1, { s0: 10, s1: 20, s2: 30, s3: 40 });
    const all = finalCandidates([c], 100, 3, always);
    expect(all.map((x) => x.median)).toEqual([30]);
    // s1 was cut before this report: the median is the 3rd of 10, 30, 40
    const cut = finalCandidates([c], 100, 3, (server) => server !== 's1');
    expect(cut.map((x) => x.median)).toEqual([40]);
    expect(finalCandidates([c], 100, 3, (server) => server === 's0' || server === 's1')).toEqual([]);
  });

  it("a server's earliest report that counts stands for it, whichever came first (sim/FINDINGS.md 99)", () => {
    // s1 noted the action at 10 in a Timeslot past its stint's cut (#3), and again at 40 (#7)
    // once readmitted. Whichever order a replica indexed them in, the one that counts stands.
    const c = cand('amy', 1, { s0: 20, s2: 30 });
    const s1 = [
      { arrival: 10, tsSeq: 4 },
      { arrival: 40, tsSeq: 7 },
    ];
    const countedAt = (server: string, r: { tsSeq: number }): boolean => server !== 's1' || r.tsSeq >= 5;
    for (const rs of [s1, [...s1].reverse()]) {
      const f = finalCandidates([{ ...c, reports: new Map([...c.reports, ['s1', rs]]) }], 100, 3, countedAt);
      expect(f.map((x) => x.median)).toEqual([40]);
    }
    // Both count: the earlier arrival stands (a server's arrival is the first it reported).
    const both = finalCandidates([{ ...c, reports: new Map([...c.reports, ['s1', s1]]) }], 100, 2, always);
    expect(both.map((x) => x.median)).toEqual([20]);
  });

  it('a median exactly at the window end belongs to that window', () => {
    const c = cand('amy', 1, { s0: 10, s1: 20, s2: 50 });
    expect(finalCandidates([c], 50, 3, always).map((x) => x.median)).toEqual([50]);
    expect(finalCandidates([c], 49.999, 3, always)).toEqual([]);
  });

  it('two contents of one action number with one median sort by content hash, whatever the input order', () => {
    const a = { ...cand('amy', 1, { s0: 10, s1: 20, s2: 30 }), hash: 'b'.repeat(32) };
    const b = { ...cand('amy', 1, { s0: 11, s1: 19, s2: 30 }), hash: 'a'.repeat(32) };
    const c = { ...cand('amy', 1, { s0: 12, s1: 18, s2: 30 }), hash: 'c'.repeat(32) };
    for (const input of [[a, b, c], [c, b, a], [b, c, a]])
      expect(finalCandidates(input, 100, 3, always).map((x) => x.candidate.hash[0])).toEqual(['a', 'b', 'c']);
  });
});

describe('AppliedSet: every replica the same canonical form (mutants StrykerJS found alive)', () => {
  it('toList is sorted by user and number whatever the order things were applied in', () => {
    const x = new AppliedSet();
    for (const [u, n] of [['zed', 9], ['amy', 7], ['Bob', 4], ['amy', 3]] as const) x.add(u, n);
    const y = new AppliedSet();
    for (const [u, n] of [['amy', 3], ['Bob', 4], ['amy', 7], ['zed', 9]] as const) y.add(u, n);
    expect(x.toList()).toEqual([
      ['Bob', 0, [4]],
      ['amy', 0, [3, 7]],
      ['zed', 0, [9]],
    ]);
    expect(y.toList()).toEqual(x.toList());
    expect(AppliedSet.fromList(x.toList()).toList()).toEqual(x.toList());
  });

  it('setFloor raises the floor of a known user and drops the numbers below it, never lowers it', () => {
    const s = new AppliedSet();
    s.add('a', 2);
    s.add('a', 5);
    s.add('a', 9);
    s.setFloor('a', 5);
    expect(s.toList()).toEqual([['a', 5, [9]]]);
    expect(s.has('a', 4)).toBe(true);
    s.setFloor('a', 3);
    expect(s.toList()).toEqual([['a', 5, [9]]]);
    s.clear();
    expect(s.toList()).toEqual([]);
    expect(s.has('a', 1)).toBe(false);
  });
});
