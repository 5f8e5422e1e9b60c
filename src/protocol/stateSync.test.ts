/**
 * Out of step (stateSync.ts checkOutOfStep), on a Site Server's state set up by hand: the check
 * runs every tick and skips work when nothing it reads has changed since a check that found the
 * server in step, so each test first checks in step, then changes one input and checks again.
 */
import { describe, expect, it } from 'vitest';
import type { Member } from './messages.js';
import type { ServerState } from './serverContext.js';
import { checkOutOfStep } from './stateSync.js';
import { handMadeServer, handMember } from './testing.js';
import { noteAnnounce } from './timeslots.js';

const h = (n: number): string => n.toString(16).padStart(32, '0');

/** Server s0 of an n-server site (testing.ts handMadeServer), running, with updates 1..updates in its log (update k has hash h(k)). */
function fixture(n: number, updates: number) {
  const members = Array.from({ length: n }, (_, slot) => handMember(`s${slot}`, slot));
  const { ctx, events } = handMadeServer({ nServer: n, now: 1000, status: 'running', members });
  for (let seq = 1; seq <= updates; seq++) {
    ctx.ordering.log.push({ seq, hash: h(seq), prev: h(seq - 1), window: seq * 100, applied: [], events: [] });
  }
  ctx.ordering.lastSeq = updates;
  ctx.ordering.lastHash = h(updates);
  const resyncs = (): string[] => events.flatMap((e) => (e.kind === 'resync' ? [e.reason] : []));
  return { ctx, resyncs };
}

function inStep(ctx: ServerState, resyncs: () => string[]): void {
  checkOutOfStep(ctx);
  expect(resyncs()).toEqual([]);
  expect(ctx.lifecycle.status).toBe('running');
}

describe('out of step (checkOutOfStep)', () => {
  it('a majority announcing another hash for a recent update, after a check in step, starts a resync', () => {
    const { ctx, resyncs } = fixture(3, 10);
    noteAnnounce(ctx, 's1', 7, h(7));
    noteAnnounce(ctx, 's2', 7, h(7));
    inStep(ctx, resyncs);
    noteAnnounce(ctx, 's1', 8, 'f'.repeat(32));
    inStep(ctx, resyncs); // one of the two others: a minority
    noteAnnounce(ctx, 's2', 8, 'f'.repeat(32));
    checkOutOfStep(ctx);
    expect(resyncs()).toEqual(['update 8 differs from the majority']);
    expect(ctx.lifecycle.status).toBe('syncing');
  });

  it('others split between two other hashes are no majority; three alike of five are', () => {
    const { ctx, resyncs } = fixture(5, 10);
    noteAnnounce(ctx, 's1', 9, 'a'.repeat(32));
    noteAnnounce(ctx, 's2', 9, 'a'.repeat(32));
    noteAnnounce(ctx, 's3', 9, 'b'.repeat(32));
    noteAnnounce(ctx, 's4', 9, 'b'.repeat(32));
    inStep(ctx, resyncs);
    noteAnnounce(ctx, 's4', 9, 'a'.repeat(32));
    checkOutOfStep(ctx);
    expect(resyncs()).toEqual(['update 9 differs from the majority']);
  });

  it('a server whose vote was not counted counts once it is active again', () => {
    const { ctx, resyncs } = fixture(3, 10);
    const s2 = ctx.roster.members.get('s2') as Member;
    s2.stints = [{ admit: 0, cut: { seq: 3, hash: h(3) } }]; // ignored: not active
    noteAnnounce(ctx, 's1', 6, 'c'.repeat(32));
    noteAnnounce(ctx, 's2', 6, 'c'.repeat(32));
    inStep(ctx, resyncs);
    s2.stints = [...s2.stints, { admit: 2, cut: null }]; // readmitted: the same announcements, another answer
    checkOutOfStep(ctx);
    expect(resyncs()).toEqual(['update 6 differs from the majority']);
  });

  it('far behind: a majority announcing updates past half of keepUpdates beyond ours', () => {
    const { ctx, resyncs } = fixture(3, 10);
    const far = 10 + Math.floor(ctx.cfg.keepUpdates / 2) + 1;
    noteAnnounce(ctx, 's1', far, h(far));
    noteAnnounce(ctx, 's2', far - 1, h(far - 1));
    inStep(ctx, resyncs);
    noteAnnounce(ctx, 's2', far, h(far));
    checkOutOfStep(ctx);
    expect(resyncs()).toEqual(['far behind the majority']);
  });

  it('announcements past the bound drop the lowest seq; the highest still counts', () => {
    const { ctx, resyncs } = fixture(3, 10);
    const bound = 4 * ctx.cfg.keepUpdates;
    const far = 10 + Math.floor(ctx.cfg.keepUpdates / 2) + 1;
    // Highest first, then a full map's worth of lower ones: the top must survive the pruning.
    for (const id of ['s1', 's2']) {
      noteAnnounce(ctx, id, far, h(far));
      for (let seq = far - 1; seq > far - 1 - bound; seq--) noteAnnounce(ctx, id, seq, h(seq));
      const held = ctx.timeslots.announced.get(id) as Map<number, string>;
      expect(held.size).toBe(bound);
      expect(held.has(far)).toBe(true);
      expect(held.has(far - bound)).toBe(false); // the lowest went
    }
    checkOutOfStep(ctx);
    expect(resyncs()).toEqual(['far behind the majority']);
  });
});
