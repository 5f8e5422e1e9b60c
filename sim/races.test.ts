import { describe, expect, it } from 'vitest';
import type { Membership, PeerMessage, Timeslot } from '../src/protocol/index.js';
import { KnownRaces } from './races.js';

const ts = (server: string, seq: number): Timeslot => ({
  site: 'meadow',
  server,
  seq,
  stamp: seq * 100,
  prevHash: '0'.repeat(32),
  epoch: 1,
  entries: [],
  heads: [],
  update: null,
  sig: '0'.repeat(128),
});
const record = (epoch: number, ids: string[]): Membership => ({
  site: 'meadow',
  epoch,
  members: ids.map((id, slot) => ({ id, key: '0'.repeat(64), slot, stints: [{ admit: 0, cut: null }] })),
  change: { kind: 'init', target: null },
  sig: '0'.repeat(128),
});
const rejected = (from: string, msgType: string, code: 'ERR_REPLAYED' | 'ERR_UNKNOWN_PEER') =>
  ({ kind: 'rejected', from, msgType, code, reason: '' }) as const;

describe('known races of honest messages', () => {
  it("a server's first copy of a Timeslot that a relay brought first is a race; a second copy is a replay", () => {
    const r = new KnownRaces(
      () => null,
      () => null,
    );
    const direct: PeerMessage = { type: 'timeslot', ...ts('s1', 4) };
    const reply: PeerMessage = { type: 'timeslotReply', site: 'meadow', timeslots: [ts('s1', 4)] };
    r.delivering('s0', 's2', reply, 10);
    r.delivered('s0', 's2', reply);
    r.delivering('s0', 's1', direct, 12);
    expect(r.classify('s0', rejected('s1', 'timeslot', 'ERR_REPLAYED'), 12)).toBe('relayed-first');
    // not about the message being delivered now (another time, sender or type): no race
    expect(r.classify('s0', rejected('s1', 'timeslot', 'ERR_REPLAYED'), 13)).toBeUndefined();
    expect(r.classify('s0', rejected('s2', 'timeslot', 'ERR_REPLAYED'), 12)).toBeUndefined();
    r.delivered('s0', 's1', direct);
    r.delivering('s0', 's1', direct, 20);
    expect(r.classify('s0', rejected('s1', 'timeslot', 'ERR_REPLAYED'), 20)).toBeUndefined();
    // without a relayed copy first, a duplicate is a replay
    const other: PeerMessage = { type: 'timeslot', ...ts('s1', 5) };
    r.delivering('s3', 's1', other, 30);
    expect(r.classify('s3', rejected('s1', 'timeslot', 'ERR_REPLAYED'), 30)).toBeUndefined();
  });

  it('a sender listed only in a newer record than the receiver holds is a race', () => {
    let admin = record(2, ['s0', 's1', 'p0']);
    const r = new KnownRaces(
      () => admin,
      (id) => (id === 's0' ? record(1, ['s0', 's1']) : record(2, ['s0', 's1', 'p0'])),
    );
    const ask: PeerMessage = { type: 'stateRequest', site: 'meadow', seq: null };
    r.delivering('s0', 'p0', ask, 5);
    expect(r.classify('s0', rejected('p0', 'stateRequest', 'ERR_UNKNOWN_PEER'), 5)).toBe('stale-membership');
    r.delivering('s0', 'zz', ask, 6);
    expect(r.classify('s0', rejected('zz', 'stateRequest', 'ERR_UNKNOWN_PEER'), 6)).toBeUndefined();
    r.delivering('s1', 'p0', ask, 7); // s1 holds the newest record: a real rejection
    expect(r.classify('s1', rejected('p0', 'stateRequest', 'ERR_UNKNOWN_PEER'), 7)).toBeUndefined();
    admin = record(1, ['s0', 's1']);
    r.delivering('s0', 'p0', ask, 8);
    expect(r.classify('s0', rejected('p0', 'stateRequest', 'ERR_UNKNOWN_PEER'), 8)).toBeUndefined();
  });
});
