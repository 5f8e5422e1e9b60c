import { describe, expect, it } from 'vitest';
import { declineAfter } from './config.js';
import { playMoves, setupSite } from './testing.js';

describe('an ignore request no record can decide', () => {
  it('is not sent, and the site keeps closing windows while one of its two active servers is late to the other', () => {
    let slow = false;
    const s = setupSite({ nServer: 3, spares: 0, latency: (f, t) => (slow && f === 's1' && t === 's0' ? 700 : 5) });
    playMoves(s, 3);
    s.net.run(500);
    s.net.down.add('s2'); // s0 and s1 cut it; no spare takes its slot
    s.net.run(3000);
    expect(s.coordinator.membership()!.members.find((m) => m.id === 's2')!.stints.at(-1)?.cut).not.toBeNull();
    slow = true;
    const from = s.events.length;
    const applied: number[] = [];
    for (let r = 0; r < 40; r++) {
      playMoves(s, 1, 100);
      applied.push(s.servers.get('s0')!.appliedLog().at(-1)?.seq ?? 0);
    }
    expect(s.events.slice(from).filter((x) => x.e.kind === 'membershipRequest' && x.e.request === 'ignore')).toEqual([]);
    let still = 0;
    let longest = 0;
    for (let i = 1; i < applied.length; i++) {
      still = applied[i] === applied[i - 1] ? still + 100 : 0;
      longest = Math.max(longest, still);
    }
    expect(longest).toBeLessThan(declineAfter(s.config));
    expect(applied.at(-1)! - applied[0]!).toBeGreaterThan(20);
  });
});
