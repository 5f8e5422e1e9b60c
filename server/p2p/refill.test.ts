/**
 * A P2P site left short of servers (its server's replacement found no candidate) is refilled when
 * a peer becomes free: one that logs in, or one that leaves the site (issue 18). Before, the slot
 * stayed empty and the site was handed back after 2 T_ignore ('not enough servers').
 */
import { describe, expect, it } from 'vitest';
import { createSite, newUser } from '../../src/game/rules.js';
import { splitChunks } from '../../src/protocol/chunks.js';
import { encodePeerMessage, type PeerMessage, type ServerMessage } from '../../src/protocol/messages.js';
import type { GameHooks } from './manager.js';
import { DEFAULT_P2P } from './settings.js';
import { placingGame, recordingLog, registerTab, steppedClock, testManager } from './managerKit.js';

const CHECK_MS = 500;

function world(onSite: string[]) {
  const { log, logs } = recordingLog();
  // Who plays on the meadow (the others are in town and may serve it); a test moves them.
  const where = new Map<string, string>();
  for (const u of onSite) where.set(u, 'meadow');
  const game: GameHooks = placingGame({
    siteOf: (u) => where.get(u) ?? 'town',
    usersOn: (site) => [...where].filter(([, s]) => s === site).map(([u]) => u),
    snapshotFor: (site) => ({ ...createSite(site), users: onSite.map((u) => newUser(u, site)) }),
  });
  // Time passes; the manager's periodic check runs as its Driver would wake it.
  const clock = steppedClock(1000, CHECK_MS);
  const m = testManager({
    now: clock.now,
    log,
    game,
    checkEveryMs: CHECK_MS,
    wakeup: clock.wakeup,
    defer: (fn) => fn(),
  });
  const tabs = new Map<string, ServerMessage[]>();
  /** A connection of `user` with its key registered and its round trip measured. */
  const connect = (user: string, i: number): ServerMessage[] => {
    const got = registerTab(m, user, i).got;
    tabs.set(user, got);
    return got;
  };
  /** What a serving tab sends the admin over its WebSocket, as one chunk. */
  const fromServer = (user: string, msg: PeerMessage): void => {
    const [data] = splitChunks(encodePeerMessage(msg));
    expect(m.onMessage(user, { type: 'peer', as: 'server', site: 'meadow', id: 1, index: 0, count: 1, data: data! })).toBe(null);
  };
  const advance = clock.advance;
  /** Every peer registered; the meadow handed to three of them; one of their tabs closes, nobody is free to replace it. */
  const shortOfOne = (users: string[]) => {
    users.forEach((u, i) => connect(u, i));
    m.consider('meadow');
    const site = m.site('meadow')!;
    const servers = site.servers();
    expect(servers).toHaveLength(3);
    const [gone, ...rest] = servers as [string, string, string];
    const userOf = (id: string): string => id.split('~')[0]!;
    m.disconnect(userOf(gone));
    // The other two servers ask to ignore it (their answer to the admin's ignoreCall).
    const epoch = site.membership()!.epoch;
    for (const id of rest) fromServer(userOf(id), { type: 'membershipRequest', site: 'meadow', epoch, no: 1, kind: 'ignore', target: gone, held: null });
    expect(site.servers()).toEqual(rest);
    expect(site.membership()!.change).toEqual({ kind: 'evict', target: gone });
    return { site, rest };
  };
  return { m, logs, tabs, where, connect, advance, shortOfOne };
}

const served = (got: ServerMessage[] | undefined): boolean => got?.some((x) => x.type === 'serve' && x.site === 'meadow') ?? false;

describe('a P2P site left short of servers', () => {
  it('takes a peer that logs in at once', () => {
    const w = world(['u0']);
    const { site, rest } = w.shortOfOne(['u0', 'u1', 'u2', 'u3']);
    const got = w.connect('u4', 4);
    expect(served(got)).toBe(true);
    const id = w.m.registry.get('u4')!.serverId!;
    expect(site.servers()).toEqual(expect.arrayContaining([...rest, id]));
    expect(site.servers()).toHaveLength(3);
    expect(site.membership()!.change).toEqual({ kind: 'admit', target: id });
    expect(w.logs).toContainEqual({ event: 'p2p.refilled', fields: { site: 'meadow', server: id } });
    // Full again: no hand-back for want of servers.
    w.advance(4 * DEFAULT_P2P.T_ignore);
    expect(w.m.hosting('meadow')).toMatchObject({ mode: 'p2p', closing: false });
  });

  it('takes a player that leaves the site at the next check, before it would be handed back', () => {
    const w = world(['u0', 'u4']);
    const { site } = w.shortOfOne(['u0', 'u1', 'u2', 'u3', 'u4']);
    w.advance(CHECK_MS);
    expect(site.servers()).toHaveLength(2);
    // u4 walks to town: free to serve the meadow.
    w.where.set('u4', 'town');
    w.advance(CHECK_MS);
    expect(served(w.tabs.get('u4'))).toBe(true);
    expect(site.servers()).toHaveLength(3);
    w.advance(4 * DEFAULT_P2P.T_ignore);
    expect(w.m.hosting('meadow')).toMatchObject({ mode: 'p2p', closing: false });
  });

  it('with nobody free, is handed back after 2 T_ignore as before', () => {
    const w = world(['u0']);
    w.shortOfOne(['u0', 'u1', 'u2', 'u3']);
    w.advance(2 * DEFAULT_P2P.T_ignore + 2 * CHECK_MS);
    expect(w.m.hosting('meadow').state).toBe('handing-back');
    expect(w.logs).toContainEqual({ event: 'p2p.closing', fields: { site: 'meadow', reason: 'not enough servers' } });
  });
});
