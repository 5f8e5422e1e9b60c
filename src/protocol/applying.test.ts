/**
 * The hints an update's stored state carries (applying.ts buildHints): where each chain stood at
 * the update's window, which an adopter of that state anchors at.
 */
import { describe, expect, it } from 'vitest';
import { buildHints } from './applying.js';
import { Chain } from './chain.js';
import { ZERO_HASH } from './crypto.js';
import { requestIgnore } from './liveness.js';
import { growChain, handMadeServer, handMember, setMembers } from './testing.js';
import { anchorAtHints, maybeEcho } from './timeslots.js';

/** A server's state (testing.ts handMadeServer) with chains s1 (Timeslots 1..n stamped seq × 100; epoch 2 from #4) and s2 (none yet). */
function fixture(n: number) {
  const { ctx, sent } = handMadeServer({ nServer: 3 });
  const ch = growChain(ctx, 's1', n, { epoch: (seq) => (seq <= 3 ? 1 : 2) });
  growChain(ctx, 's2', 0);
  return { ctx, ch, sent };
}

describe('buildHints', () => {
  it('names, per chain, the last Timeslot stamped at or before the window', () => {
    const { ctx, ch } = fixture(10);
    const at = (b: number) => buildHints(ctx, b).chains.find(([id]) => id === 's1');
    expect(at(450)).toEqual(['s1', 4, ch.get(4)?.hash, 400]);
    expect(at(400)).toEqual(['s1', 4, ch.get(4)?.hash, 400]); // at the window's end counts
    expect(at(399)).toEqual(['s1', 3, ch.get(3)?.hash, 300]);
    expect(at(5000)).toEqual(['s1', 10, ch.top.hash, 1000]); // the top
    expect(at(150)).toEqual(['s1', 1, ch.get(1)?.hash, 100]); // the first
    expect(at(50)).toEqual(['s1', 0, ZERO_HASH, 0]); // before the first: the anchor
    expect(buildHints(ctx, 450).chains.find(([id]) => id === 's2')).toEqual(['s2', 0, ZERO_HASH, 0]);
  });

  it("carries each chain's epoch marks", () => {
    const { ctx } = fixture(5);
    expect(buildHints(ctx, 450).marks).toEqual([
      ['s1', 1, 1, 100],
      ['s1', 2, 4, 400],
    ]);
  });
});

describe('anchorAtHints', () => {
  it('an adopter takes the marks at or below each anchor; those above come with the Timeslots it fetches', () => {
    const { ctx: provider, ch } = fixture(6);
    const hints = buildHints(provider, 250); // s1 anchored at #2; its marks: epoch 1 at #1, 2 at #4
    expect(hints.marks).toEqual([
      ['s1', 1, 1, 100],
      ['s1', 2, 4, 400],
    ]);
    const { ctx: adopter } = fixture(0);
    setMembers(adopter, ['s0', 's1', 's2'].map((id, slot) => handMember(id, slot))); // a core adopts a state only under a record
    adopter.timeslots.chains.delete('s1');
    anchorAtHints(adopter, hints);
    const got = adopter.timeslots.chains.get('s1');
    expect(got?.anchor).toEqual({ seq: 2, hash: ch.get(2)?.hash, stamp: 200 });
    expect(got?.marks).toEqual([{ epoch: 1, seq: 1, stamp: 100 }]);
    for (let seq = 3; seq <= 6; seq++) got?.offer(ch.get(seq)!.full!, 0, true);
    expect(got?.marks).toEqual(ch.marks);
  });

  // sim/FINDINGS.md 26 (managed world seed 111): the cut must cover what each decider echoed.
  it('an ignore request carries the highest Timeslot echoed, also after a state re-anchored the chain lower', () => {
    const { ctx: provider, ch } = fixture(6);
    const hints = buildHints(provider, 250); // s1 anchored at #2
    // A replacement that joined s1's chain midway (it got #5 and #6 while fetching its state),
    // running, and echoing what it holds: the others may now take s1#6 as stable.
    const { ctx: adopter, sent } = fixture(0);
    setMembers(adopter, ['s0', 's1', 's2'].map((id, slot) => handMember(id, slot)));
    adopter.lifecycle.status = 'syncing';
    const midway = new Chain('s1', { seq: 4, hash: ch.get(4)!.hash, stamp: -Infinity }, 256, 256, ch.stay);
    for (const seq of [5, 6]) midway.offer(ch.get(seq)!.full!, 0, true);
    adopter.timeslots.chains.set('s1', midway);
    maybeEcho(adopter, true);
    const echo = sent.find((x) => x.m.type === 'echo')?.m;
    expect(echo?.type === 'echo' && echo.heads.find(([id]) => id === 's1')?.[1]).toBe(6);
    // The state it adopts is older: its chain of s1 is anchored at #2, below what it echoed.
    anchorAtHints(adopter, hints);
    expect(adopter.timeslots.chains.get('s1')?.top.seq).toBe(2);
    expect([...adopter.timeslots.chains.get('s1')!.future.keys()]).toEqual([5, 6]); // kept, to join again
    // s1 falls silent: the request's Timeslot (the cut, if it alone decides) is s1#6, not nothing.
    requestIgnore(adopter, 's1');
    const req = sent.find((x) => x.m.type === 'membershipRequest')?.m;
    expect(req?.type === 'membershipRequest' && req.held?.seq).toBe(6);
  });
});
