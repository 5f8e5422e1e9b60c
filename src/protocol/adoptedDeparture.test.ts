/**
 * A departure the admin missed (its servers' word on it lost: sent while the admin was down, or
 * resent by a server that lost its slot since) is vouched for by a server that took the state at
 * that update: it tells the admin as those that applied it do (sim/FINDINGS.md 74, seed 13814).
 */
import { describe, expect, it } from 'vitest';
import type { PeerMessage } from './messages.js';
import { setupSite } from './testing.js';

describe('a server that took the state at an update with a departure', () => {
  it('gives the admin its word on it, so one applier left suffices to pass the departure on', () => {
    const left: string[] = [];
    const s = setupSite({ nServer: 3, onLeft: (u, via) => left.push(`${u.name}:${via}`) });
    // Every server's word on an update reaches the admin only when the test hands it over.
    const toAdmin: Array<{ from: string; m: PeerMessage }> = [];
    s.net.rewrite = (from, to, m) => {
      if (to !== 'admin' || (m.type !== 'update' && m.type !== 'updateHash')) return m;
      toAdmin.push({ from, m });
      return null;
    };
    s.net.run(500);
    s.coordinator.systemAction('alice', { kind: 'leave' });
    s.net.run(1500);
    const seq = s.servers.get('s0')!.appliedLog().find((u) => u.events.some((e) => e.kind === 'left'))!.seq;
    expect(left).toEqual([]);
    // s2's player walks in: a spare takes its slot and the state at the departure.
    expect(s.coordinator.evict('s2')).toBe(true);
    s.net.run(3000);
    const [c] = s.coordinator.activeServers().filter((id) => id.startsWith('c'));
    expect(s.servers.get(c!)!.appliedLog()[0]).toMatchObject({ seq, adopted: true });
    // s1's and s2's word is lost (s2 lost its slot; s1's tab, say, left): s0 alone is no majority.
    for (const { from, m } of toAdmin) if (from === 's0') s.coordinator.receive(from, m);
    expect(left).toEqual([]);
    for (const { from, m } of toAdmin) if (from === c) s.coordinator.receive(from, m);
    expect(left).toEqual(['alice:logout']);
  });
});
