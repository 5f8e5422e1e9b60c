/**
 * Finality on its own (finality.ts): a Site Server's state is set up by hand, with no network,
 * and the rules are checked one by one (docs/protocol.md section 2, and "Admission point" in
 * section 3).
 */
import { describe, expect, it } from 'vitest';
import { Chain } from './chain.js';
import { ZERO_HASH } from './crypto.js';
import {
  admission,
  blockedReason,
  counted,
  creditCover,
  cutComplete,
  dropBranch,
  forgetAdmissions,
  latestMarker,
  noteBlocked,
  pruneChains,
  stableSeq,
  stableStamp,
  windowReady,
} from './finality.js';
import type { Member, Stint, TimeslotEntry } from './messages.js';
import { indexItem } from './reports.js';
import type { ServerState } from './serverContext.js';
import { extendChain, growChain, HAND_STAY, handMadeServer, handMember, setMembers } from './testing.js';

const IDS = ['s0', 's1', 's2', 's3', 's4'];

const member = (id: string, stints?: Stint[], slot: number | null = IDS.indexOf(id)): Member => handMember(id, slot, stints);

/** Server s0 of a five-server site (testing.ts handMadeServer), running, frontier 0, T 100, no chains yet. */
function fixture(members: Member[] = IDS.map((id) => member(id))) {
  const { ctx, sent } = handMadeServer({ nServer: 5, now: 1000, status: 'running', members });
  ctx.ordering.frontier = 0;
  return { ctx, sent };
}

/** Peer `p` echoed holding `y` up to `seq` with our hash. */
function echo(ctx: ServerState, p: string, y: string, seq: number): void {
  let c = ctx.finality.cover.get(p);
  if (!c) ctx.finality.cover.set(p, (c = new Map()));
  c.set(y, seq);
}

/** Every server echoed every other server's chain up to `seq`. */
function echoAll(ctx: ServerState, seq: number): void {
  for (const p of IDS) for (const y of IDS) if (p !== y) echo(ctx, p, y, seq);
}

/** Every server holds every chain up to `n`, and every server echoed all of them. */
function allStable(ctx: ServerState, n: number): void {
  for (const y of IDS) growChain(ctx, y, n);
  echoAll(ctx, n);
}

/**
 * s4 admitted at epoch 3 beside s0..s2 (serving throughout) and s3 (with `s3Stints`): sets the
 * members and returns s4's admission point for that stint, worked out anew at each call.
 */
function admitS4AtEpoch3(ctx: ServerState, s3Stints: Stint[]): () => ReturnType<typeof admission> {
  setMembers(ctx, [member('s0'), member('s1'), member('s2'), member('s3', s3Stints), member('s4', [{ admit: 3, cut: null }])]);
  const s4 = ctx.roster.members.get('s4') as Member;
  return () => admission(ctx, s4, { admit: 3, cut: null });
}

/**
 * Window (100, 200] at s0, s0..s3 holding and echoing each other's chains to #4, s4 with `s4Stints`
 * and what `holdS4` gives of its chain: whether it closes, why not, and the ranges asked of whom.
 */
function windowWithS4(s4Stints: Stint[], holdS4: (ctx: ServerState) => void): [boolean, string, string[]] {
  const { ctx, sent } = fixture([...IDS.slice(0, 4).map((id) => member(id)), member('s4', s4Stints)]);
  for (const y of ['s0', 's1', 's2', 's3']) growChain(ctx, y, 4);
  echoAll(ctx, 4);
  holdS4(ctx);
  ctx.ordering.frontier = 100;
  const ready = windowReady(ctx);
  const asked = sent.flatMap(({ m }) => (m.type === 'timeslotRequest' ? [`${m.server}:${m.fromSeq}-${m.toSeq}`] : []));
  return [ready, ctx.finality.blocked, [...new Set(asked)]];
}

const cutAt = (ctx: ServerState, id: string, seq: number): { seq: number; hash: string } => ({
  seq,
  hash: ctx.timeslots.chains.get(id)?.hashOf(seq) ?? ZERO_HASH,
});

describe('stable Timeslots', () => {
  it('a Timeslot is stable once every other active server echoed it, not with one echo missing', () => {
    const { ctx } = fixture();
    growChain(ctx, 's1', 5);
    for (const p of ['s2', 's3', 's4']) echo(ctx, p, 's1', 5);
    expect(stableSeq(ctx, 's1')).toBe(5);
    expect(stableStamp(ctx, 's1')).toBe(500);
    echo(ctx, 's4', 's1', 4);
    expect(stableSeq(ctx, 's1')).toBe(4);
    ctx.finality.cover.get('s4')?.delete('s1'); // s4 never echoed s1: only the anchor is stable
    expect(stableSeq(ctx, 's1')).toBe(0);
    expect(stableStamp(ctx, 's1')).toBe(0);
  });

  it('our own echo is not needed, and an ignored server echoes for nothing', () => {
    const { ctx } = fixture([...IDS.slice(0, 4).map((id) => member(id)), member('s4', [{ admit: 0, cut: { seq: 0, hash: ZERO_HASH } }])]);
    growChain(ctx, 's1', 3);
    for (const p of ['s2', 's3']) echo(ctx, p, 's1', 3);
    expect(stableSeq(ctx, 's1')).toBe(3);
  });

  it('stops at the freeze point of a server we asked to ignore, and at a cut unless asked not to', () => {
    const { ctx } = fixture();
    growChain(ctx, 's1', 6);
    for (const p of ['s2', 's3', 's4']) echo(ctx, p, 's1', 6);
    ctx.liveness.frozen.set('s1', { seq: 4, at: 0 });
    expect(stableSeq(ctx, 's1')).toBe(4);
    ctx.liveness.frozen.clear();
    setMembers(ctx, IDS.map((id) => (id === 's1' ? member(id, [{ admit: 0, cut: cutAt(ctx, 's1', 2) }]) : member(id))));
    expect(stableSeq(ctx, 's1')).toBe(2);
    // An ignored server's echoes no longer count, so s1 itself must not be needed for its own.
    expect(stableSeq(ctx, 's1', true)).toBe(6);
  });

  it('is never above what we hold, and -1 for a chain we do not hold', () => {
    const { ctx } = fixture();
    growChain(ctx, 's1', 2);
    for (const p of ['s2', 's3', 's4']) echo(ctx, p, 's1', 9);
    expect(stableSeq(ctx, 's1')).toBe(2);
    expect(stableSeq(ctx, 's2')).toBe(-1);
    expect(stableStamp(ctx, 's2')).toBe(-Infinity);
  });
});

describe('counted reports', () => {
  it('a report from past a cut does not count; one up to the cut and one from a transferred state do', () => {
    const { ctx } = fixture();
    growChain(ctx, 's4', 5);
    setMembers(ctx, IDS.map((id) => (id === 's4' ? member(id, [{ admit: 0, cut: cutAt(ctx, 's4', 3) }]) : member(id))));
    expect(counted(ctx, 's4', { arrival: 250, tsSeq: 3 })).toBe(true);
    expect(counted(ctx, 's4', { arrival: 350, tsSeq: 4 })).toBe(false);
    expect(counted(ctx, 's4', { arrival: 350, tsSeq: 0 })).toBe(true);
    expect(counted(ctx, 'zz', { arrival: 50, tsSeq: 1 })).toBe(false);
  });

  it('a readmitted stint counts only after its admission point; the earlier stint still up to its cut', () => {
    const { ctx } = fixture();
    // s1..s3 moved to epoch 3 (s4's readmission) at their Timeslot #4 (stamp 400); s4 was cut at #2.
    for (const y of ['s0', 's1', 's2', 's3']) growChain(ctx, y, 6, { epoch: (s) => (s >= 4 ? 3 : 1) });
    growChain(ctx, 's4', 6);
    echoAll(ctx, 6);
    setMembers(ctx, IDS.map((id) => (id === 's4' ? member(id, [{ admit: 0, cut: cutAt(ctx, 's4', 2) }, { admit: 3, cut: null }]) : member(id))));
    expect(admission(ctx, ctx.roster.members.get('s4') as Member, { admit: 3, cut: null })).toEqual({ known: true, at: 400 });
    expect(counted(ctx, 's4', { arrival: 150, tsSeq: 2 })).toBe(true); // first stint, up to its cut
    expect(counted(ctx, 's4', { arrival: 350, tsSeq: 4 })).toBe(false); // between cut and admission
    expect(counted(ctx, 's4', { arrival: 400, tsSeq: 4 })).toBe(false); // at the admission point: not after it
    expect(counted(ctx, 's4', { arrival: 450, tsSeq: 5 })).toBe(true);
  });
});

describe('admission points', () => {
  it('an initial stint counts from the start', () => {
    const { ctx } = fixture();
    expect(admission(ctx, ctx.roster.members.get('s1') as Member, { admit: 0, cut: null })).toEqual({ known: true, at: -Infinity });
  });

  it('is the grid point after the latest stable epoch mark of the others, and unknown before they are stable', () => {
    const { ctx } = fixture([...IDS.slice(0, 4).map((id) => member(id)), member('s4', [{ admit: 2, cut: null }])]);
    growChain(ctx, 's0', 5, { epoch: (s) => (s >= 2 ? 2 : 1) });
    growChain(ctx, 's1', 5, { epoch: (s) => (s >= 3 ? 2 : 1), stamp: (s) => s * 100 + 10 });
    growChain(ctx, 's2', 5, { epoch: (s) => (s >= 2 ? 2 : 1) });
    growChain(ctx, 's3', 5, { epoch: (s) => (s >= 2 ? 2 : 1) });
    const s4 = ctx.roster.members.get('s4') as Member;
    const stint = { admit: 2, cut: null };
    // s1's mark (#3, stamp 310) is not stable yet: nobody echoed s1.
    for (const p of IDS) for (const y of ['s0', 's2', 's3']) if (p !== y) echo(ctx, p, y, 5);
    const a = admission(ctx, s4, stint);
    expect(a.known).toBe(false);
    // `covers` reads the marks as held (sim/FINDINGS.md 58): s1's is a fact of its signed chain.
    expect(latestMarker(ctx, s4, stint)).toBe(310);
    if (a.known) return;
    // What is known bounds it from below: s0, s2, s3 marked at stamp 200, s1 is stable up to its anchor.
    expect(a.exceeds(199)).toBe(true);
    expect(a.exceeds(200)).toBe(false);
    for (const p of ['s0', 's2', 's3', 's4']) echo(ctx, p, 's1', 3);
    expect(admission(ctx, s4, stint)).toEqual({ known: true, at: 400 }); // ceil to the grid of 310
    // What an ignore request's `covers` compares with: the mark itself, before the rounding
    // (sim/FINDINGS.md 39: seed 215 stalled on a held Timeslot stamped between the two).
    expect(latestMarker(ctx, s4, stint)).toBe(310);
    expect(latestMarker(ctx, s4, { admit: 0, cut: null })).toBe(-Infinity);
  });

  it('is computed from the stint each other server was serving then, not its latest one', () => {
    // s3 was cut at #5 (epoch 2) and readmitted at epoch 4; s4 was admitted at epoch 3, while s3
    // was cut. s3's part of s4's admission point is its cut (#5, stamp 500), not the epoch-4 mark
    // of its new stint (#6, stamp 600).
    const { ctx } = fixture();
    for (const y of ['s0', 's1', 's2']) growChain(ctx, y, 8, { epoch: (s) => (s >= 3 ? 3 : 1) });
    growChain(ctx, 's3', 8, { epoch: (s) => (s >= 6 ? 4 : 1) });
    echoAll(ctx, 8);
    const cut3 = cutAt(ctx, 's3', 5);
    const admissionOfS4 = admitS4AtEpoch3(ctx, [{ admit: 0, cut: cut3 }, { admit: 4, cut: null }]);
    expect(admissionOfS4()).toEqual({ known: true, at: 500 });
  });

  it("takes a cut server's part from the record when the chain is held only from past the cut (a state taken since)", () => {
    // As above, but s0 took a state after s3's cut: it holds s3's chain from #7 on. The record's
    // cut carries the stamp of s3#5, so s0 computes the same point as everyone else (sim/FINDINGS.md
    // 17: without it the point stayed unknown, and s0's windows with it).
    const { ctx } = fixture();
    for (const y of ['s0', 's1', 's2']) growChain(ctx, y, 8, { epoch: (s) => (s >= 3 ? 3 : 1) });
    growChain(ctx, 's3', 8, { epoch: (s) => (s >= 6 ? 4 : 1) });
    echoAll(ctx, 8);
    const cut3 = { ...cutAt(ctx, 's3', 5), stamp: 500, epoch: 1 };
    const s3 = ctx.timeslots.chains.get('s3') as Chain;
    s3.reset({ seq: 7, hash: s3.hashOf(7) ?? '', stamp: 700 });
    const admissionOfS4 = admitS4AtEpoch3(ctx, [{ admit: 0, cut: cut3 }, { admit: 4, cut: null }]);
    expect(admissionOfS4()).toEqual({ known: true, at: 500 });
  });

  it("waits for a cut server's chain when the record says it marked the epoch before its cut", () => {
    // s3 moved to epoch 3 at #4 (stamp 400) and was cut at #5 (epoch 3). Its part is its mark,
    // not its cut: while s0 holds s3's chain only up to #2, the point is unknown, not the cut's
    // stamp (taken from the record, it made a point a grid step late: managed seed 172).
    const { ctx } = fixture();
    for (const y of ['s0', 's1', 's2']) growChain(ctx, y, 8, { epoch: (s) => (s >= 4 ? 3 : 1) });
    const full = growChain(ctx, 's3', 5, { epoch: (s) => (s >= 4 ? 3 : 1) });
    const cut3 = { ...cutAt(ctx, 's3', 5), stamp: 500, epoch: 3 };
    const s3 = growChain(ctx, 's3', 2, { epoch: (s) => (s >= 4 ? 3 : 1) });
    echoAll(ctx, 8);
    const admissionOfS4 = admitS4AtEpoch3(ctx, [{ admit: 0, cut: cut3 }]);
    expect(admissionOfS4().known).toBe(false);
    for (let seq = 3; seq <= 5; seq++) s3.offer(full.get(seq)!.full!, 0, true);
    expect(admissionOfS4()).toEqual({ known: true, at: 400 });
  });

  it("is not taken from a chain joined midway, whose first held mark may be a later epoch's (sim/FINDINGS.md 105)", () => {
    // s1 marked epoch 2 at #2 (stamp 200) and epoch 3 at #5 (stamp 500). s0 holds s1's chain
    // from #5 on only (joined midway): its first held mark, epoch 3, is not s1's first Timeslot of
    // an epoch >= 2, and taking it made the point 500 where everyone else computed 200 (managed
    // seed 44669: a replacement closed two windows without the readmitted server's reports).
    // s4 first: its admission is checked before s1's chain is (windowReady goes by member).
    const { ctx, sent } = fixture([member('s4', [{ admit: 2, cut: null }]), ...IDS.slice(0, 4).map((id) => member(id))]);
    for (const y of ['s0', 's2', 's3']) growChain(ctx, y, 8, { epoch: (s) => (s >= 2 ? 2 : 1) });
    const full = growChain(ctx, 's1', 8, { epoch: (s) => (s >= 5 ? 3 : s >= 2 ? 2 : 1) });
    const s1 = new Chain('s1', { seq: 4, hash: full.hashOf(4) ?? '', stamp: -Infinity }, 256, 256, HAND_STAY);
    for (let seq = 5; seq <= 8; seq++) s1.offer(full.get(seq)!.full!, 0, true);
    ctx.timeslots.chains.set('s1', s1);
    echoAll(ctx, 8);
    const s4 = ctx.roster.members.get('s4') as Member;
    const stint = { admit: 2, cut: null };
    expect(admission(ctx, s4, stint).known).toBe(false);
    expect(latestMarker(ctx, s4, stint)).toBe(null);
    // The window past the others' marks waits, and asks for s1's chain below what it holds.
    ctx.ordering.frontier = 200;
    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toBe('admission of s4 (epoch 2) not known yet');
    expect(sent.some(({ m }) => m.type === 'timeslotRequest' && m.server === 's1' && m.toSeq === 4)).toBe(true);
    // Backfilled to #1: the epoch-2 mark at #2 is held, and the point is everyone's.
    for (let seq = 4; seq >= 1; seq--) s1.offer(full.get(seq)!.full!, 0, true);
    expect(admission(ctx, s4, stint)).toEqual({ known: true, at: 200 });
    expect(latestMarker(ctx, s4, stint)).toBe(200);
  });

  it("takes a chain's mark past its first held Timeslot: the one before it is held, of a lower epoch", () => {
    // As above, but s0 holds s1 from #3 on: the epoch-3 mark at #5 lies past it, and #3, #4 are
    // epoch 2, so the first mark of an epoch >= 3 is known without a backfill.
    const { ctx } = fixture([...IDS.slice(0, 4).map((id) => member(id)), member('s4', [{ admit: 3, cut: null }])]);
    for (const y of ['s0', 's2', 's3']) growChain(ctx, y, 8, { epoch: (s) => (s >= 5 ? 3 : 1) });
    const full = growChain(ctx, 's1', 8, { epoch: (s) => (s >= 5 ? 3 : s >= 2 ? 2 : 1) });
    const s1 = new Chain('s1', { seq: 2, hash: full.hashOf(2) ?? '', stamp: -Infinity }, 256, 256, HAND_STAY);
    for (let seq = 3; seq <= 8; seq++) s1.offer(full.get(seq)!.full!, 0, true);
    ctx.timeslots.chains.set('s1', s1);
    echoAll(ctx, 8);
    expect(admission(ctx, ctx.roster.members.get('s4') as Member, { admit: 3, cut: null })).toEqual({ known: true, at: 500 });
  });

  it('once known it never moves (cached), even when the chains it came from change', () => {
    const { ctx } = fixture([...IDS.slice(0, 4).map((id) => member(id)), member('s4', [{ admit: 2, cut: null }])]);
    for (const y of ['s0', 's1', 's2', 's3']) growChain(ctx, y, 4, { epoch: (s) => (s >= 2 ? 2 : 1) });
    echoAll(ctx, 4);
    const s4 = ctx.roster.members.get('s4') as Member;
    expect(admission(ctx, s4, { admit: 2, cut: null })).toEqual({ known: true, at: 200 });
    ctx.timeslots.chains.get('s1')?.reset({ seq: 4, hash: ZERO_HASH, stamp: 400 });
    expect(admission(ctx, s4, { admit: 2, cut: null })).toEqual({ known: true, at: 200 });
    // After a state is adopted the points are worked out again from the chains now held: here
    // s1's chain marks epoch 2 at #3 (stamp 300).
    growChain(ctx, 's1', 4, { epoch: (s) => (s >= 3 ? 2 : 1) });
    expect(admission(ctx, s4, { admit: 2, cut: null })).toEqual({ known: true, at: 200 });
    forgetAdmissions(ctx);
    expect(admission(ctx, s4, { admit: 2, cut: null })).toEqual({ known: true, at: 300 });
  });
});

describe('echo cover', () => {
  it('an echo raises what its sender covers, never lowers it', () => {
    const { ctx } = fixture();
    creditCover(ctx, 's1', 's2', 5);
    creditCover(ctx, 's1', 's2', 3);
    expect(ctx.finality.cover.get('s1')?.get('s2')).toBe(5);
    creditCover(ctx, 's1', 's2', 7);
    expect(ctx.finality.cover.get('s1')?.get('s2')).toBe(7);
    creditCover(ctx, 's3', 's2', 0); // a first echo is recorded, whatever its seq
    expect(ctx.finality.cover.get('s3')?.get('s2')).toBe(0);
    expect(ctx.finality.cover.get('s1')?.get('s3')).toBeUndefined();
  });
});

describe('window readiness', () => {
  it('a window closes when every required server is stable past its end, not with one echo missing', () => {
    const { ctx } = fixture();
    allStable(ctx, 1);
    expect(windowReady(ctx)).toBe(true);
    expect(ctx.finality.blocked).toBe('');
    ctx.finality.cover.get('s3')?.delete('s2');
    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toMatch(/^s2 not stable past 100/);
    // The details are worked out when asked; a window that closes again clears them.
    expect(blockedReason(ctx)).toBe('s2 not stable past 100 (held #1 @100, frozen -, echoes s1:1 s3:- s4:1)');
    echo(ctx, 's3', 's2', 1);
    expect(windowReady(ctx)).toBe(true);
    expect(blockedReason(ctx)).toBe('');
  });

  it('a reason another module notes replaces the last one, details and all', () => {
    const { ctx } = fixture();
    allStable(ctx, 1);
    ctx.finality.cover.get('s3')?.delete('s2');
    expect(windowReady(ctx)).toBe(false);
    noteBlocked(ctx, 'content missing for a final action of window 100');
    expect(blockedReason(ctx)).toBe('content missing for a final action of window 100');
  });

  it('needs a stable Timeslot stamped at or after the window end', () => {
    const { ctx } = fixture();
    for (const y of IDS) growChain(ctx, y, 1, { stamp: (s) => (y === 's3' ? s * 100 - 1 : s * 100) });
    echoAll(ctx, 1);
    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toMatch(/^s3 not stable past 100/);
  });

  it('a server admitted later is not required before its admission point, but holds the window while that is unknown', () => {
    // s4 first: its admission is checked before the others' stability.
    const { ctx } = fixture([member('s4', [{ admit: 2, cut: null }]), ...IDS.slice(0, 4).map((id) => member(id))]);
    for (const y of ['s0', 's1', 's2', 's3']) growChain(ctx, y, 3, { epoch: (s) => (s >= 3 ? 2 : 1) });
    for (const p of IDS) for (const y of ['s0', 's1', 's2', 's3']) if (p !== y) echo(ctx, p, y, 2);
    // The epoch-2 marks (#3, stamp 300) are not stable yet: s4's admission could be at 300.
    ctx.ordering.frontier = 300;
    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toBe('admission of s4 (epoch 2) not known yet');
    // Surely past window (0, 100]: closes without s4.
    ctx.ordering.frontier = 0;
    expect(windowReady(ctx)).toBe(true);
    for (const p of IDS) for (const y of ['s0', 's1', 's2', 's3']) if (p !== y) echo(ctx, p, y, 3);
    ctx.ordering.frontier = 200;
    expect(windowReady(ctx)).toBe(true); // admitted at 300: not required for (200, 300]
    ctx.ordering.frontier = 300;
    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toMatch(/^s4 not stable past 400/);
  });

  it('waits for the Timeslots of a cut server up to its cut, and not beyond', () => {
    const { ctx, sent } = fixture();
    allStable(ctx, 2);
    growChain(ctx, 's4', 4);
    const cut = cutAt(ctx, 's4', 4);
    ctx.timeslots.chains.get('s4')?.truncate(2);
    setMembers(ctx, IDS.map((id) => (id === 's4' ? member(id, [{ admit: 0, cut }]) : member(id))));
    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toBe("fetching s4's Timeslots up to its cut 4");
    expect(sent.some(({ m }) => m.type === 'timeslotRequest' && m.server === 's4' && m.fromSeq === 3 && m.toSeq === 4)).toBe(true);
    extendChain(ctx.timeslots.chains.get('s4') as Chain, 4);
    expect(windowReady(ctx)).toBe(true); // s4 is not stable past 100 (nobody echoes its #3, #4): not needed
  });

  it('backfills a chain held from a midway anchor before it may count', () => {
    const { ctx, sent } = fixture();
    allStable(ctx, 1);
    const ch = new Chain('s2', { seq: 7, hash: 'c'.repeat(32), stamp: -Infinity }, 256, 256, HAND_STAY);
    ctx.timeslots.chains.set('s2', ch);
    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toBe("backfilling s2's Timeslots before #8");
    expect(sent.some(({ m }) => m.type === 'timeslotRequest' && m.server === 's2' && m.toSeq === 7)).toBe(true);
  });

  it('needs a chain only from the admission point of a stint that may count, not back to the frontier (sim/FINDINGS.md 38)', () => {
    // s4 ignored at 0, then readmitted at epoch 2 (admission point 200) and ignored again at #2
    // (stamp 150, before that point): none of its reports can count. Its chain is held from #2
    // on (its first Timeslots reached nobody); #1 is gone with it. Asking for #1 stalled the site.
    const s4Stints: Stint[] = [
      { admit: 0, cut: { seq: 0, hash: ZERO_HASH } },
      { admit: 2, cut: { seq: 2, hash: '', stamp: 150, epoch: 1 } },
    ];
    const { ctx, sent } = fixture([...IDS.slice(0, 4).map((id) => member(id)), member('s4', s4Stints)]);
    for (const y of ['s0', 's1', 's2', 's3']) growChain(ctx, y, 4, { epoch: (s) => (s >= 2 ? 2 : 1) });
    echoAll(ctx, 4);
    const s4 = new Chain('s4', { seq: 1, hash: 'c'.repeat(32), stamp: -Infinity }, 256, 256, HAND_STAY);
    ctx.timeslots.chains.set('s4', s4);
    extendChain(s4, 2, { stamp: (seq) => seq * 75 });
    s4Stints[1]!.cut!.hash = s4.hashOf(2) ?? '';
    setMembers(ctx, [...IDS.slice(0, 4).map((id) => member(id)), member('s4', s4Stints)]);
    expect(admission(ctx, ctx.roster.members.get('s4') as Member, s4Stints[1]!)).toEqual({ known: true, at: 200 });
    ctx.ordering.frontier = 100;
    expect([windowReady(ctx), ctx.finality.blocked]).toEqual([true, '']);
    expect(sent.some(({ m }) => m.type === 'timeslotRequest' && m.server === 's4')).toBe(false);
  });

  it("waits for a cut member's Timeslots up to its cut when its chain was joined midway at the cut (sim/FINDINGS.md 43)", () => {
    // s4 is cut at #2, stamped 150; we never got #1-#2 (our links to it were down) and hold its
    // chain from #3 on, anchored at #2 with the cut's hash. #2 may carry reports of window 200
    // that count: closing it without them applied another update than the servers that had them.
    const cutAt2 = (stamp: number): Stint[] => [{ admit: 0, cut: { seq: 2, hash: 'c'.repeat(32), stamp, epoch: 1 } }];
    const blockedBy = (stamp: number) =>
      windowWithS4(cutAt2(stamp), (ctx) => {
        const s4 = new Chain('s4', { seq: 2, hash: 'c'.repeat(32), stamp: -Infinity }, 256, 256, HAND_STAY);
        ctx.timeslots.chains.set('s4', s4);
        extendChain(s4, 3, { stamp: (seq) => seq * 75 });
      });
    expect(blockedBy(150)).toEqual([false, "backfilling s4's Timeslots before #3", ['s4:1-2']]);
    // Cut at or before the frontier: none of its reports can count in the windows left to close.
    expect(blockedBy(100)).toEqual([true, '', []]);
  });

  it("holds a readmitted member's chain up to its earlier cut when that cut lies past the frontier (sim/FINDINGS.md 50)", () => {
    // s4 was cut at #5 and readmitted at epoch 2, counting again from 700 on. Its first stint's
    // reports count up to #5, whatever its latest stint says; we hold its chain only to #1 (a
    // replacement that took a state anchored early). Closing window 200 without #2-#5 applied
    // another update than the servers that had them.
    const blockedBy = (cutStamp: number) =>
      windowWithS4([{ admit: 0, cut: { seq: 5, hash: 'c'.repeat(32), stamp: cutStamp, epoch: 1 } }, { admit: 2, cut: null }], (ctx) => {
        growChain(ctx, 's4', 1);
        ctx.finality.admissionCache.set('s4:2', 700);
      });
    expect(blockedBy(250)).toEqual([false, "fetching s4's Timeslots up to its earlier cut 5", ['s4:2-5']]);
    // Cut at or before the frontier: none of that stint's reports can count in the windows left.
    expect(blockedBy(100)).toEqual([true, '', []]);
  });

  it('only a running server with a membership closes windows', () => {
    const { ctx } = fixture();
    allStable(ctx, 1);
    ctx.lifecycle.status = 'syncing';
    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toBe('status syncing');
  });
});

describe('cut completion', () => {
  it('holds the cut with its hash: complete; held short of it: fetches the rest', () => {
    const { ctx, sent } = fixture();
    const ch = growChain(ctx, 's4', 3);
    const cut = cutAt(ctx, 's4', 3);
    expect(cutComplete(ctx, member('s4'), cut)).toBe(true);
    expect(cutComplete(ctx, member('s4'), { seq: 5, hash: 'd'.repeat(32) })).toBe(false);
    expect(sent.map(({ m }) => (m.type === 'timeslotRequest' ? `${m.server}:${m.fromSeq}-${m.toSeq}` : m.type))).toContain('s4:4-5');
    expect(ch.top.seq).toBe(3);
  });

  it('another branch at the cut is dropped down to what everyone echoed, with its reports and echoes', () => {
    const { ctx, sent } = fixture();
    const entries = (s: number): TimeslotEntry[] => [['amy', s, s * 100 - 50, 'a'.repeat(32)]];
    // The cut's branch (what the admin cut at) and ours differ from #3 on: s4 equivocated.
    const theirs = growChain(ctx, 's4', 4, { entries });
    const cut = { seq: 4, hash: theirs.hashOf(4) as string };
    const ours = growChain(ctx, 's4', 2, { entries });
    extendChain(ours, 4, { entries, stamp: (s) => s * 100 + 5 });
    expect(ours.hashOf(2)).toBe(theirs.hashOf(2));
    expect(ours.hashOf(4)).not.toBe(cut.hash);
    for (const it of ours.items) indexItem(ctx, 's4', it, ctx.ordering.frontier);
    for (const p of ['s1', 's2', 's3']) echo(ctx, p, 's4', 4);
    echo(ctx, 's1', 's4', 2);
    setMembers(ctx, IDS.map((id) => (id === 's4' ? member(id, [{ admit: 0, cut }]) : member(id))));
    expect(cutComplete(ctx, ctx.roster.members.get('s4') as Member, cut)).toBe(false);
    expect(ours.top.seq).toBe(2);
    expect([...ctx.reports.actions.values()].map((a) => a.actionNo).sort()).toEqual([1, 2]);
    expect(ctx.finality.cover.get('s2')?.get('s4')).toBe(2);
    expect(sent.some(({ m }) => m.type === 'timeslotRequest' && m.server === 's4' && m.fromSeq === 3 && m.toSeq === 4)).toBe(true);
  });

  it('our own cut is complete without a chain; a cut at 0 too; another server\'s cut with no chain held is fetched whole', () => {
    const { ctx, sent } = fixture();
    const requests = (): string[] => sent.flatMap(({ m }) => (m.type === 'timeslotRequest' ? [`${m.server}:${m.fromSeq}-${m.toSeq}`] : []));
    expect(cutComplete(ctx, member('s0'), { seq: 3, hash: 'a'.repeat(32) })).toBe(true);
    expect(cutComplete(ctx, member('s3'), { seq: 0, hash: ZERO_HASH })).toBe(true);
    expect(requests()).toEqual([]);
    expect(cutComplete(ctx, member('s3'), { seq: 3, hash: 'a'.repeat(32) })).toBe(false);
    expect(requests().length).toBeGreaterThan(0);
    expect(new Set(requests())).toEqual(new Set(['s3:1-3']));
  });

  it('a cut at or below our anchor is complete when it is the anchor itself or before it', () => {
    const { ctx } = fixture();
    ctx.timeslots.chains.set('s4', new Chain('s4', { seq: 5, hash: 'e'.repeat(32), stamp: 500 }, 256, 256, HAND_STAY));
    expect(cutComplete(ctx, member('s4'), { seq: 5, hash: 'e'.repeat(32) })).toBe(true);
    expect(cutComplete(ctx, member('s4'), { seq: 5, hash: 'f'.repeat(32) })).toBe(false);
    expect(cutComplete(ctx, member('s4'), { seq: 4, hash: 'f'.repeat(32) })).toBe(true);
    expect(cutComplete(ctx, member('s4'), { seq: 0, hash: ZERO_HASH })).toBe(true);
  });
});

describe('dropBranch and pruning', () => {
  it('dropping a branch forgets its reports and lowers echoes above it', () => {
    const { ctx } = fixture();
    const ch = growChain(ctx, 's1', 4, { entries: (s) => [['amy', s, s * 100 - 50, 'a'.repeat(32)]] });
    for (const it of ch.items) indexItem(ctx, 's1', it, ctx.ordering.frontier);
    echo(ctx, 's2', 's1', 4);
    echo(ctx, 's3', 's1', 1);
    dropBranch(ctx, 's1', 2);
    expect(ch.top.seq).toBe(2);
    expect([...ctx.reports.actions.values()].map((a) => a.actionNo).sort()).toEqual([1, 2]);
    expect(ctx.finality.cover.get('s2')?.get('s1')).toBe(2);
    expect(ctx.finality.cover.get('s3')?.get('s1')).toBe(1);
  });

  it('pruning keeps what is not stable yet and a cut server from its cut on', () => {
    const { ctx } = fixture();
    allStable(ctx, 10);
    echo(ctx, 's2', 's1', 6);
    setMembers(ctx, IDS.map((id) => (id === 's3' ? member(id, [{ admit: 0, cut: cutAt(ctx, 's3', 4) }]) : member(id))));
    pruneChains(ctx, 850);
    // Anchors end right before the first Timeslot kept.
    expect(ctx.timeslots.chains.get('s2')?.anchor.seq).toBe(7); // #8 is the last one stamped before the horizon
    expect(ctx.timeslots.chains.get('s1')?.anchor.seq).toBe(5); // stable only up to #6
    expect(ctx.timeslots.chains.get('s3')?.anchor.seq).toBe(3); // cut at #4
  });
});
