import { describe, expect, it } from 'vitest';
import type { PeerMessage } from './messages.js';
import { setupSite } from './testing.js';

describe('coordinator: withdrawn ignore requests', () => {
  it('a withdrawn request no longer counts, the answer names the withdrawal, and after a cut the record is the answer', () => {
    const s = setupSite({});
    const out: Array<{ to: string; m: PeerMessage }> = [];
    s.net.rewrite = (from, to, m) => {
      if (from === 'admin') out.push({ to, m });
      return m;
    };
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
