/**
 * A note that stopped counting is made again (sim/FINDINGS.md 67, 99): a server that noted an
 * action in a Timeslot past its stint's later cut (cut off from its peers, ignored, then
 * readmitted) dropped every copy sent again until the reports horizon (10 s), and the action
 * waited for another server's note. It notes the next copy again once its report would count, and
 * its new report stands for it when the window closes.
 */
import { describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR, type PeerMessage } from './messages.js';
import { setupSite } from './testing.js';

const dave = { name: 'dave', site: 'meadow', x: 0, y: 0, inventory: [] };

describe('a note made again', () => {
  it('a join noted past its server\'s cut is noted again once readmitted, and applied without the horizon', () => {
    // No spares: s2 is ignored and readmitted, never replaced. s0 never gets the join, so it
    // needs s1's note and one of s2's.
    const s = setupSite({ nServer: 3, spares: 0, config: { T_ignore: 60_000 } });
    s.net.run(500);
    const peer = (id: string): boolean => /^s\d$/.test(id);
    let cutOff = true;
    const s2Notes: number[] = [];
    s.net.drop = (from, to, m: PeerMessage) => {
      if (from === 'admin' && m.type === 'sysAction') return to === 's0';
      if (from === 's2' && m.type === 'timeslot' && m.entries.some(([u]) => u === SYSTEM_ACTOR)) s2Notes.push(m.seq);
      return cutOff && ((from === 's2' && peer(to)) || (to === 's2' && peer(from)));
    };
    const sentAt = s.net.time;
    s.net.poke('admin', () => s.coordinator.systemAction('dave', { kind: 'join', user: dave }));
    const stints = (): number => s.coordinator.membership()?.members.find((m) => m.id === 's2')?.stints.length ?? 0;
    const cutAt = (): number | null => s.coordinator.membership()?.members.find((m) => m.id === 's2')?.stints[0]?.cut?.seq ?? null;
    for (let t = 0; t < 5000 && cutAt() === null; t += 10) s.net.run(10);
    // s2 noted the join in a Timeslot its peers never held: past its cut.
    const cut = cutAt();
    expect(cut).not.toBeNull();
    expect(s2Notes.length).toBeGreaterThan(0);
    expect(Math.min(...s2Notes)).toBeGreaterThan(cut ?? Infinity);
    cutOff = false;
    const joined = (id: string): boolean => s.servers.get(id)?.snapshot()?.users.some((u) => u.name === 'dave') ?? false;
    for (let t = 0; t < 15_000 && !['s0', 's1', 's2'].every(joined); t += 10) s.net.run(10);
    expect(stints()).toBe(2);
    expect(['s0', 's1', 's2'].filter(joined)).toEqual(['s0', 's1', 's2']);
    // Well before the horizon (100 windows, 10 s after s2's first note).
    expect(s.net.time - sentAt).toBeLessThan(100 * s.config.T_timeslot - s.config.T_resend);
    // s2 noted it again, and every server applied the same updates.
    expect(new Set(s2Notes).size).toBeGreaterThan(1);
    s.net.run(500);
    const last = ['s0', 's1', 's2'].map((id) => s.servers.get(id)?.lastUpdate().hash);
    expect(new Set(last).size).toBe(1);
  });
});
