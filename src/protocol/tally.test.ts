/**
 * The one vote tally (tally.ts) and what users and the admin do with it: a server whose update
 * differs from the majority is flagged with evidence that locates the parting, a user's report
 * reaches the admin with that evidence, and the report counts only when the admin's own tally of
 * the servers' answers agrees.
 */
import { describe, expect, it } from 'vitest';
import { ZERO_HASH } from './crypto.js';
import type { PeerMessage, UpdateMessage } from './messages.js';
import { updateHash } from './signed.js';
import { VoteTally } from './tally.js';
import { MINORITY } from './coordinator.js';
import { playMoves, setupSite } from './testing.js';
import type { CoreEvent } from './api.js';

const h = (n: number): string => n.toString(16).padStart(32, '0');
const servers = new Set(['s0', 's1', 's2']);

function update(seq: number, salt: number, applied: Array<[string, number]> = [['alice', 1]]): UpdateMessage {
  const body = { site: 'meadow', seq, prev: ZERO_HASH, window: seq * 100, applied, events: [], stateHash: h(salt) };
  return { type: 'update', ...body, hash: updateHash(body) };
}

describe('the vote tally', () => {
  it('accepts the majority copy and flags the other side with where the copies part', () => {
    const t = new VoteTally({ nMajority: 2, maxOpen: 8, decidedKept: 8, flagOnHashes: true });
    const good = update(5, 1, [['alice', 3], ['bob', 7]]);
    const bad = update(5, 2, [['mallory', 1]]);
    expect(t.vote('s1', 5, bad.hash, bad, servers).flags).toEqual([]);
    expect(t.vote('s0', 5, good.hash, good, servers).flags).toEqual([]);
    expect(t.ready(5, servers)).toBeNull();
    const r = t.vote('s2', 5, good.hash, null, servers);
    // Once two agree, the third is on the other side: flagged at once, with the evidence.
    expect(r.flags).toEqual([
      {
        server: 's1',
        seq: 5,
        kind: 'differs',
        evidence: { seq: 5, majority: { hash: good.hash, servers: ['s0', 's2'] }, minority: [['s1', bad.hash]], window: 500, actions: [['alice', 3], ['bob', 7]], actionCount: 2 },
      },
    ]);
    // Hashes only (the admin's probe): flagged too, saying the copy was not seen.
    const probe = new VoteTally({ nMajority: 2, maxOpen: 8, decidedKept: 8, flagOnHashes: true });
    probe.vote('s1', 5, bad.hash, null, servers);
    probe.vote('s0', 5, good.hash, null, servers);
    expect(probe.vote('s2', 5, good.hash, null, servers).flags[0]?.evidence).toMatchObject({ minority: [['s1', bad.hash]], actions: [], actionCount: null });
    expect(probe.ready(5, servers)).toBeNull();
    expect(t.ready(5, servers)).toEqual(good);
    // Accepting adds nothing twice, and the actions of the majority copy come with later evidence.
    expect(t.accept(5, good)).toEqual([]);
    const late = new VoteTally({ nMajority: 2, maxOpen: 8, decidedKept: 8 });
    late.vote('s0', 5, good.hash, good, servers);
    late.vote('s2', 5, good.hash, null, servers);
    late.accept(5, good);
    const word = late.vote('s1', 5, bad.hash, null, servers);
    expect(word.outcome).toBe('late');
    expect(word.flags[0]?.evidence).toEqual({
      seq: 5,
      majority: { hash: good.hash, servers: ['s0', 's2'] },
      minority: [['s1', bad.hash]],
      window: 500,
      actions: [['alice', 3], ['bob', 7]],
      actionCount: 2,
    });
    // A second full copy from a server that had its word is a replay; a repeated hash is not.
    expect(late.vote('s0', 5, good.hash, good, servers).outcome).toBe('replayed');
    expect(late.vote('s2', 5, good.hash, null, servers).outcome).toBe('duplicate');
  });

  it('flags content that does not match its hash and a changed word, without evidence to give', () => {
    const t = new VoteTally({ nMajority: 2, maxOpen: 8, decidedKept: 8 });
    const u = update(3, 1);
    expect(t.vote('s0', 3, u.hash, { ...u, applied: [] }, servers)).toEqual({ outcome: 'bad-hash', flags: [{ server: 's0', seq: 3, kind: 'bad-hash' }] });
    t.vote('s1', 3, u.hash, u, servers);
    expect(t.vote('s1', 3, h(9), null, servers)).toEqual({ outcome: 'changed', flags: [{ server: 's1', seq: 3, kind: 'changed' }] });
  });

  it('stays bounded: open seqs, decided seqs, and actions listed as evidence', () => {
    const t = new VoteTally({ nMajority: 2, maxOpen: 4, decidedKept: 3 });
    for (let seq = 10; seq < 20; seq++) t.vote('s0', seq, h(seq), null, servers);
    expect(t.openCount).toBe(4);
    expect(t.vote('s0', 100, h(100), null, servers).outcome).toBe('too-far');
    // A hash-only agreement (a probe's answers: no copy is coming) gives way to a new seq.
    t.vote('s1', 10, h(10), null, servers);
    expect(t.vote('s0', 200, h(200), null, servers).outcome).toBe('counted');
    expect(t.hasOpen(10)).toBe(false);
    for (let seq = 1; seq <= 5; seq++) t.accept(seq, update(seq, seq, Array.from({ length: 100 }, (_, i) => ['alice', i + 1] as [string, number])));
    expect(t.decidedSeqs().map(([s]) => s)).toEqual([3, 4, 5]);
    t.vote('s0', 5, h(1), null, servers);
    const ev = t.wordOf(5, 's0')?.evidence;
    expect(ev?.actions).toHaveLength(32);
    expect(ev?.actionCount).toBe(100);
  });
});

describe("the admin's rule: voters slotted together (sim/FINDINGS.md 65)", () => {
  const all5 = new Set(['s0', 's1', 's2', 's3', 's4']);
  const tally = (): VoteTally => new VoteTally({ nMajority: 3, maxOpen: 8, decidedKept: 8, flagOnHashes: true });

  it('counts voters whose spans share an epoch, also after they lost their slots', () => {
    const t = tally();
    const u = update(7, 1);
    // s0 [1,3], s1 [2,5] voted and left; s2 votes at 6, slotted since 3: all three held slots at 3.
    t.vote('s0', 7, u.hash, u, all5, true, { lo: 1, hi: 3 });
    t.vote('s1', 7, u.hash, null, all5, true, { lo: 2, hi: 5 });
    t.vote('s2', 7, u.hash, null, all5, true, { lo: 3, hi: 6 });
    expect(t.ready(7, new Set(['s2']))).toBeNull();
    expect(t.readyTogether(7, 6, new Set(['s2']))).toEqual(u);
  });

  it('does not count a chain of spans that never all met', () => {
    const t = tally();
    const u = update(7, 1);
    // Pairwise, neighbours overlap ([0,2] [2,4] [4,9]); the first and last never held slots together.
    t.vote('s0', 7, u.hash, u, all5, true, { lo: 0, hi: 2 });
    t.vote('s1', 7, u.hash, null, all5, true, { lo: 2, hi: 4 });
    t.vote('s2', 7, u.hash, null, all5, true, { lo: 4, hi: 9 });
    expect(t.readyTogether(7, 9, new Set(['s2']))).toBeNull();
    // Slotted now, a voter holds its slot up to now: it meets every earlier voter still slotted.
    expect(t.readyTogether(7, 9, all5)).toEqual(u);
  });

  it("widens a voter's span with its repeated word, never with a changed one", () => {
    const t = tally();
    const u = update(7, 1);
    t.vote('s0', 7, u.hash, u, all5, true, { lo: 0, hi: 1 });
    t.vote('s1', 7, u.hash, null, all5, true, { lo: 5, hi: 6 });
    t.vote('s2', 7, u.hash, null, all5, true, { lo: 5, hi: 6 });
    expect(t.readyTogether(7, 8, new Set())).toBeNull();
    // A changed word (flagged) leaves s0's span as its first word made it.
    expect(t.vote('s0', 7, h(9), null, all5, true, { lo: 0, hi: 5 }).outcome).toBe('changed');
    expect(t.readyTogether(7, 8, new Set())).toBeNull();
    // s0 held its slot from 0 to its repeat at 5 (a slot once lost is never held again).
    expect(t.vote('s0', 7, u.hash, null, all5, true, { lo: 4, hi: 5 }).outcome).toBe('duplicate');
    expect(t.readyTogether(7, 8, new Set())).toEqual(u);
  });
});

describe('detection on a site', () => {
  /** s1 tampers with every update it sends (a consistent forgery: its copies hash to what it claims). */
  function tamperer(target: string): (from: string, to: string, m: PeerMessage) => PeerMessage {
    return (from, _to, m) => {
      if (from !== target) return m;
      if (m.type === 'update') {
        const { type: _t, hash: _h, ...body } = m;
        const forged = { ...body, events: [] };
        return { type: 'update', ...forged, hash: updateHash(forged) };
      }
      if (m.type === 'updateHash') return { ...m, hash: 'f'.repeat(32) };
      return m;
    };
  }

  const adminFlags = (events: Array<{ node: string; e: CoreEvent }>): Array<Extract<CoreEvent, { kind: 'flagged' }>> =>
    events.flatMap((x) => (x.node === 'admin' && x.e.kind === 'flagged' ? [x.e] : []));

  it('a user reports the cheater with the evidence; the admin probes and its own tally confirms it', () => {
    const s = setupSite({ nServer: 3 });
    const sent: PeerMessage[] = [];
    const rw = tamperer('s1');
    s.net.rewrite = (from, to, m) => {
      if (to === 'admin' && m.type === 'flagReport') sent.push(m);
      return rw(from, to, m);
    };
    playMoves(s, 10);
    s.net.run(1500);
    const report = sent.find((m) => m.type === 'flagReport' && m.server === 's1');
    if (report?.type !== 'flagReport') throw new Error('no flag report about s1');
    expect(report.reason).toBe('differs');
    const ev = report.evidence;
    expect(ev?.seq).toBe(report.seq);
    expect(ev?.minority.map(([id]) => id)).toEqual(['s1']);
    expect([...(ev?.majority.servers ?? [])].sort()).toEqual(['s0', 's2']);
    // The actions are those of the accepted majority copy of that update.
    const accepted = s.users.get('alice')?.acceptedLog().find((a) => a.seq === report.seq);
    expect(ev?.majority.hash).toBe(accepted?.hash);
    expect(ev?.actions).toEqual(accepted?.applied.slice(0, 32).map((a) => [a.user, a.actionNo]));
    expect(ev?.actionCount).toBe(accepted?.applied.length);
    // The admin asked the servers, and its own tally of their answers put s1 in the minority.
    const confirmed = adminFlags(s.events).filter((e) => e.by === MINORITY && e.server === 's1');
    expect(confirmed.length).toBeGreaterThan(0);
    expect(confirmed[0]?.evidence?.minority.map(([id]) => id)).toEqual(['s1']);
    expect(adminFlags(s.events).some((e) => e.by === MINORITY && e.server !== 's1')).toBe(false);
  });

  it("a user's report alone never puts an honest server in the minority", () => {
    const s = setupSite({ nServer: 3 });
    playMoves(s, 10);
    s.net.run(1000);
    const seq = s.users.get('alice')?.lastAccepted().seq ?? 0;
    expect(seq).toBeGreaterThan(3);
    const lie = { seq, majority: { hash: h(1), servers: ['s0', 's1'] }, minority: [['s2', h(2)] as [string, string]], window: null, actions: [], actionCount: null };
    s.coordinator.receive('alice', { type: 'flagReport', site: 'meadow', server: 's2', seq, reason: 'differs', evidence: lie });
    s.coordinator.receive('alice', { type: 'flagReport', site: 'meadow', server: 's2', seq: seq - 1, reason: 'differs', evidence: { ...lie, seq: seq - 1 } });
    s.net.run(1000);
    const flags = adminFlags(s.events);
    // Recorded as alice's claim, with her evidence; never as the admin's verdict.
    expect(flags.filter((e) => e.by === 'alice').map((e) => e.server)).toEqual(['s2', 's2']);
    expect(flags.filter((e) => e.by === MINORITY)).toEqual([]);
  });

  it('reports cannot make the admin flood the servers with hash requests', () => {
    const s = setupSite({ nServer: 3 });
    const asked: number[] = [];
    s.net.rewrite = (from, _to, m) => {
      if (from === 'admin' && m.type === 'hashRequest') asked.push(m.seq);
      return m;
    };
    for (let seq = 1; seq <= 200; seq++) s.coordinator.receive('alice', { type: 'flagReport', site: 'meadow', server: 's2', seq, reason: 'differs' });
    s.net.run(10);
    // Once per seq, and within the probe budget (16 at once): at most 3 servers x 16 requests.
    expect(asked.length).toBe(3 * 16);
    const refused = s.events.filter((x) => x.node === 'admin' && x.e.kind === 'rejected' && x.e.code === 'ERR_RATE_LIMITED');
    expect(refused).toHaveLength(200 - 16);
  });
});
