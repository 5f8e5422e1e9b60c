/**
 * A user's new connection while its previous one is still open (a reconnect, a login elsewhere;
 * found by the managed world, sim/world/managed.ts): the previous tab's server is evicted at once,
 * and the previous connection's late close does not disconnect the new one.
 */
import { describe, expect, it } from 'vitest';
import { createSite, newUser } from '../../src/game/rules.js';
import type { GameHooks } from './manager.js';
import { placingGame, recordingLog, registerTab, testManager } from './managerKit.js';

const USERS = ['u0', 'u1', 'u2', 'u3'];

function world() {
  let t = 1000;
  const { log, logs } = recordingLog();
  // u0 plays on the meadow; the others are elsewhere and may serve it.
  const game: GameHooks = placingGame({
    siteOf: (u) => (u === 'u0' ? 'meadow' : 'town'),
    usersOn: (site) => (site === 'meadow' ? ['u0'] : []),
    snapshotFor: (site) => ({ ...createSite(site), users: site === 'meadow' ? [newUser('u0', site)] : [] }),
  });
  const m = testManager({
    now: () => t,
    log,
    game,
    defer: (fn) => fn(),
  });
  /** A connection of `user` with its key registered and its round trip measured. */
  const connect = (user: string, i: number) => registerTab(m, user, i);
  return { m, logs, connect, advance: (ms: number) => void (t += ms) };
}

describe('a user connecting again while its previous connection is open', () => {
  it("evicts the previous tab's server at once, and the previous connection's late close leaves the new one", () => {
    const w = world();
    const tabs = USERS.map((u, i) => w.connect(u, i));
    w.m.consider('meadow');
    const servers = w.m.site('meadow')!.servers();
    expect(servers).toHaveLength(3);
    const id = servers[0]!;
    const user = id.split('~')[0]!;
    const old = tabs[USERS.indexOf(user)]!;
    expect(old.got.some((x) => x.type === 'serve')).toBe(true);

    const fresh = w.connect(user, 9);
    expect(w.logs).toContainEqual({ event: 'p2p.evict', fields: expect.objectContaining({ server: id, why: 'its tab was replaced' }) });
    // The previous connection closes now: the new one keeps its registration.
    w.m.disconnect(user, old);
    expect(w.m.registry.get(user)?.tab).toBe(fresh);
    expect(w.m.registry.get(user)?.serverId).not.toBe(null);
    // Its own close does disconnect it.
    w.m.disconnect(user, fresh);
    expect(w.m.registry.get(user)).toBeUndefined();
  });
});
