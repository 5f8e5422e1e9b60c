/**
 * The property checkers must be able to fail: each test builds a small valid trace by hand, checks
 * it passes, then breaks it the way a buggy protocol would and checks the right property flags it.
 */
import { describe, expect, it } from 'vitest';
import {
  checkAll,
  checkEquivocatorsCaught,
  checkExactlyOnce,
  checkLiveness,
  checkMedianBound,
  checkMedianOrder,
  checkNoSuspicion,
  checkRejections,
  checkSafety,
  checkStall,
  longestStall,
  medianBounds,
} from './properties.js';
import type { Trace, TraceUpdate } from './trace.js';

/** The N_majority-th earliest arrival of goodTrace's actions: the median every server orders by. */
const MEDIANS: Record<string, number> = { 'u1#1': 12, 'u2#1': 16, 'u1#2': 121 };

function up(seq: number, applied: Array<[string, number]>, at: number, hash?: string): TraceUpdate {
  return {
    seq,
    hash: hash ?? `h${seq}:${applied.map((a) => a.join('#')).join(',')}`,
    applied: applied.map(([user, actionNo]) => ({
      user,
      actionNo,
      ...(MEDIANS[`${user}#${actionNo}`] !== undefined ? { median: MEDIANS[`${user}#${actionNo}`] } : {}),
    })),
    at,
  };
}

/** A user's copy of an update, 2 ms later (users see no medians). */
const accepted = (u: TraceUpdate): TraceUpdate => ({
  ...u,
  at: u.at + 2,
  applied: u.applied.map(({ user, actionNo }) => ({ user, actionNo })),
});

/** 3 servers, 2 users, two updates; arrivals consistent with the order applied. */
function goodTrace(): Trace {
  const updates = [
    up(
      1,
      [
        ['u1', 1],
        ['u2', 1],
      ],
      110,
    ),
    up(2, [['u1', 2]], 210),
  ];
  const servers = ['s1', 's2', 's3'].map((id) => ({
    id,
    honest: true,
    cheats: [] as string[],
    joinedAt: 0,
    crashed: [] as Array<[number, number]>,
    stable: true,
    updates: updates.map((u) => ({ ...u, applied: u.applied.map((a) => ({ ...a })) })),
  }));
  // Timeslots end at 100, 200, ...: #1 carries arrivals up to 100, #2 those up to 200.
  const arr = (server: string, user: string, actionNo: number, reported: number) => ({
    server,
    user,
    actionNo,
    reported,
    tsSeq: Math.ceil(reported / 100),
  });
  return {
    config: { nServer: 3, nMajority: 2, tTimeslot: 100, tTimeout: 200, tReqTimeout: 100, tIgnore: 1000 },
    end: 1000,
    startSeq: 0,
    faults: { loss: false, crashes: false, partitions: false, cheaters: false, hostileInput: false },
    spread: { linkSpread: 0, jitter: 0, clockOffset: 0 },
    servers,
    users: [
      {
        id: 'u1',
        cutOff: [],
        sent: [
          { user: 'u1', actionNo: 1, at: 10, kind: 'move', deliveredTo: ['s1', 's2', 's3'], mustApply: true },
          {
            user: 'u1',
            actionNo: 2,
            at: 120,
            kind: 'move',
            deliveredTo: ['s1', 's2', 's3'],
            mustApply: true,
          },
        ],
        accepted: updates.map((u) => accepted(u)),
      },
      {
        id: 'u2',
        cutOff: [],
        sent: [
          { user: 'u2', actionNo: 1, at: 15, kind: 'say', deliveredTo: ['s1', 's2', 's3'], mustApply: true },
        ],
        accepted: updates.map((u) => accepted(u)),
      },
    ],
    arrivals: [
      arr('s1', 'u1', 1, 11),
      arr('s2', 'u1', 1, 12),
      arr('s3', 'u1', 1, 13),
      arr('s1', 'u2', 1, 16),
      arr('s2', 'u2', 1, 17),
      arr('s3', 'u2', 1, 14),
      arr('s1', 'u1', 2, 121),
      arr('s2', 'u1', 2, 122),
      arr('s3', 'u1', 2, 121),
    ],
    events: [],
    rejections: [],
  };
}

const props = (vs: Array<{ property: string }>) => [...new Set(vs.map((x) => x.property))];

describe('property checkers', () => {
  it('pass a consistent trace', () => {
    const t = goodTrace();
    expect(checkAll(t, { livenessBound: 200, stallBound: 100, medianOrder: true })).toEqual([]);
    expect(longestStall(t)).toEqual({ ms: 100, from: 10, to: 110, action: 'u1#1' });
  });

  it('flag honest servers that diverge', () => {
    const t = goodTrace();
    const s3 = t.servers[2];
    if (!s3) throw new Error('fixture');
    s3.updates[1] = up(2, [['u2', 1]], 210);
    expect(props(checkSafety(t))).toEqual(['safety']);
  });

  it('ignore a cheater whose updates differ, but flag a user who accepts them', () => {
    const t = goodTrace();
    const s3 = t.servers[2];
    const u2 = t.users[1];
    if (!s3 || !u2) throw new Error('fixture');
    s3.honest = false;
    s3.cheats = ['tamper'];
    s3.updates[1] = up(2, [['u2', 1]], 210, 'forged');
    expect(checkSafety(t)).toEqual([]);
    u2.accepted[1] = up(2, [['u2', 1]], 212, 'forged');
    expect(props(checkAll(t))).toEqual(['safety', 'tamper']);
  });

  it('flag a gap or a reorder in a user accepted sequence', () => {
    const t = goodTrace();
    const u1 = t.users[0];
    if (!u1) throw new Error('fixture');
    u1.accepted.reverse();
    expect(checkSafety(t).length).toBeGreaterThan(0);
  });

  it('flag a lost, a doubled and an invented action', () => {
    const lost = goodTrace();
    for (const s of lost.servers) s.updates = s.updates.slice(0, 1);
    for (const u of lost.users) u.accepted = u.accepted.slice(0, 1);
    expect(checkExactlyOnce(lost).map((x) => x.message)).toEqual([
      'action u1#2 sent at 120 ms was never applied',
    ]);

    const doubled = goodTrace();
    for (const s of doubled.servers) s.updates.push(up(3, [['u1', 1]], 300));
    expect(checkExactlyOnce(doubled).map((x) => x.message)).toEqual(['action u1#1 was applied 2 times']);

    const invented = goodTrace();
    for (const s of invented.servers) s.updates.push(up(3, [['u2', 9]], 300));
    expect(checkExactlyOnce(invented).map((x) => x.message)).toEqual([
      'action u2#9 was applied but its user never sent it',
    ]);
  });

  it('flag a stalled action', () => {
    const t = goodTrace();
    expect(checkLiveness(t, 150)).toEqual([]);
    expect(checkLiveness(t, 95).length).toBe(2);
    const u1 = t.users[0];
    if (!u1) throw new Error('fixture');
    u1.accepted = u1.accepted.slice(0, 1);
    expect(checkLiveness(t, 1000).map((x) => x.message)).toEqual([
      'action u1#2 sent at 120 ms was never accepted by its sender',
    ]);
  });

  it('flag actions applied out of median order', () => {
    const t = goodTrace();
    // u2#1 has median 16 but u1#1 has median 12: swapping them in every update breaks the order.
    for (const s of t.servers)
      s.updates[0] = up(
        1,
        [
          ['u2', 1],
          ['u1', 1],
        ],
        110,
      );
    for (const u of t.users)
      u.accepted[0] = up(
        1,
        [
          ['u2', 1],
          ['u1', 1],
        ],
        112,
      );
    expect(checkSafety(t)).toEqual([]);
    expect(props(checkMedianOrder(t))).toEqual(['median-order']);
  });

  it('bound the effect of a lying server on the median', () => {
    const t = goodTrace();
    const s3 = t.servers[2];
    if (!s3) throw new Error('fixture');
    s3.honest = false;
    s3.cheats = ['shift'];
    t.faults.cheaters = true;
    // honest reports: u1#1 [11, 12], u2#1 [16, 17]; with f = 1, k = 2: u1#1 in [11, 12], u2#1 in [16, 17]
    expect(checkMedianBound(t)).toEqual([]);
    for (const s of t.servers)
      s.updates[0] = up(
        1,
        [
          ['u2', 1],
          ['u1', 1],
        ],
        110,
      );
    expect(props(checkMedianBound(t))).toEqual(['median-bound']);
  });

  it('flag a server that ordered an action by a median outside the bound', () => {
    const t = goodTrace();
    const s1 = t.servers[0];
    const s3 = t.servers[2];
    if (!s1 || !s3) throw new Error('fixture');
    s3.honest = false;
    s3.cheats = ['shift'];
    t.faults.cheaters = true;
    const first = s1.updates[0]?.applied[0];
    if (!first) throw new Error('fixture');
    first.median = 12;
    expect(checkMedianBound(t)).toEqual([]);
    first.median = 5; // u1#1's honest reports are 11 and 12: no median can be 5 with one liar
    expect(checkMedianBound(t).map((x) => x.message)).toEqual([
      'server s1 ordered u1#1 by median 5 outside [11, 12]',
    ]);
  });

  it('flag an equivocator that was never evicted', () => {
    const t = goodTrace();
    const s3 = t.servers[2];
    if (!s3) throw new Error('fixture');
    s3.honest = false;
    s3.cheats = ['equivocate'];
    expect(props(checkEquivocatorsCaught(t))).toEqual(['equivocation']);
    t.events.push({ at: 500, kind: 'evicted', node: 's3', by: 'admin', detail: 'proof' });
    expect(checkEquivocatorsCaught(t)).toEqual([]);
  });

  it('flag a swallowed exception in any run, and any rejection in a run without cheaters, loss or hostile input', () => {
    const t = goodTrace();
    const rej = (code: string) => ({
      at: 50,
      node: 's1',
      from: 's2',
      code,
      reason: `${code} timeslot: s2#1`,
    });
    t.rejections.push(rej('ERR_REPLAYED'));
    expect(checkRejections(t).map((x) => x.message)).toEqual([
      's1 rejected a message from s2 at 50 ms: ERR_REPLAYED timeslot: s2#1',
    ]);
    expect(props(checkAll(t))).toEqual(['rejections']);
    for (const fault of ['loss', 'cheaters', 'hostileInput'] as const) {
      const u = structuredClone(t);
      u.faults[fault] = true;
      expect(checkRejections(u), fault).toEqual([]);
    }
    t.faults.cheaters = true;
    t.rejections.push(rej('ERR_INTERNAL'));
    expect(checkRejections(t).map((x) => x.message)).toEqual([
      's1 swallowed an exception at 50 ms: ERR_INTERNAL timeslot: s2#1',
    ]);
  });

  it('flag a server log or a user log that does not start right after the hand-over', () => {
    const server = goodTrace();
    const s1 = server.servers[0];
    if (!s1) throw new Error('fixture');
    s1.updates = s1.updates.slice(1);
    expect(checkSafety(server).map((x) => x.message)).toEqual([
      'server s1 starts at seq 2 (the hand-over is seq 0)',
    ]);
    const adopted = s1.updates[0];
    if (!adopted) throw new Error('fixture');
    adopted.adopted = true; // a state transfer may start a log anywhere after the hand-over
    expect(checkSafety(server)).toEqual([]);
    const user = goodTrace();
    const u2 = user.users[1];
    if (!u2) throw new Error('fixture');
    u2.accepted = u2.accepted.slice(1);
    expect(checkSafety(user).map((x) => x.message)).toEqual([
      'user u2 starts at seq 2 (the hand-over is seq 0)',
    ]);
  });

  it('flag a computed update whose median is NaN or missing', () => {
    for (const bad of [Number.NaN, undefined, Infinity]) {
      const t = goodTrace();
      const first = t.servers[1]?.updates[0]?.applied[0];
      if (!first) throw new Error('fixture');
      if (bad === undefined) delete first.median;
      else first.median = bad;
      expect(checkMedianBound(t).map((x) => x.message)).toEqual([
        `server s2 applied u1#1 at seq 1 with median ${bad}`,
      ]);
    }
  });

  it('flag an action applied twice when every honest record of the second seq was adopted', () => {
    const t = goodTrace();
    for (const s of t.servers) s.updates.push({ ...up(3, [['u1', 1]], 300), adopted: true });
    for (const u of t.users) u.accepted.push(accepted(up(3, [['u1', 1]], 300)));
    expect(checkSafety(t)).toEqual([]);
    expect(checkExactlyOnce(t).map((x) => x.message)).toEqual(['action u1#1 was applied 2 times']);
  });

  it('flag an honest server suspected in a run without faults, and one not counted as stable', () => {
    const t = goodTrace();
    t.events.push({
      at: 400,
      kind: 'ignored',
      node: 's3',
      by: 's1',
      detail: 'cut 3 epoch 2',
      cutSeq: 3,
      epoch: 2,
    });
    t.events.push({ at: 390, kind: 'request-ignore', node: 's3', by: 's2' });
    const s3 = t.servers[2];
    if (!s3) throw new Error('fixture');
    s3.stable = false; // what the scenario once did: fewer actions then had to be applied
    expect(checkNoSuspicion(t).map((x) => x.message)).toEqual([
      's1 ignored s3 at 400 ms in a run without faults',
      's2 request-ignore s3 at 390 ms in a run without faults',
      'server s3 is not stable in a run without faults (fewer actions must be applied)',
    ]);
    expect(props(checkAll(t))).toEqual(['suspicion']);
    t.faults.crashes = true;
    expect(checkNoSuspicion(t)).toEqual([]);
  });

  it('bound medians per stint: reports past a cut only widen the bound, and the order is still checked', () => {
    const t = goodTrace();
    t.faults.crashes = true;
    // s3 is cut at its Timeslot #1: its report of u1#2 (in #2) may not count.
    t.events.push({ at: 150, kind: 'ignored', node: 's3', by: 's1', cutSeq: 1, epoch: 2 });
    expect(medianBounds(t).get('u1#2')).toEqual({ lo: 121, hi: 122 });
    expect(medianBounds(t).get('u1#1')).toEqual({ lo: 12, hi: 12 });
    // s3's report of u2#1 (14, in #1) is before the cut: it counts, and keeps the bound exact
    expect(medianBounds(t).get('u2#1')).toEqual({ lo: 16, hi: 16 });
    for (const s of t.servers) {
      const a = s.updates[1]?.applied[0];
      if (a) a.median = 122; // the median without s3's report
    }
    expect(checkMedianBound(t)).toEqual([]);
    const noCut = structuredClone(t);
    noCut.events = [];
    expect(checkMedianBound(noCut).map((x) => x.message)).toContain(
      'server s1 ordered u1#2 by median 122 outside [121, 121]',
    );
    // with the cut, u1#1 and u2#1 came from Timeslots before it: still exact, still ordered
    const first = t.servers[0]?.updates[0]?.applied[0];
    if (!first) throw new Error('fixture');
    first.median = 13;
    expect(checkMedianBound(t).map((x) => x.message)).toEqual([
      'server s1 ordered u1#1 by median 13 outside [12, 12]',
    ]);
    first.median = 12;
    for (const s of t.servers)
      s.updates[0] = up(
        1,
        [
          ['u2', 1],
          ['u1', 1],
        ],
        110,
      );
    expect(checkMedianBound(t).map((x) => x.message)).toEqual([
      'action u2#1 (median ≥ 16) was applied before u1#1 (median ≤ 12)',
    ]);
  });

  it('flag a stall: no update for longer than the bound while an action waited', () => {
    const t = goodTrace();
    expect(checkStall(t, 100)).toEqual([]);
    expect(checkStall(t, 99).map((x) => x.message)).toEqual([
      'no update for 100 ms (10-110) while u1#1 waited (bound 99 ms)',
    ]);
    // seq 2 comes 700 ms late: u1#2 waits from 120 to 900 with no update in between
    for (const s of t.servers) {
      const u = s.updates[1];
      if (u) u.at = 900;
    }
    expect(longestStall(t)).toEqual({ ms: 780, from: 120, to: 900, action: 'u1#2' });
    // never applied: the stall lasts until the end of the run
    for (const s of t.servers) s.updates = s.updates.slice(0, 1);
    expect(longestStall(t)).toEqual({ ms: 880, from: 120, to: 1000, action: 'u1#2' });
    for (const u of t.users) for (const x of u.sent) x.mustApply = false;
    expect(longestStall(t)).toBeUndefined();
  });
});
