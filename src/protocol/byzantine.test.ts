import { describe, expect, it } from 'vitest';
import { signTimeslot } from './signed.js';
import { appliedHashes as hashes, playMoves as play, setupSite, type SiteSetup } from './testing.js';


function expectPrefixes(s: SiteSetup, ids: string[]): void {
  const lists = ids.map((id) => hashes(s, id));
  for (const a of lists)
    for (const b of lists) {
      const n = Math.min(a.length, b.length);
      expect(a.slice(0, n)).toEqual(b.slice(0, n));
    }
}

describe('Byzantine servers', () => {
  it('an equivocating server is proven, evicted at an agreed cut and replaced; honest servers stay in step', () => {
    const s = setupSite({ spares: 1 });
    const liar = 's1';
    const secret = s.secrets.get(liar) as string;
    s.net.rewrite = (from, to, m) => {
      if (from !== liar || m.type !== 'timeslot' || m.seq !== 10 || (to !== 's3' && to !== 's4')) return m;
      const { type: _t, sig: _s, ...body } = m;
      return { type: 'timeslot', ...signTimeslot({ ...body, stamp: body.stamp - 0.01, entries: [] }, secret, s.crypto, s.coordinator.membership()!.stay) };
    };
    play(s, 40);
    s.net.run(3000);
    play(s, 10);
    s.net.run(2000);
    expect(s.coordinator.evicted()).toEqual([liar]);
    expect(s.coordinator.activeServers()).not.toContain(liar);
    expect(s.events.some((x) => x.e.kind === 'equivocation' && x.node !== 'admin')).toBe(true);
    const honest = ['s0', 's2', 's3', 's4'];
    expectPrefixes(s, honest);
    for (const id of honest) expect(s.servers.get(id)?.status()).toBe('running');
    expect(s.servers.get('c0')?.status()).toBe('running');
    for (const u of s.users.values()) {
      expect(u.pendingActions()).toEqual([]);
      const acc = u.acceptedLog().map((a) => `${a.seq}:${a.hash}`);
      expect(acc).toEqual(hashes(s, 's0').slice(0, acc.length));
    }
  });

  it('users never accept a tampered update; they flag the cheater', () => {
    const s = setupSite({});
    // s0 and s1 send updates whose events are rewritten (with a matching hash of their own making).
    s.net.rewrite = (from, _to, m) => {
      if ((from === 's0' || from === 's1') && m.type === 'update') {
        return { ...m, events: [], hash: m.hash };
      }
      if ((from === 's0' || from === 's1') && m.type === 'updateHash') return { ...m, hash: 'f'.repeat(32) };
      return m;
    };
    play(s, 20);
    s.net.run(1500);
    const ref = hashes(s, 's2');
    for (const u of s.users.values()) {
      const acc = u.acceptedLog().map((a) => `${a.seq}:${a.hash}`);
      expect(acc).toEqual(ref.slice(0, acc.length));
      expect(acc.length).toBe(ref.length);
      const flagged = new Set(u.flaggedServers().map((f) => f.server));
      expect([...flagged].sort()).toEqual(['s0', 's1']);
    }
  });
});
