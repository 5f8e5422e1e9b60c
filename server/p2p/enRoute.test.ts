/**
 * The admin never picks, for a site, a peer whose player is on its way into it (transit.ts
 * `enRoute`): the next portals of the update being carried out (managed seed 4157: town handed to
 * three players whose portals to it came in that update, sim/FINDINGS.md 32), or a login waiting
 * for its state from that site's servers (managed seed 4513: a refill picked it, FINDINGS 33).
 * And a site whose servers all walked in, with none left to decide their cuts, is found lost
 * (seed 4157 before the first fix: it stayed `transferring` for good).
 */
import { describe, expect, it } from 'vitest';
import { createSite, newUser } from '../../src/game/rules.js';
import type { UserState } from '../../src/game/types.js';
import { splitChunks } from '../../src/protocol/chunks.js';
import { ZERO_HASH } from '../../src/protocol/crypto.js';
import { encodePeerMessage, type PeerMessage, type ServerMessage } from '../../src/protocol/messages.js';
import { updateHash } from '../../src/protocol/signed.js';
import { P2PManager, type GameHooks } from './manager.js';
import { placingGame, recordingLog, registerTab, steppedClock, testManager } from './managerKit.js';
import { LOST_AFTER_MS } from './reads.js';
import { DEFAULT_P2P } from './settings.js';
import type { VerifiedSite } from './types.js';
import { HAND_OFF_WINDOW_MS } from './walkIns.js';

const CHECK_MS = 500;
const userOf = (id: string): string => id.split('~')[0]!;
const served = (got: ServerMessage[] | undefined, site: string): boolean => got?.some((x) => x.type === 'serve' && x.site === site) ?? false;

/**
 * Players where `at` puts them; peers register in `peers`' order (with random 0, a pick takes the
 * first eligible one). A portal the servers report moves its player as the game does: onto a P2P
 * site with `join`, onto a client-server one that may then be transferred (`consider`). Sends
 * wait for the input's end, as on the admin.
 */
function world(at: Record<string, string>, peers: string[], threshold: number) {
  const { log, logs } = recordingLog();
  const where = new Map(Object.entries(at));
  /** Sites back at the admin, as they came back. */
  const closed: Array<[string, VerifiedSite]> = [];
  let m: P2PManager | null = null;
  const game: GameHooks = {
    ...placingGame({
      siteOf: (u) => where.get(u) ?? null,
      usersOn: (site) => [...where].filter(([, s]) => s === site).map(([u]) => u),
      snapshotFor: (site) => ({ ...createSite(site), users: [...where].filter(([, s]) => s === site).map(([u]) => newUser(u, site)) }),
    }),
    departed: (_site, user, via) => {
      if (via !== 'portal') return void where.delete(user.name);
      where.set(user.name, user.site);
      if (m!.hosting(user.site).mode === 'p2p') m!.join(user.site, user.name, user);
      else m!.consider(user.site);
    },
    closed: (site, v) => void closed.push([site, v]),
  };
  const deferred: Array<() => void> = [];
  const endOfInput = (): void => {
    while (deferred.length > 0) deferred.shift()!();
  };
  // Time passes; the manager's Driver wakes as it asked, each wake-up one input.
  const clock = steppedClock(1000, CHECK_MS, endOfInput);
  m = testManager({
    transferThreshold: threshold,
    now: clock.now,
    log,
    game,
    checkEveryMs: CHECK_MS,
    wakeup: clock.wakeup,
    defer: (fn) => void deferred.push(fn),
  });
  const tabs = new Map<string, ServerMessage[]>();
  const connect = (u: string): void => {
    tabs.set(u, registerTab(m!, u, tabs.size).got);
    endOfInput();
  };
  for (const u of peers) connect(u);
  const advance = clock.advance;
  let msgId = 0;
  /** A server's message to the admin, as its tab sends it over its WebSocket (in chunks). */
  const fromServer = (site: string, id: string, msg: PeerMessage): void => {
    const chunks = splitChunks(encodePeerMessage(msg));
    const no = ++msgId;
    chunks.forEach((data, index) => {
      expect(m!.onMessage(userOf(id), { type: 'peer', as: 'server', site, id: no, index, count: chunks.length, data })).toBe(null);
    });
  };
  return { m, game, closed, logs, where, tabs, endOfInput, advance, connect, fromServer };
}

/** Update `seq` of `site` in which `moved` took portals (their states as they land). */
function portalsUpdate(site: string, seq: number, moved: UserState[]): PeerMessage {
  const body = {
    site,
    seq,
    prev: ZERO_HASH,
    window: 0,
    applied: [],
    events: moved.map((user) => ({ kind: 'left' as const, user, via: 'portal' as const })),
    stateHash: ZERO_HASH,
  };
  return { type: 'update', ...body, hash: updateHash(body) };
}

describe('a peer whose player is on its way into a site', () => {
  it('is not picked for it by a transfer that the same update starts with an earlier portal (seed 4157)', () => {
    // The meadow's three players take the portal to town in one update; town has two, so the
    // first to land brings it to the threshold. Its picks come first in the registry.
    const at = { a: 'meadow', b: 'meadow', c: 'meadow', t0: 'town', t1: 'town', s1: 'forest', s2: 'forest', s3: 'forest', f1: 'forest', f2: 'forest', f3: 'forest' };
    const w = world(at, ['s1', 's2', 's3', 'a', 'b', 'c', 'f1', 'f2', 'f3'], 3);
    w.m.consider('meadow');
    w.endOfInput();
    const meadow = w.m.site('meadow')!;
    expect(meadow.servers().map(userOf)).toEqual(['s1', 's2', 's3']);
    const update = portalsUpdate('meadow', 1, ['a', 'b', 'c'].map((u) => newUser(u, 'town')));
    // Two servers vouch for it: the second's message is the input that carries the portals out.
    for (const id of meadow.servers().slice(0, 2)) w.fromServer('meadow', id, update);
    const town = w.m.site('town');
    expect(town, 'town was transferred at the first landing').toBeDefined();
    expect([...w.where].filter(([, s]) => s === 'town').map(([u]) => u).sort()).toEqual(['a', 'b', 'c', 't0', 't1']);
    // Its servers are the free peers, not b and c, still on the meadow for the game when it was
    // picked but landing on town in the same input.
    expect(town!.servers().map(userOf)).toEqual(['f1', 'f2', 'f3']);
    expect(w.logs.filter((l) => l.event === 'p2p.evict')).toEqual([]);
    w.endOfInput();
    for (const u of ['f1', 'f2', 'f3']) expect(served(w.tabs.get(u), 'town'), u).toBe(true);
    for (const u of ['a', 'b', 'c']) expect(served(w.tabs.get(u), 'town'), u).toBe(false);
    // Once the update is carried out, the portals it knew of count no more.
    expect(w.m.registry.whyNot(w.m.registry.get('b')!, 'forest', (u) => w.where.get(u) ?? null, () => false)).toBe(null);
  });

  it('is not picked by a refill while its login waits for its state from that site (seed 4513)', () => {
    const w = world({ u0: 'meadow', u1: 'town', u2: 'town', u3: 'town' }, ['u1', 'u2', 'u3'], 1);
    w.m.consider('meadow');
    w.endOfInput();
    const meadow = w.m.site('meadow')!;
    const [gone, ...rest] = meadow.servers() as [string, string, string];
    // A server's tab closes and the two others decide its cut: nobody is free to replace it.
    w.m.disconnect(userOf(gone));
    w.endOfInput();
    const epoch = meadow.membership()!.epoch;
    for (const id of rest) w.fromServer('meadow', id, { type: 'membershipRequest', site: 'meadow', epoch, no: 1, kind: 'ignore', target: gone, held: null });
    w.endOfInput();
    expect(meadow.servers()).toEqual(rest);
    // p4 logged out of the meadow; its state is still with the servers when it logs in again,
    // and the login waits for it (Game.enter): it is on no site yet, and lands where that state says.
    w.game.transit.departing.set('p4', { guest: false, site: 'meadow', lastActionNo: 0, forget: false, waiting: [] });
    w.connect('p4');
    w.advance(2 * CHECK_MS);
    expect(served(w.tabs.get('p4'), 'meadow')).toBe(false);
    expect(meadow.servers()).toHaveLength(2);
    expect(w.m.registry.whyNot(w.m.registry.get('p4')!, 'meadow', () => null, (u, s) => w.game.transit.enRoute(u, s))).toBe('on its way');
    // Its state came back (its login entered the forest): free to serve the meadow at the next check.
    w.game.transit.departing.delete('p4');
    w.where.set('p4', 'forest');
    w.advance(CHECK_MS);
    expect(served(w.tabs.get('p4'), 'meadow')).toBe(true);
    expect(meadow.servers()).toHaveLength(3);
  });
});

describe('a site whose servers all walked in', () => {
  it.each([
    ['before they were told to serve (seed 4157)', false],
    ['after serving', true],
  ])('is found lost within a save and LOST_AFTER_MS, and comes back from its fallback: %s', (_how, servedFirst) => {
    const w = world({ u0: 'meadow', u1: 'town', u2: 'town', u3: 'town' }, ['u1', 'u2', 'u3'], 1);
    w.m.consider('meadow');
    if (servedFirst) w.endOfInput();
    const meadow = w.m.site('meadow')!;
    const servers = meadow.servers();
    for (const id of servers) {
      w.where.set(userOf(id), 'meadow');
      expect(w.m.join('meadow', userOf(id), newUser(userOf(id), 'meadow'))).toBe('joined');
    }
    w.endOfInput();
    expect(w.logs.filter((l) => l.event === 'p2p.evict' && l.fields.why === 'its player walked in')).toHaveLength(3);
    // Each eviction waits for the others' ignore requests, and they are walking in too.
    expect(meadow.servers()).toEqual(servers);
    // Past the hand-off window (where a walked-in server's signaling ends) they still count as gone.
    w.advance(HAND_OFF_WINDOW_MS + CHECK_MS);
    expect(meadow.handingOff(servers[0]!, servers[1]!)).toBe(false);
    w.advance(DEFAULT_P2P.p2pSaveMs + LOST_AFTER_MS - HAND_OFF_WINDOW_MS + CHECK_MS);
    expect(meadow.history.map((h) => h.event)).toEqual(['transfer', 'lose', 'fellBack']);
    expect(w.m.hosting('meadow')).toMatchObject({ mode: 'cs', state: 'client-server' });
    // Nobody ran it: it comes back as handed over, with the players who walked in.
    expect(w.closed.map(([site, v]) => [site, v.snapshot.users.map((u) => u.name).sort()])).toEqual([['meadow', ['u0', 'u1', 'u2', 'u3']]]);
  });
});
