/**
 * Which of a server's reports of an action stands for it (sim/FINDINGS.md 99): every report is
 * kept when indexed, and the earliest that counts is taken when the window closes. A replica that
 * indexed a server's reports before it knew the cut that voids the first one, or before it knew
 * the admission point that makes the second count, takes the same one as a replica that knew both.
 */
import { describe, expect, it } from 'vitest';
import { buildState } from './applying.js';
import { counted, forgetAdmissions } from './finality.js';
import type { Member, Stint, TimeslotEntry } from './messages.js';
import { addReport, dropReportsAbove, indexItem, pruneReports } from './reports.js';
import type { ServerState } from './serverContext.js';
import { growChain, handMadeServer, handMember, setMembers } from './testing.js';
import { finalCandidates } from './window.js';

const IDS = ['s0', 's1', 's2', 's3', 's4'];
const H = 'a'.repeat(32);

/** alice#1 as s0 (620), s1 (640) and s4 noted it: at 250 in #3 (past its cut, #2) and at 650 in #7. */
function entries(id: string): (seq: number) => TimeslotEntry[] {
  const at: Record<string, Record<number, number>> = { s0: { 7: 620 }, s1: { 7: 640 }, s4: { 3: 250, 7: 650 } };
  return (seq) => {
    const a = at[id]?.[seq];
    return a === undefined ? [] : [['alice', 1, a, H]];
  };
}

/** s0..s3 marked epoch 3 (s4's readmission) at their #4 (stamp 400): s4 counts again after 400. */
function grow(ctx: ServerState, id: string): void {
  growChain(ctx, id, 8, { epoch: (s) => (id !== 's4' && s >= 4 ? 3 : 1), entries: entries(id) });
}

function index(ctx: ServerState, id: string): void {
  for (const it of ctx.timeslots.chains.get(id)?.items ?? []) indexItem(ctx, id, it, 0);
}

function roster(ctx: ServerState, knowsCut: boolean): void {
  const s4: Stint[] = knowsCut
    ? [
        { admit: 0, cut: { seq: 2, hash: ctx.timeslots.chains.get('s4')?.hashOf(2) ?? '', stamp: 200, epoch: 1 } },
        { admit: 3, cut: null },
      ]
    : [{ admit: 0, cut: null }];
  setMembers(ctx, IDS.map((id): Member => handMember(id, IDS.indexOf(id), id === 's4' ? s4 : undefined)));
  for (const p of IDS) for (const y of IDS) if (p !== y) ctx.finality.cover.set(p, new Map([...(ctx.finality.cover.get(p) ?? []), [y, 8]]));
  forgetAdmissions(ctx);
}

/** The window (600, 700] as this replica closes it: the medians, and the ordering state's pending. */
function close(ctx: ServerState): { finals: string[]; pending: unknown } {
  const finals = finalCandidates(ctx.reports.actions.values(), 700, 3, (server, r) => counted(ctx, server, r)).map(
    (f) => `${f.candidate.user}#${f.candidate.actionNo}@${f.median}`,
  );
  return { finals, pending: buildState(ctx, 700).pending };
}

describe("a server's report that stands", () => {
  it('is the same at a replica that knew the cut and the admission point when indexing and at ones that learnt them after', () => {
    // Knew everything before indexing.
    const knew = handMadeServer({ nServer: 5, status: 'running' }).ctx;
    for (const id of IDS) grow(knew, id);
    roster(knew, true);
    for (const id of IDS) index(knew, id);

    // Indexed s4's two reports before it knew of the cut: the first counted then.
    const lateCut = handMadeServer({ nServer: 5, status: 'running' }).ctx;
    for (const id of IDS) grow(lateCut, id);
    roster(lateCut, false);
    for (const id of IDS) index(lateCut, id);
    expect(counted(lateCut, 's4', { arrival: 250, tsSeq: 3 })).toBe(true);
    roster(lateCut, true);

    // Knew the cut but not the admission point (the others' marks not held yet): the second
    // report did not count then.
    const lateAdmission = handMadeServer({ nServer: 5, status: 'running' }).ctx;
    grow(lateAdmission, 's4');
    roster(lateAdmission, true);
    index(lateAdmission, 's4');
    expect(counted(lateAdmission, 's4', { arrival: 650, tsSeq: 7 })).toBe(false);
    for (const id of IDS.slice(0, 4)) grow(lateAdmission, id);
    forgetAdmissions(lateAdmission);
    for (const id of IDS.slice(0, 4)) index(lateAdmission, id);

    const want = close(knew);
    // s4's second report stands: the third earliest of 620, 640, 650.
    expect(want.finals).toEqual(['alice#1@650']);
    expect(want.pending).toEqual([['alice', 1, H, [['s0', 620], ['s1', 640], ['s4', 650]]]]);
    expect(close(lateCut)).toEqual(want);
    expect(close(lateAdmission)).toEqual(want);
  });

  it('keeps one report per Timeslot, and forgets them one by one: a dropped branch, the horizon', () => {
    const { ctx } = handMadeServer({ nServer: 5, status: 'running' });
    addReport(ctx, 's4', 'alice', 1, H, 650, 7);
    addReport(ctx, 's4', 'alice', 1, H, 250, 3);
    // The same Timeslot indexed again (a refetch), or listing it twice: one report, the earliest.
    addReport(ctx, 's4', 'alice', 1, H, 640, 7);
    addReport(ctx, 's4', 'alice', 1, H, 660, 7);
    const reports = (): unknown => [...ctx.reports.actions.values()].map((a) => a.reports.get('s4'));
    expect(reports()).toEqual([[{ arrival: 250, tsSeq: 3 }, { arrival: 640, tsSeq: 7 }]]);
    dropReportsAbove(ctx, 's4', 5);
    expect(reports()).toEqual([[{ arrival: 250, tsSeq: 3 }]]);
    addReport(ctx, 's4', 'alice', 1, H, 650, 7);
    addReport(ctx, 's1', 'alice', 1, H, 300, 4);
    pruneReports(ctx, 280);
    expect(reports()).toEqual([[{ arrival: 650, tsSeq: 7 }]]);
    pruneReports(ctx, 700);
    expect(ctx.reports.actions.size).toBe(0);
  });
});
