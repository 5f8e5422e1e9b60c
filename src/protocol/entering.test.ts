/**
 * A user entering a running P2P site whose first updates never reach it (issue 18, the re-login
 * stall): the frames went down a data channel of its previous session that the servers still
 * thought open. On a quiet site no later update comes, so a user that waits for one to start
 * taking the state waits forever; it must ask on its own.
 */
import { describe, expect, it } from 'vitest';
import type { PeerMessage } from './messages.js';
import { enteringUser, setupSite } from './testing.js';

/** A quiet site (nobody acts), `dave` entering it, and `lost` deciding which messages are lost. */
function entering(lost: (from: string, to: string, m: PeerMessage) => boolean, latency?: (from: string, to: string, m: PeerMessage) => number) {
  const s = setupSite({ nServer: 3, ...(latency ? { latency } : {}) });
  s.net.run(500);
  let entered: string[] | null = null;
  const asked: number[] = [];
  const user = enteringUser(s, 'dave', 1, (e) => (entered = e.snapshot.users.map((u) => u.name)));
  s.net.add('dave', user);
  s.net.drop = (from, to, m) => {
    if (from === 'dave' && m.type === 'stateRequest') asked.push(s.net.time);
    return lost(from, to, m);
  };
  s.net.poke('admin', () => s.coordinator.systemAction('dave', { kind: 'join', user: { name: 'dave', site: 'meadow', x: 0, y: 0, inventory: [] } }));
  return { s, user, asked, entered: (): string[] | null => entered };
}

const toDave = (to: string, m: PeerMessage): boolean => to === 'dave' && (m.type === 'update' || m.type === 'updateHash');

describe('entering a running site', () => {
  it('takes the state although the update with its join never reached it (a quiet site sends no other)', () => {
    let lossy = true;
    const e = entering((_f, to, m) => lossy && toDave(to, m));
    e.s.net.run(1000);
    lossy = false;
    // Nobody acts: no update comes. The user asks for the state itself within a bound.
    e.s.net.run(8 * e.s.config.T_timeout);
    expect(e.entered()).toContain('dave');
    expect(e.user.lastAccepted().seq).toBeGreaterThan(0);
  });

  it('keeps asking, a bounded time apart, while its join is not applied (no server answers it yet)', () => {
    // Only one server records the join (the others missed it): it is not applied, and servers
    // answer state requests only from users on the site.
    const e = entering((from, to, m) => from === 'admin' && m.type === 'sysAction' && to !== 's0');
    e.s.net.run(40 * e.s.config.T_timeout);
    expect(e.entered()).toBeNull();
    expect(e.asked.length).toBeGreaterThanOrEqual(4);
    const gaps = e.asked.slice(1).map((t, i) => t - (e.asked[i] ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(8 * e.s.config.T_timeout + 100);
  });

  it('takes the state from servers that answer slower than its patience (a loaded machine)', () => {
    // Every server's state reaches the user 3 s after it asked, its patience is 4 T_timeout.
    const e = entering(
      () => false,
      (_f, to, m) => (to === 'dave' && m.type === 'stateChunk' ? 3000 : 5),
    );
    expect(3000).toBeGreaterThan(4 * e.s.config.T_timeout);
    e.s.net.run(20_000);
    expect(e.entered()).toContain('dave');
  });
});
