/**
 * The admin counts an update's votes from servers that held their slots together (sim/FINDINGS.md
 * 65). A departure's update that the admin missed (it was down) is passed on once N_majority
 * servers that were slotted at one epoch vouch for it, even if one of them lost its slot before
 * the other's vote came (its player walked into the site): the site's other holder may never vote
 * (a replacement that took the state past that update), so without it the departure never came and
 * its user was in no place (managed world seed 14103). But a vote outlives its slot only with those
 * it was slotted with: a liar and its replacement, never slotted together, make no majority.
 */
import { describe, expect, it } from 'vitest';
import type { PeerMessage, UpdateMessage } from './messages.js';
import { updateHash } from './signed.js';
import { playMoves, setupSite, type SiteSetup } from './testing.js';

/** A 3-server site (N_majority 2) whose admin misses every update; alice's departure is applied. */
function missedDeparture(): {
  s: SiteSetup;
  left: string[];
  copyOf: (id: string) => UpdateMessage;
  wordOf: (id: string, seq: number) => PeerMessage;
} {
  const left: string[] = [];
  const s = setupSite({ nServer: 3, spares: 1, onLeft: (u, via) => left.push(`${u.name}:${via}`) });
  const missed: Array<{ from: string; m: PeerMessage }> = [];
  playMoves(s, 5);
  s.net.rewrite = (from, to, m) => {
    if (to === 'admin' && (m.type === 'update' || m.type === 'updateHash')) {
      missed.push({ from, m });
      return null;
    }
    return m;
  };
  s.coordinator.systemAction('alice', { kind: 'leave' });
  s.net.run(1500);
  expect(left).toEqual([]);
  const copyOf = (id: string): UpdateMessage => {
    const x = missed.find(
      (y) => y.from === id && y.m.type === 'update' && y.m.events.some((e) => e.kind === 'left'),
    );
    if (!x || x.m.type !== 'update') throw new Error(`no departure copy from ${id}`);
    return x.m;
  };
  /** What `id` sent the admin on `seq`: the update in full or its hash (which rotates with seq). */
  const wordOf = (id: string, seq: number): PeerMessage => {
    const x = missed.find(
      (y) => y.from === id && (y.m.type === 'update' || y.m.type === 'updateHash') && y.m.seq === seq,
    );
    if (!x) throw new Error(`no word from ${id} on ${seq}`);
    return x.m;
  };
  return { s, left, copyOf, wordOf };
}

const slotOf = (s: SiteSetup, id: string): number | null | undefined =>
  s.coordinator.membership()?.members.find((m) => m.id === id)?.slot;

describe('coordinator: a vote cast by a server that lost its slot since', () => {
  it('counts with a voter it was slotted together with (seed 14103)', () => {
    const { s, left, copyOf } = missedDeparture();
    const s0 = copyOf('s0');
    const s1 = copyOf('s1');
    // s0 resends first, then its player walks in (evicted), then s1 resends.
    s.coordinator.receive('s0', s0);
    expect(s.coordinator.evict('s0')).toBe(true);
    s.net.run(1500);
    expect(slotOf(s, 's0')).toBeNull();
    expect(left).toEqual([]);
    s.coordinator.receive('s1', s1);
    expect(left).toEqual(['alice:logout']);
  });

  it('does not count with a voter admitted after it lost its slot (a liar and its replacement)', () => {
    const { s, left, copyOf, wordOf } = missedDeparture();
    // A bogus update for alice's seq: bob leaves instead (content hashes right; only the votes can refuse it).
    const real = copyOf('s0');
    const { type: _t, hash: _h, ...body } = real;
    void _t;
    void _h;
    const bogusBody = {
      ...body,
      events: body.events.map((e) => (e.kind === 'left' ? { ...e, user: { ...e.user, name: 'bob' } } : e)),
    };
    const bogus: UpdateMessage = { type: 'update', ...bogusBody, hash: updateHash(bogusBody) };
    expect(bogus.hash).not.toBe(real.hash);
    s.coordinator.receive('s0', bogus);
    expect(s.coordinator.evict('s0')).toBe(true);
    s.net.run(1500);
    expect(slotOf(s, 's0')).toBeNull();
    // c0 took s0's slot in the record that cut s0: never slotted together with it.
    expect(slotOf(s, 'c0')).not.toBeNull();
    s.coordinator.receive('c0', bogus);
    expect(left).toEqual([]);
    // The honest holders' word still decides the seq.
    s.coordinator.receive('s1', wordOf('s1', real.seq));
    s.coordinator.receive('s2', wordOf('s2', real.seq));
    expect(left).toEqual(['alice:logout']);
  });

  it('counts a word sent after its server lost its slot, with a voter slotted with it (seed 19543, FINDINGS 76)', () => {
    const { s, left, copyOf, wordOf } = missedDeparture();
    const s0 = copyOf('s0');
    // s1's word first; s0's player walks in as its key comes back (evicted), and only then does
    // its resent copy arrive: the one full copy, from a server no longer slotted.
    s.coordinator.receive('s1', wordOf('s1', s0.seq));
    expect(s.coordinator.evict('s0')).toBe(true);
    s.net.run(1500);
    expect(slotOf(s, 's0')).toBeNull();
    expect(left).toEqual([]);
    s.coordinator.receive('s0', s0);
    expect(left).toEqual(['alice:logout']);
  });

  it('does not count a word sent after losing its slot with its replacement alone', () => {
    const { s, left, copyOf } = missedDeparture();
    const s0 = copyOf('s0');
    expect(s.coordinator.evict('s0')).toBe(true);
    s.net.run(1500);
    expect(slotOf(s, 'c0')).not.toBeNull();
    s.coordinator.receive('s0', s0);
    s.coordinator.receive('c0', s0);
    expect(left).toEqual([]);
  });
});
