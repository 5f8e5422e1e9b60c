import { describe, expect, it } from 'vitest';
import type { SiteCoordinator } from './api.js';
import { declineAfter } from './config.js';
import type { CutWatch } from './coordinator.js';
import type { PeerMessage } from './messages.js';
import { appliedHashes, playMoves, resumeCoordinator, setupSite } from './testing.js';

/** A site whose admin's every outgoing message is kept, in order. */
function siteSeenFromAdmin() {
  const s = setupSite({});
  const out: Array<{ to: string; m: PeerMessage }> = [];
  s.net.rewrite = (from, to, m) => {
    if (from === 'admin') out.push({ to, m });
    return m;
  };
  return { s, out };
}

describe('coordinator: withdrawn ignore requests', () => {
  it('a withdrawn request no longer counts, the answer names the withdrawal, and after a cut the record is the answer', () => {
    const { s, out } = siteSeenFromAdmin();
    const ask = (from: string, no: number): void =>
      s.coordinator.receive(from, {
        type: 'membershipRequest',
        site: 'meadow',
        epoch: 1,
        no,
        kind: 'ignore',
        target: 's4',
        held: null,
      });
    const withdraw = (no: number): void =>
      s.coordinator.receive('s0', { type: 'withdrawRequest', site: 'meadow', epoch: 1, no, target: 's4' });
    const cutOfS4 = () =>
      s.coordinator
        .membership()
        ?.members.find((m) => m.id === 's4')
        ?.stints.at(-1)?.cut ?? null;

    ask('s0', 7);
    withdraw(8);
    expect(out).toContainEqual({
      to: 's0',
      m: { type: 'requestDeclined', site: 'meadow', epoch: 1, no: 8, kind: 'ignore', target: 's4' },
    });
    ask('s1', 1);
    ask('s2', 1);
    expect(cutOfS4()).toBeNull(); // s0's request is gone: two are not N_majority
    ask('s3', 1);
    expect(cutOfS4()).not.toBeNull();

    out.length = 0;
    withdraw(9);
    expect(out.map((o) => `${o.to}:${o.m.type}`)).toEqual(['s0:membership']);
  });
});

describe('coordinator: ignore requests that do not cover the target (sim/FINDINGS.md 39)', () => {
  it('never cut it, however many; one that covers, with them, does', () => {
    const { s } = siteSeenFromAdmin();
    const ask = (from: string, covers: boolean): void =>
      s.coordinator.receive(from, {
        type: 'membershipRequest',
        site: 'meadow',
        epoch: 1,
        no: 1,
        kind: 'ignore',
        target: 's4',
        held: null,
        covers,
      });
    const cutOfS4 = () => s.coordinator.membership()?.members.find((m) => m.id === 's4')?.stints.at(-1)?.cut ?? null;
    for (const id of ['s0', 's1', 's2', 's3']) ask(id, false);
    expect(cutOfS4()).toBeNull();
    ask('s2', true); // its repeat, once it knows its admission point
    expect(cutOfS4()).not.toBeNull();
  });
});

describe('coordinator: a cut nobody can decide (sim/FINDINGS.md 57, 70)', () => {
  function uncovering() {
    const { s, out } = siteSeenFromAdmin();
    // testing.ts types it as the core's interface; the admin's site reads `uncoverable` too.
    const c = s.coordinator as SiteCoordinator & CutWatch;
    // Through the net, so that it wakes the admin for the decline.
    const ask = (from: string, no: number, covers = false): void =>
      s.net.poke('admin', () =>
        c.receive(from, { type: 'membershipRequest', site: 'meadow', epoch: 1, no, kind: 'ignore', target: 's4', held: null, covers }),
      );
    const cutOfS4 = () => c.membership()?.members.find((m) => m.id === 's4')?.stints.at(-1)?.cut ?? null;
    return { s, out, c, ask, cutOfS4 };
  }

  it('is uncoverable once N_majority ask again after a round of them was declined for want of cover', () => {
    const { s, c, ask, cutOfS4 } = uncovering();
    for (const id of ['s0', 's1', 's2', 's3']) ask(id, 1);
    // A first round may still get its covering request.
    expect(c.uncoverable()).toBe(false);
    s.net.run(declineAfter(s.config) + 100);
    expect(cutOfS4()).toBeNull();
    // Declined, and nobody asked again yet: nothing says they still want the cut.
    expect(c.uncoverable()).toBe(false);
    ask('s0', 2);
    ask('s1', 2);
    expect(c.uncoverable()).toBe(false); // two are not N_majority
    ask('s2', 2);
    expect(c.uncoverable()).toBe(true);
    // A withdrawal: a requester saw s4 back.
    s.net.poke('admin', () => c.receive('s0', { type: 'withdrawRequest', site: 'meadow', epoch: 1, no: 3, target: 's4' }));
    expect(c.uncoverable()).toBe(false);
    // Frozen anew: a fresh round, which may yet be covered (s4 came back and may have been used since).
    ask('s0', 4);
    expect(c.uncoverable()).toBe(false);
  });

  it('is not when they ask again long after the decline: a fresh round may yet be covered', () => {
    const { s, c, ask } = uncovering();
    for (const id of ['s0', 's1', 's2']) ask(id, 1);
    s.net.run(declineAfter(s.config) + 100);
    s.net.run(declineAfter(s.config));
    for (const id of ['s0', 's1', 's2']) ask(id, 2);
    expect(c.uncoverable()).toBe(false);
  });

  it('is not after a round declined for want of requesters, and ends with the cut a covering request decides', () => {
    const { s, c, ask, cutOfS4 } = uncovering();
    ask('s0', 1);
    ask('s1', 1);
    s.net.run(declineAfter(s.config) + 100);
    for (const id of ['s0', 's1', 's2']) ask(id, 2);
    expect(c.uncoverable()).toBe(false);
    s.net.run(declineAfter(s.config) + 100);
    for (const id of ['s0', 's1', 's2']) ask(id, 3);
    expect(c.uncoverable()).toBe(true);
    ask('s3', 3, true);
    expect(cutOfS4()).not.toBeNull();
    expect(c.uncoverable()).toBe(false);
  });
});

describe('coordinator: a late copy of a declined ignore request (sim/FINDINGS.md 22)', () => {
  it('is declined again and never counts: its sender may have unfrozen on the answer', () => {
    const { s, out } = siteSeenFromAdmin();
    const ask = (from: string, no: number): void =>
      s.net.poke('admin', () =>
        s.coordinator.receive(from, { type: 'membershipRequest', site: 'meadow', epoch: 1, no, kind: 'ignore', target: 's4', held: null }),
      );
    const cutOfS4 = () => s.coordinator.membership()?.members.find((m) => m.id === 's4')?.stints.at(-1)?.cut ?? null;
    const declinedTo = (to: string, no: number) =>
      out.filter((o) => o.to === to && o.m.type === 'requestDeclined' && o.m.no === no).length;

    ask('s0', 7); // a lone request: no majority within declineAfter
    s.net.run(declineAfter(s.config) + 100);
    expect(declinedTo('s0', 7)).toBe(1);
    ask('s0', 7); // a repeat that left s0 before the answer arrived there
    expect(declinedTo('s0', 7)).toBe(2);
    ask('s1', 1);
    ask('s2', 1);
    expect(cutOfS4()).toBeNull(); // s0's late copy is not a third voice
    ask('s0', 8); // a new request from s0 (it froze s4 again) counts
    expect(cutOfS4()).not.toBeNull();
  });
});

describe('coordinator: evicting a server the admin decided to drop', () => {
  it('cuts it where the servers hold its Timeslots, gives its slot to a replacement, and the site runs on', () => {
    const s = setupSite({ nServer: 3, spares: 1 });
    const sent = new Map<number, { stamp: number; epoch: number }>();
    s.net.rewrite = (from, _to, m) => {
      if (from === 's1' && m.type === 'timeslot') sent.set(m.seq, { stamp: m.stamp, epoch: m.epoch });
      return m;
    };
    playMoves(s, 10);
    expect(s.coordinator.evict('s1')).toBe(true);
    // Once only, and never for a non-member.
    expect(s.coordinator.evict('s1')).toBe(false);
    expect(s.coordinator.evict('nobody')).toBe(false);
    s.net.run(1500);
    const rec = s.coordinator.membership();
    const s1 = rec?.members.find((m) => m.id === 's1');
    expect(rec?.change.kind).toBe('evict');
    expect(s1?.slot).toBeNull();
    // The cut names a Timeslot s1 really sent: everything the others used of it.
    const cut = s1?.stints.at(-1)?.cut;
    expect(cut?.seq).toBeGreaterThan(0);
    // With its stamp and epoch: an admission point may rest on them, and a server that takes a
    // state later holds s1's chain only from past the cut (sim/FINDINGS.md 17).
    expect(cut && { stamp: cut.stamp, epoch: cut.epoch }).toEqual(sent.get(cut?.seq ?? -1));
    expect(cut?.stamp).toBeGreaterThan(0);
    expect(s.coordinator.activeServers()).toContain('c0');
    playMoves(s, 20);
    s.net.run(3000);
    // Every user accepted what the servers applied, the newcomer included.
    const want = appliedHashes(s, 's0');
    expect(want.length).toBeGreaterThan(5);
    expect(appliedHashes(s, 'c0').at(-1)).toBe(want.at(-1));
    for (const u of s.users.values()) expect(u.lastAccepted().seq).toBe(Number(want.at(-1)?.split(':')[0]));
  });
});

describe('coordinator: going on from its record after the admin restarted', () => {
  it('keeps the membership and the system-action numbers, and passes a resent departure on only once', () => {
    const left: string[] = [];
    const s = setupSite({ nServer: 3, onLeft: (u, via, seq) => left.push(`${u.name}:${via}:${seq}`) });
    // What the servers tell the admin about departures (the hosts resend it when the admin is back).
    const toAdmin: Array<{ from: string; m: PeerMessage }> = [];
    s.net.rewrite = (from, to, m) => {
      if (to === 'admin' && (m.type === 'update' || m.type === 'updateHash')) toAdmin.push({ from, m });
      return m;
    };
    playMoves(s, 5);
    s.coordinator.systemAction('alice', { kind: 'leave' });
    s.net.run(1500);
    expect(left).toHaveLength(1);
    const record = s.coordinator.record();
    expect(record?.sysNo).toBe(1);
    expect(record?.done.length).toBeGreaterThan(0);

    // The restarted admin: a new coordinator from the stored record.
    const again: string[] = [];
    const resumed = resumeCoordinator(s, record!, (u, via, seq) => again.push(`${u.name}:${via}:${seq}`));
    expect(resumed.membership()).toEqual(s.coordinator.membership());
    expect(resumed.activeServers()).toEqual(['s0', 's1', 's2']);
    // Every server resends alice's departure: it was passed on before the restart.
    for (const { from, m } of toAdmin) resumed.receive(from, m);
    expect(again).toEqual([]);
    // Its next system action is numbered above the old ones, so the servers apply it.
    resumed.systemAction('bob', { kind: 'leave' });
    s.net.run(1500);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatch(/^bob:logout:/);
    expect(resumed.record()?.sysNo).toBe(2);
  });

  it('numbers on past a system action the servers applied that its stored record does not hold (FINDINGS 34)', () => {
    const left: string[] = [];
    const s = setupSite({ nServer: 3 });
    const toAdmin: Array<{ from: string; m: PeerMessage }> = [];
    s.net.rewrite = (from, to, m) => {
      if (to === 'admin' && (m.type === 'update' || m.type === 'updateHash')) toAdmin.push({ from, m });
      return m;
    };
    playMoves(s, 5);
    // The record as stored before alice's leave was ordered (that write lost with the admin).
    const record = s.coordinator.record()!;
    s.coordinator.systemAction('alice', { kind: 'leave' });
    s.net.run(1500);
    expect(record.sysNo).toBe(0);

    const resumed = resumeCoordinator(s, record, (u, via) => left.push(`${u.name}:${via}`));
    // The servers resend what they told the admin: alice's departure, system action 1.
    for (const { from, m } of toAdmin) resumed.receive(from, m);
    expect(left).toEqual(['alice:logout']);
    // Bob's leave is 2, not the 1 the servers applied (they would drop it, and bob stay for good).
    expect(resumed.systemAction('bob', { kind: 'leave' })).toBe(2);
    s.net.run(1500);
    expect(left).toEqual(['alice:logout', 'bob:logout']);
  });

  it('sends again after the restart a system action no majority applied before it (FINDINGS 21)', () => {
    const left: string[] = [];
    const s = setupSite({ nServer: 3 });
    // The admin's order of alice's departure never reaches a server before the admin stops.
    let dropOrders = true;
    s.net.rewrite = (_from, _to, m) => (dropOrders && m.type === 'sysAction' ? null : m);
    playMoves(s, 5);
    s.coordinator.systemAction('alice', { kind: 'leave' });
    s.net.run(300);
    const record = s.coordinator.record()!;
    expect(record.resend?.map((r) => r.msg.actor)).toEqual(['alice']);

    dropOrders = false;
    const resumed = resumeCoordinator(s, record, (u, via) => left.push(`${u.name}:${via}`));
    s.net.run(3000);
    // Without the order in the record alice would stay on the site for good.
    expect(left).toEqual(['alice:logout']);
    expect(resumed.record()?.resend).toEqual([]);
  });
});

describe('coordinator: a walked-in server cut while its replacement-to-be is still syncing (sim/FINDINGS.md 39)', () => {
  /**
   * Three servers; s0 reaches the admin 300 ms late. s2's player walks in: evicted, c0 takes its
   * slot. Unless `linked`, c0 never gets a state nor anything of s1 (those links never came up).
   * Then s1's player walks in too: s1 stops, the admin evicts it, and c0 and s0 answer the call.
   */
  function walkInsWithReplacement(linked: boolean) {
    const slow = (from: string, to: string): boolean => from === 's0' && to === 'admin';
    const s = setupSite({ nServer: 3, spares: 1, latency: (from, to) => (slow(from, to) ? 300 : 5) });
    const asks: Array<{ from: string; seq: number | null; covers: boolean | undefined }> = [];
    s.net.rewrite = (from, to, m) => {
      if (to === 'admin' && m.type === 'membershipRequest' && m.target === 's1')
        asks.push({ from, seq: m.held?.seq ?? null, covers: m.covers });
      return m;
    };
    if (!linked)
      s.net.drop = (from, to, m) => to === 'c0' && (from === 's1' || m.type === 'stateChunk' || m.type === 'timeslotReply');
    playMoves(s, 10);
    s.net.down.add('s2');
    expect(s.coordinator.evict('s2')).toBe(true);
    s.net.run(linked ? 2000 : 100);
    expect(s.coordinator.activeServers()).toEqual(['s0', 's1', 'c0']);
    expect(s.servers.get('c0')?.status()).toBe(linked ? 'running' : 'syncing');
    s.net.down.add('s1');
    expect(s.coordinator.evict('s1')).toBe(true);
    s.net.run(1000);
    const cut = s.coordinator.membership()?.members.find((m) => m.id === 's1')?.stints.at(-1)?.cut ?? null;
    return { asks, cut };
  }

  it('is not decided by the syncing replacement, which holds nothing of it, but at what s0 used', () => {
    const { asks, cut } = walkInsWithReplacement(false);
    // c0's request reaches the admin first; alone (N_majority - 1 against a server the admin
    // evicts) it cut s1 at 0.
    expect(asks.find((a) => a.from === 'c0')).toEqual({ from: 'c0', seq: null, covers: false });
    const s0 = asks.find((a) => a.from === 's0');
    expect(s0?.covers).toBe(true);
    expect(s0?.seq).toBeGreaterThan(0);
    expect(cut?.seq).toBe(s0?.seq);
  });

  it('a replacement that took the state and held the target since its admission point covers it', () => {
    const { asks, cut } = walkInsWithReplacement(true);
    const c0 = asks.find((a) => a.from === 'c0');
    expect(c0?.covers).toBe(true);
    expect(cut?.seq).toBe(c0?.seq);
  });
});
