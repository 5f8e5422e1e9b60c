/**
 * A peer the admin picks to serve a site is taken at once, not when its `serve` goes out after the
 * input: the same input may move that peer's player onto the site (a departure from another P2P
 * site's update), and the player must then walk in, never be served by its own tab (managed world,
 * seed 97: "choice: p9 was picked to serve town while playing on it"; sim/FINDINGS.md 24).
 */
import { describe, expect, it } from 'vitest';
import { createSite, newUser } from '../../src/game/rules.js';
import { splitChunks } from '../../src/protocol/chunks.js';
import { encodePeerMessage, type PeerMessage, type ServerMessage } from '../../src/protocol/messages.js';
import type { GameHooks } from './manager.js';
import { placingGame, recordingLog, registerTab, testManager } from './managerKit.js';

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];

/** u0 plays on the meadow, the others in town; the manager's sends wait for the input's end, as on the admin. */
function world() {
  const { log, logs } = recordingLog();
  const where = new Map<string, string>(USERS.map((u) => [u, u === 'u0' ? 'meadow' : 'town']));
  const game: GameHooks = placingGame({
    siteOf: (u) => where.get(u) ?? null,
    usersOn: (site) => [...where].filter(([, s]) => s === site).map(([u]) => u),
    snapshotFor: (site) => ({ ...createSite(site), users: [newUser('u0', site)] }),
  });
  const deferred: Array<() => void> = [];
  const m = testManager({
    now: () => 1000,
    log,
    game,
    defer: (fn) => void deferred.push(fn),
  });
  /** The input is over: what it deferred runs (queueMicrotask on the admin). */
  const endOfInput = (): void => {
    while (deferred.length > 0) deferred.shift()!();
  };
  const tabs = new Map(USERS.map((u, i) => [u, registerTab(m, u, i).got]));
  /** One server's request, as its tab sends it over its WebSocket (one chunk). */
  const fromServer = (id: string, msg: PeerMessage): void => {
    const [data] = splitChunks(encodePeerMessage(msg));
    expect(m.onMessage(userOf(id), { type: 'peer', as: 'server', site: 'meadow', id: 1, index: 0, count: 1, data: data! })).toBe(null);
  };
  /**
   * Servers `by` ask to ignore `target`, an evicted server, until one request decides (a new record,
   * its replacement picked): `input` runs in that request's input, before its sends go out.
   */
  const ignore = (by: readonly string[], target: string, input: () => void): void => {
    const epoch = m.site('meadow')!.membership()!.epoch;
    for (const id of by) {
      fromServer(id, { type: 'membershipRequest', site: 'meadow', epoch, no: 1, kind: 'ignore', target, held: null });
      const decided = m.site('meadow')!.membership()!.epoch > epoch;
      if (decided) input();
      endOfInput();
      if (decided) return;
    }
    throw new Error(`the requests about ${target} decided nothing`);
  };
  return { m, logs, where, tabs, endOfInput, ignore };
}

const userOf = (id: string): string => id.split('~')[0]!;
const serves = (got: ServerMessage[] | undefined) =>
  (got ?? []).filter((x): x is Extract<ServerMessage, { type: 'serve' }> => x.type === 'serve' && x.site === 'meadow');

describe('a peer picked to serve a site in the input that moves its player there', () => {
  it('is taken at once, walks in rather than serving, and its replacement takes the state from the majority', () => {
    const w = world();
    w.m.consider('meadow');
    w.endOfInput();
    const site = w.m.site('meadow')!;
    const [gone, ...rest] = site.servers() as [string, string, string];
    // A server's tab closes: the admin evicts it, the two others' requests decide its cut.
    w.m.disconnect(userOf(gone));
    w.endOfInput();
    let picked = '';
    w.ignore(rest, gone, () => {
      picked = site.servers().find((id) => !rest.includes(id)) ?? '';
      expect(picked).not.toBe('');
      const p = w.m.registry.get(userOf(picked))!;
      // Taken now: no other site can pick it before its `serve` goes out.
      expect(p.serving).toBe('meadow');
      expect(w.m.registry.whyNot(p, 'forest', (u) => w.where.get(u) ?? null)).toBe('serving');
      // In the same input its player lands on the meadow (a portal from another P2P site).
      w.where.set(userOf(picked), 'meadow');
      expect(w.m.join('meadow', userOf(picked), newUser(userOf(picked), 'meadow'))).toBe('joined');
    });
    expect(w.logs).toContainEqual({ event: 'p2p.evict', fields: { site: 'meadow', server: picked, why: 'its player walked in' } });
    // Never told to serve the site it plays on; free again for other sites.
    expect(serves(w.tabs.get(userOf(picked)))).toEqual([]);
    expect(w.m.registry.get(userOf(picked))!.serving).toBe(null);
    // The two others decide its cut: its replacement is not sent to it for a copy it never had.
    w.ignore(rest, picked, () => undefined);
    const [next] = site.servers().filter((id) => !rest.includes(id));
    expect(next).toBeTruthy();
    expect(next).not.toBe(picked);
    const told = serves(w.tabs.get(userOf(next!)));
    expect(told).toHaveLength(1);
    expect(told[0]!.stateFrom).toBeUndefined();
  });
});
