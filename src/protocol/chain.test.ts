import { describe, expect, it } from 'vitest';
import { Chain, linkProblem } from './chain.js';
import { insecureFastScheme, ZERO_HASH } from './crypto.js';
import type { Timeslot } from './messages.js';
import { signTimeslot, timeslotHash } from './signed.js';

/** The stay these Timeslots are signed in (a membership record's). */
const STAY = '5a'.repeat(16);

function chainOf(n: number): Timeslot[] {
  const out: Timeslot[] = [];
  let prev = ZERO_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const ts = signTimeslot(
      { site: 'meadow', server: 's1', seq, stamp: seq * 100, prevHash: prev, epoch: 1, entries: [['u', seq, seq * 100 - 10, 'a'.repeat(32)]], heads: [], update: null },
      'k'.repeat(64),
      insecureFastScheme,
      STAY,
    );
    out.push(ts);
    prev = timeslotHash(ts, STAY);
  }
  return out;
}

describe('Chain', () => {
  it('links in order, buffers ahead of a gap, drains it when the gap fills', () => {
    const ts = chainOf(4);
    const c = new Chain('s1', { seq: 0, hash: ZERO_HASH, stamp: 0 }, 16, 8, STAY);
    expect(c.offer(ts[0] as Timeslot, 0, true).kind).toBe('added');
    expect(c.offer(ts[2] as Timeslot, 0, true).kind).toBe('buffered');
    expect(c.offer(ts[3] as Timeslot, 0, true).kind).toBe('buffered');
    const r = c.offer(ts[1] as Timeslot, 0, true);
    expect(r.kind === 'added' && r.items.map((i) => i.seq)).toEqual([2, 3, 4]);
    expect(c.top.seq).toBe(4);
    expect(c.offer(ts[1] as Timeslot, 0, true).kind).toBe('duplicate');
  });

  it('a chain joined midway is incomplete until backfilled to seq 1 or to a Timeslot before the frontier', () => {
    const ts = chainOf(5);
    const t3 = ts[2] as Timeslot;
    const c = new Chain('s1', { seq: 2, hash: t3.prevHash, stamp: -Infinity }, 16, 8, STAY);
    c.offer(t3, 0, true);
    c.offer(ts[3] as Timeslot, 0, true);
    expect(c.complete(150)).toBe(false);
    expect(c.complete(300)).toBe(true); // what is missing lies before the frontier
    expect(c.offer(ts[1] as Timeslot, 0, true).kind).toBe('added'); // #2 prepended by its hash
    expect(c.complete(150)).toBe(false);
    expect(c.offer(ts[0] as Timeslot, 0, true).kind).toBe('added');
    expect(c.complete(150)).toBe(true);
    expect(c.items.map((i) => i.seq)).toEqual([1, 2, 3, 4]);
    // A Timeslot that does not hash to the anchor is not prepended.
    const d = new Chain('s1', { seq: 2, hash: 'f'.repeat(32), stamp: -Infinity }, 16, 8, STAY);
    expect(d.offer(ts[1] as Timeslot, 0, true).kind).toBe('old');
  });
});

// ---------------------------------------------------------------------------------------------
// Each case below kills mutants StrykerJS found alive (docs/testing.md): the rules a receiver's
// copy of a chain must keep, one by one.
// ---------------------------------------------------------------------------------------------

interface Spec {
  stamp?: number;
  epoch?: number;
  entries?: Timeslot['entries'];
  heads?: Timeslot['heads'];
  ignoring?: string[];
  prevHash?: string;
}

/** A chain of s1's Timeslots: stamps 100, 200, ... unless a spec says otherwise. */
function build(specs: Spec[]): Timeslot[] {
  const out: Timeslot[] = [];
  let prev = ZERO_HASH;
  specs.forEach((sp, i) => {
    const seq = i + 1;
    const stamp = sp.stamp ?? seq * 100;
    const ts = signTimeslot(
      {
        site: 'meadow',
        server: 's1',
        seq,
        stamp,
        prevHash: sp.prevHash ?? prev,
        epoch: sp.epoch ?? 1,
        entries: sp.entries ?? [['u', seq, stamp - 10, 'a'.repeat(32)]],
        heads: sp.heads ?? [],
        update: null,
        ...(sp.ignoring ? { ignoring: sp.ignoring } : {}),
      },
      'k'.repeat(64),
      insecureFastScheme,
      STAY,
    );
    out.push(ts);
    prev = timeslotHash(ts, STAY);
  });
  return out;
}

const at = (ts: Timeslot[], seq: number): Timeslot => ts[seq - 1] as Timeslot;
const fresh = (): Chain => new Chain('s1', { seq: 0, hash: ZERO_HASH, stamp: 0 }, 16, 8, STAY);
const midway = (ts: Timeslot[], from: number): Chain =>
  new Chain('s1', { seq: from - 1, hash: at(ts, from).prevHash, stamp: -Infinity }, 16, 8, STAY);
const seqs = (c: Chain): number[] => c.items.map((i) => i.seq);

describe('Chain: the anchor, backfill and buffer', () => {
  it('reads the anchor stamp and hash, nothing for what it does not hold', () => {
    const ts = build([{}, {}, {}]);
    const c = fresh();
    for (const t of ts) c.offer(t, 0, true);
    expect([c.stampOf(0), c.hashOf(0)]).toEqual([0, ZERO_HASH]);
    expect([c.stampOf(2), c.hashOf(2)]).toEqual([200, timeslotHash(at(ts, 2), STAY)]);
    expect([c.stampOf(9), c.hashOf(9)]).toEqual([undefined, undefined]);
    expect(fresh().complete()).toBe(true);
  });

  it('a backfilled predecessor is returned and indexed; the new anchor has no known stamp until seq 0', () => {
    const ts = build([{}, {}, {}, {}]);
    const c = midway(ts, 3);
    c.offer(at(ts, 3), 0, true);
    expect(c.complete()).toBe(false); // unknown start: reports before #3 may be missing
    const r = c.offer(at(ts, 2), 5, true);
    expect(r.kind === 'added' && r.items.map((i) => [i.seq, i.receivedAt])).toEqual([[2, 5]]);
    expect(c.anchor).toEqual({ seq: 1, hash: at(ts, 2).prevHash, stamp: -Infinity });
    expect(c.stampOf(1)).toBe(-Infinity); // a stable stamp of +Infinity would close every window
    c.offer(at(ts, 1), 6, true);
    expect(c.anchor).toEqual({ seq: 0, hash: ZERO_HASH, stamp: -Infinity });
    expect(c.complete(50)).toBe(true); // complete because it starts at seq 0, not by its stamps
    expect(seqs(c)).toEqual([1, 2, 3]);
  });

  it('a chain joined midway with nothing held yet is incomplete, and takes its anchor Timeslot as it comes', () => {
    const ts = build([{}, {}, {}]);
    const c = midway(ts, 3);
    expect(c.complete(1000)).toBe(false);
    expect(c.offer(at(ts, 2), 0, true).kind).toBe('added'); // no successor held: nothing to fit
    expect(seqs(c)).toEqual([2]);
    // a successor whose full copy was pruned cannot be checked against either
    const d = midway(ts, 3);
    d.offer(at(ts, 3), 0, true);
    d.prune(0, 0);
    expect(d.items[0]?.full).toBeNull();
    expect(d.offer(at(ts, 2), 0, true).kind).toBe('added');
  });

  it("a backfilled predecessor must fit its successor's stamp and arrivals", () => {
    // A liar signed #3 with a stamp below #2's: #2 hashes to #3's link but cannot precede it.
    const [a, b] = build([{}, { stamp: 500 }]);
    const [c3] = build([{}, { stamp: 500 }, { stamp: 400 }]).slice(2);
    if (!a || !b || !c3) throw new Error('fixture');
    const c = midway([a, b, c3], 3);
    expect(c.offer(c3, 0, true).kind).toBe('added');
    expect(c.offer(b, 0, true)).toEqual({ kind: 'invalid', reason: 'stamp or arrival does not fit its successor' });
    expect(seqs(c)).toEqual([3]);
  });

  it('backfill moves the admission markers back to the first Timeslot of each epoch', () => {
    const ts = build([{ epoch: 1 }, { epoch: 1 }, { epoch: 2 }, { epoch: 2 }]);
    const c = midway(ts, 3);
    c.offer(at(ts, 3), 0, true);
    c.offer(at(ts, 4), 0, true);
    expect(c.marks).toEqual([{ epoch: 2, seq: 3, stamp: 300 }]);
    c.offer(at(ts, 2), 0, true);
    expect(c.marks).toEqual([
      { epoch: 1, seq: 2, stamp: 200 },
      { epoch: 2, seq: 3, stamp: 300 },
    ]);
    c.offer(at(ts, 1), 0, true);
    expect(c.marks).toEqual([
      { epoch: 1, seq: 1, stamp: 100 },
      { epoch: 2, seq: 3, stamp: 300 },
    ]);
  });

  it('keeps the marks of the 16 latest epochs', () => {
    const ts = build(Array.from({ length: 18 }, (_, i) => ({ epoch: i + 1 })));
    const c = fresh();
    for (const t of ts) c.offer(t, 0, true);
    expect(c.marks.map((m) => m.epoch)).toEqual(Array.from({ length: 16 }, (_, i) => i + 3));
  });

  it('marks one entry per epoch however long the chain (markers must not be pushed out)', () => {
    const ts = build([...Array.from({ length: 20 }, () => ({ epoch: 1 })), { epoch: 3 }, { epoch: 3 }]);
    const c = fresh();
    for (const t of ts) c.offer(t, 0, true);
    expect(c.marks).toEqual([
      { epoch: 1, seq: 1, stamp: 100 },
      { epoch: 3, seq: 21, stamp: 2100 },
    ]);
  });

  it('a buffered Timeslot that does not link is not drained into the chain', () => {
    const ts = build([{}, {}, { prevHash: 'f'.repeat(32) }]);
    const c = fresh();
    c.offer(at(ts, 1), 0, true);
    expect(c.offer(at(ts, 3), 0, true).kind).toBe('buffered');
    const r = c.offer(at(ts, 2), 0, true);
    expect(r.kind === 'added' && r.items.map((i) => i.seq)).toEqual([2]);
    expect(seqs(c)).toEqual([1, 2]);
    expect([...c.future.keys()]).toEqual([]); // dropped, to be fetched again
  });

  it('drains up to the next gap and keeps what lies beyond it; keeps the first copy of a buffered seq', () => {
    const ts = build([{}, {}, {}, {}, {}]);
    const c = fresh();
    c.offer(at(ts, 1), 0, true);
    c.offer(at(ts, 3), 0, true);
    c.offer(at(ts, 5), 0, true);
    const [other5] = build([{}, {}, {}, {}, { stamp: 480 }]).slice(4);
    if (!other5) throw new Error('fixture');
    expect(c.offer(other5, 0, true).kind).toBe('buffered');
    expect(c.future.get(5)?.hash).toBe(timeslotHash(at(ts, 5), STAY));
    c.offer(at(ts, 2), 0, true);
    expect(seqs(c)).toEqual([1, 2, 3]);
    expect([...c.future.keys()]).toEqual([5]);
    c.offer(at(ts, 4), 0, true);
    expect(seqs(c)).toEqual([1, 2, 3, 4, 5]);
    expect(c.future.size).toBe(0);
  });

  // FINDINGS 13: a relayed copy may overtake its server's own; only a second direct copy is a replay.
  it("a duplicate says whether its server's own copy was held before; the first direct copy marks it", () => {
    const ts = build([{}, {}]);
    const c = fresh();
    c.offer(at(ts, 1), 0, false);
    expect(c.offer(at(ts, 1), 0, false)).toEqual({ kind: 'duplicate', heldDirect: false });
    expect(c.offer(at(ts, 1), 0, true)).toEqual({ kind: 'duplicate', heldDirect: false });
    expect(c.offer(at(ts, 1), 0, true)).toEqual({ kind: 'duplicate', heldDirect: true });
    expect(c.offer(at(ts, 1), 0, false)).toEqual({ kind: 'duplicate', heldDirect: true });
    c.offer(at(ts, 2), 0, true);
    expect(c.items.map((i) => i.direct)).toEqual([true, true]);
    expect(c.offer(at(ts, 2), 0, true)).toEqual({ kind: 'duplicate', heldDirect: true });
  });

  it('the direct mark survives the buffer (either copy of a buffered seq), and backfill', () => {
    const ts = build([{}, {}, {}, {}, {}]);
    const c = fresh();
    c.offer(at(ts, 1), 0, true);
    c.offer(at(ts, 3), 0, true); // direct, then relayed: still direct
    c.offer(at(ts, 3), 0, false);
    c.offer(at(ts, 4), 0, false); // relayed, then direct
    c.offer(at(ts, 4), 0, true);
    c.offer(at(ts, 5), 0, false); // relayed only
    c.offer(at(ts, 2), 0, false);
    expect(c.items.map((i) => [i.seq, i.direct])).toEqual([
      [1, true],
      [2, false],
      [3, true],
      [4, true],
      [5, false],
    ]);
    const d = midway(ts, 3);
    d.offer(at(ts, 3), 0, false);
    d.offer(at(ts, 2), 0, true); // backfilled predecessor
    expect(d.items.map((i) => [i.seq, i.direct])).toEqual([
      [2, true],
      [3, false],
    ]);
  });

  it('an item keeps what it was given: no ignoring list is an empty one', () => {
    const ts = build([{}, { ignoring: ['s3'] }]);
    const c = fresh();
    for (const t of ts) c.offer(t, 0, true);
    expect(c.items.map((i) => i.ignoring)).toEqual([[], ['s3']]);
  });
});

describe('Chain: truncate, prune, reset, range', () => {
  it('truncate keeps items up to a seq (never below the anchor), drops the buffer and later marks', () => {
    const ts = build([{ epoch: 1 }, { epoch: 2 }, { epoch: 2 }, { epoch: 3 }, {}, {}]);
    const c = fresh();
    for (const t of ts.slice(0, 4)) c.offer(t, 0, true);
    expect(c.offer(at(ts, 6), 0, true).kind).toBe('buffered');
    c.truncate(2);
    expect(seqs(c)).toEqual([1, 2]);
    expect(c.future.size).toBe(0);
    expect(c.marks).toEqual([
      { epoch: 1, seq: 1, stamp: 100 },
      { epoch: 2, seq: 2, stamp: 200 },
    ]);
    c.prune(2, 16); // anchor now #1
    c.truncate(0);
    expect(seqs(c)).toEqual([]);
    expect(c.marks).toEqual([{ epoch: 1, seq: 1, stamp: 100 }]); // below the anchor is the anchor
    expect(c.top).toEqual({ seq: 1, hash: timeslotHash(at(ts, 1), STAY), stamp: 100 });
    const empty = fresh();
    empty.truncate(3);
    expect(empty.top).toEqual({ seq: 0, hash: ZERO_HASH, stamp: 0 });
  });

  it('prune moves the anchor to the last dropped item and forgets full copies beyond keepFull from the top', () => {
    const ts = build([{}, {}, {}, {}, {}]);
    const c = fresh();
    for (const t of ts) c.offer(t, 0, true);
    c.prune(3, 2);
    expect(seqs(c)).toEqual([3, 4, 5]);
    expect(c.anchor).toEqual({ seq: 2, hash: timeslotHash(at(ts, 2), STAY), stamp: 200 });
    expect(c.items.map((i) => i.full !== null)).toEqual([false, true, true]);
    c.prune(99, 2); // never the last item: the top stays
    expect(seqs(c)).toEqual([5]);
    expect(c.anchor.seq).toBe(4);
    c.prune(1, 16); // below the first item: nothing to drop
    expect(seqs(c)).toEqual([5]);
  });

  it('reset forgets the marks above its new anchor: Timeslots fetched again are marked as if they came in order', () => {
    // A server syncing holds s1#6 (epoch 3) when it adopts a state anchored at #2, then fetches
    // #3..#6; #4 is epoch 2's first Timeslot (sim/FINDINGS.md 18: a later epoch's mark left
    // above the anchor hid it, and an admission point came out a grid step late).
    const ts = build([{ epoch: 1 }, { epoch: 1 }, { epoch: 1 }, { epoch: 2 }, { epoch: 2 }, { epoch: 3 }]);
    const inOrder = fresh();
    for (const t of ts) inOrder.offer(t, 0, true);
    const c = midway(ts, 6);
    c.offer(at(ts, 6), 0, true);
    expect(c.marks).toEqual([{ epoch: 3, seq: 6, stamp: 600 }]);
    c.reset({ seq: 2, hash: timeslotHash(at(ts, 2), STAY), stamp: 200 });
    expect(c.marks).toEqual([]);
    c.mark({ epoch: 1, seq: 1, stamp: 100 }); // the state's hints, below the anchor
    for (const t of ts.slice(2)) c.offer(t, 0, true);
    expect(c.marks).toEqual(inOrder.marks);
    expect(c.marks).toEqual([
      { epoch: 1, seq: 1, stamp: 100 },
      { epoch: 2, seq: 4, stamp: 400 },
      { epoch: 3, seq: 6, stamp: 600 },
    ]);
  });

  it('marks are the first Timeslot of each epoch whatever order they are noted in', () => {
    const mk = (epoch: number, seq: number) => ({ epoch, seq, stamp: seq * 100 });
    const first = [mk(1, 1), mk(2, 4), mk(4, 9)];
    const noted = [mk(4, 9), mk(2, 5), mk(4, 10), mk(2, 4), mk(1, 3), mk(1, 1), mk(2, 6), mk(1, 2)];
    const a = fresh();
    for (const m of noted) a.mark(m);
    expect(a.marks).toEqual(first);
    const b = fresh();
    for (const m of [...noted].reverse()) b.mark(m);
    expect(b.marks).toEqual(first);
  });

  it('reset starts over from a new anchor with nothing held', () => {
    const ts = build([{}, {}, {}]);
    const c = fresh();
    c.offer(at(ts, 1), 0, true);
    c.offer(at(ts, 3), 0, true);
    const anchor = { seq: 7, hash: 'c'.repeat(32), stamp: 700 };
    c.reset(anchor);
    expect([c.items, c.future.size, c.top]).toEqual([[], 0, anchor]);
  });

  it('rebase starts over from a lower anchor keeping what it held: it joins again, marked in order, once the gap is filled', () => {
    // A replacement joined s1's chain at #5 while fetching its state, and adopts a state anchored
    // at #2 (sim/FINDINGS.md 26: reset dropped #5..#6 it had echoed, and its ignore request then
    // carried nothing).
    const ts = build([{ epoch: 1 }, { epoch: 1 }, { epoch: 1 }, { epoch: 2 }, { epoch: 2 }, { epoch: 3 }, { epoch: 3 }, { epoch: 3 }, { epoch: 3 }]);
    const inOrder = fresh();
    for (const t of ts) inOrder.offer(t, 0, true);
    const c = midway(ts, 5);
    c.offer(at(ts, 5), 0, true);
    c.offer(at(ts, 6), 0, true);
    c.offer(at(ts, 7), 0, true);
    c.offer(at(ts, 9), 0, true); // buffered past a gap: kept too
    c.prune(0, 2); // #5's signed copy is gone: it cannot be kept
    const anchor = { seq: 2, hash: timeslotHash(at(ts, 2), STAY), stamp: 200 };
    c.rebase(anchor);
    expect([c.top, [...c.future.keys()].sort()]).toEqual([anchor, [6, 7, 9]]);
    expect(c.marks).toEqual([]);
    c.mark({ epoch: 1, seq: 1, stamp: 100 }); // the state's hints, below the anchor
    c.offer(at(ts, 3), 0, true);
    c.offer(at(ts, 4), 0, true);
    const r = c.offer(at(ts, 5), 0, true);
    expect(r.kind === 'added' && r.items.map((i) => i.seq)).toEqual([5, 6, 7]);
    expect(c.offer(at(ts, 8), 0, true).kind).toBe('added');
    expect(c.top.seq).toBe(9);
    expect(c.marks).toEqual(inOrder.marks);
    expect(c.get(7)?.full).toEqual(at(ts, 7));
  });

  it('range gives the held full copies in [from, to], at most max, from above the anchor', () => {
    const ts = build([{}, {}, {}, {}, {}, {}]);
    const c = fresh();
    for (const t of ts) c.offer(t, 0, true);
    const ids = (xs: Timeslot[]) => xs.map((t) => t.seq);
    expect(ids(c.range(2, 4, 10))).toEqual([2, 3, 4]);
    expect(ids(c.range(2, 6, 2))).toEqual([2, 3]);
    c.prune(3, 2); // anchor #2; #3 and #4 kept without full copies
    expect(ids(c.range(1, 9, 10))).toEqual([5, 6]);
    expect(c.range(3, 4, 10)).toEqual([]);
  });
});

describe('linkProblem: each rule with the reason the server turns into a code', () => {
  const [t1, t2] = build([{}, {}]);
  if (!t1 || !t2) throw new Error('fixture');
  const prev = { seq: 1, hash: timeslotHash(t1, STAY), stamp: 100 };
  const entry = (arrival: number, no = 1): Timeslot['entries'][number] => ['u', no, arrival, 'a'.repeat(32)];
  it.each([
    ['fits', {}, null],
    ['skips a seq', { seq: 3 }, 'seq 3 does not follow 1'],
    ['links elsewhere', { prevHash: 'f'.repeat(32) }, 'broken hash chain'],
    ['stamp not above', { stamp: 100 }, 'stamp not above the previous stamp'],
    ['too many entries', { entries: Array.from({ length: 3 }, (_, i) => entry(150, i + 1)) }, 'too many entries'],
    ['arrival at the previous stamp', { entries: [entry(100)] }, 'arrival outside (previous stamp, stamp]'],
    ['arrival after the stamp', { entries: [entry(201)] }, 'arrival outside (previous stamp, stamp]'],
    ['arrival at the stamp', { entries: [entry(200)] }, null],
    ['an action twice', { entries: [entry(150), entry(160)] }, 'action listed twice'],
    ['a head for itself', { heads: [['s1', 1, ZERO_HASH]] }, 'bad heads'],
    ['two heads for one server', { heads: [['s2', 1, ZERO_HASH], ['s2', 2, ZERO_HASH]] }, 'bad heads'],
  ] as Array<[string, Partial<Timeslot>, string | null]>)('%s', (_name, change, reason) => {
    expect(linkProblem({ ...t2, ...change }, prev, 2)).toBe(reason);
  });
});
