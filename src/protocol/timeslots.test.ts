/**
 * Anchoring at a transferred state's hints (timeslots.ts anchorAtHints) when the adopter already
 * holds a chain joined midway: sim/FINDINGS.md 60 (managed world seed 9711).
 */
import { describe, expect, it } from 'vitest';
import { buildHints } from './applying.js';
import { Chain } from './chain.js';
import { windowReady } from './finality.js';
import { growChain, handMadeServer, handMember, setMembers } from './testing.js';
import { anchorAtHints } from './timeslots.js';

describe('anchorAtHints on a chain joined midway', () => {
  it("takes the hint's stamp when the chain's anchor is the hint's Timeslot, so no backfill is asked", () => {
    // A provider holding s1 #1..#6 (stamped seq × 100) gives a state of window 450: s1 at #4.
    const { ctx: provider } = handMadeServer({ nServer: 3 });
    const ch = growChain(provider, 's1', 6);
    const hints = buildHints(provider, 450);
    expect(hints.chains.find(([id]) => id === 's1')).toEqual(['s1', 4, ch.get(4)?.hash, 400]);
    // A replacement got s1 #5 and #6 while fetching its state: it joined s1's chain at #4 (the
    // hint's Timeslot, its stamp not known). s1 #1-#4 may be held by nobody (s1 is gone).
    const members = ['s0', 's1', 's2'].map((id, slot) => handMember(id, slot));
    const { ctx: adopter, sent } = handMadeServer({ nServer: 3, now: 1000, status: 'running', members });
    setMembers(adopter, members);
    const midway = new Chain('s1', { seq: 4, hash: ch.get(4)!.hash, stamp: -Infinity }, 256, 256, ch.stay);
    for (const seq of [5, 6]) midway.offer(ch.get(seq)!.full!, 0, true);
    adopter.timeslots.chains.set('s1', midway);
    growChain(adopter, 's2', 6);
    adopter.ordering.frontier = 450;
    anchorAtHints(adopter, hints);
    const got = adopter.timeslots.chains.get('s1');
    expect(got?.anchor).toEqual({ seq: 4, hash: ch.get(4)?.hash, stamp: 400 });
    expect(got?.items.map((it) => it.seq)).toEqual([5, 6]); // what it held (and may have echoed) is kept
    expect(got?.complete(450)).toBe(true);
    // The next window waits for nothing of s1 before #5: no backfill asked.
    windowReady(adopter);
    expect(adopter.finality.blocked).not.toMatch(/^backfilling s1/);
    expect(sent.some(({ m }) => m.type === 'timeslotRequest' && m.server === 's1')).toBe(false);
  });

  it('keeps an unknown anchor unknown when the hint carries no stamp', () => {
    const { ctx: adopter } = handMadeServer({ nServer: 3 });
    const { ctx: provider } = handMadeServer({ nServer: 3 });
    const ch = growChain(provider, 's1', 6);
    const midway = new Chain('s1', { seq: 4, hash: ch.get(4)!.hash, stamp: -Infinity }, 256, 256, ch.stay);
    adopter.timeslots.chains.set('s1', midway);
    anchorAtHints(adopter, { chains: [['s1', 4, ch.get(4)!.hash, -1e300]], marks: [] });
    expect(adopter.timeslots.chains.get('s1')?.anchor.stamp).toBe(-Infinity);
  });
});
