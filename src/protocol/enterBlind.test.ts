/**
 * A user entering a P2P site before its join is applied (sim/FINDINGS.md 86, seed 6809: a portal
 * landing on a site that could not order for seconds). With no update to go by it asks a server
 * for the state on its own (entering.test.ts); that server does not list it yet and refuses in
 * silence (`ERR_UNKNOWN_PEER`). Once its join is applied, the first update that reaches it shows
 * which servers list it now: it asks one of them at once rather than waiting out the patience
 * (4 T_timeout) of the request nobody answers.
 */
import { describe, expect, it } from 'vitest';
import { enteringUser, setupSite } from './testing.js';

describe('entering a site before its join is applied', () => {
  it('asks a server that sent it an update at once, not after the patience of a refused blind ask', () => {
    const s = setupSite({ nServer: 3 });
    s.net.run(500);
    let enteredAt: number | null = null;
    const user = enteringUser(s, 'dave', 1, () => (enteredAt = s.net.time));
    s.net.add('dave', user);
    const asked: number[] = [];
    let firstVote: number | null = null;
    s.net.drop = (from, to, m) => {
      if (from === 'dave' && m.type === 'stateRequest') asked.push(s.net.time);
      if (to === 'dave' && (m.type === 'update' || m.type === 'updateHash')) firstVote ??= s.net.time;
      return false;
    };
    // No update comes (nobody acts, no join yet): dave asks blind after its patience, and is refused.
    const patience = 4 * s.config.T_timeout;
    s.net.run(patience + 100);
    expect(asked.length).toBe(1);
    expect(s.events.some((x) => x.e.kind === 'rejected' && x.e.from === 'dave' && x.e.msgType === 'stateRequest')).toBe(true);
    // Now its join is ordered: applied within a few windows, its update reaches dave.
    s.net.poke('admin', () => s.coordinator.systemAction('dave', { kind: 'join', user: { name: 'dave', site: 'meadow', x: 0, y: 0, inventory: [] } }));
    s.net.run(3 * patience);
    expect(firstVote).not.toBeNull();
    expect(enteredAt).not.toBeNull();
    // The blind ask's patience ran out at asked[0] + patience; the update came well before that.
    expect(firstVote!).toBeLessThan(asked[0]! + patience - 2 * s.config.T_timeout);
    expect(enteredAt! - firstVote!).toBeLessThan(2 * s.config.T_timeout);
    expect(user.lastAccepted().seq).toBeGreaterThan(0);
  });
});
