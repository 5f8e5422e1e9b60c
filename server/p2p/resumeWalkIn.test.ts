/**
 * After an admin restart, a server of a resumed site whose player now plays on that very site (a
 * portal taken while the admin was down, landed before the server's key came back) is not told to
 * serve on: it walks in, as `join` does for a server the admin knows (found by the managed world,
 * seeds 359 and 421: "choice: pN was picked to serve forest while playing on it").
 */
import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/protocol/messages.js';
import type { StoredP2PSite } from '../storage/types.js';
import { recordingLog, registerTab, testManager, whereGame } from './managerKit.js';


/** An admin process: a manager on a fake game where `where` says who plays where. */
function admin(where: Map<string, string>, records: Map<string, StoredP2PSite>) {
  const { log, logs } = recordingLog();
  const game = whereGame(where);
  const m = testManager({
    now: () => 1000,
    log,
    game,
    records: { put: (r) => void records.set(r.site, structuredClone(r)), delete: (s) => void records.delete(s) },
    defer: (fn) => fn(),
  });
  const connect = (user: string, i: number): ServerMessage[] => registerTab(m, user, i).got;
  return { m, logs, connect };
}

describe('a resumed site and a server whose player landed on it while the admin was down', () => {
  it('is not told to serve the site its player plays on: it walks in', () => {
    const where = new Map([['u0', 'meadow'], ['u1', 'town'], ['u2', 'town'], ['u3', 'town']]);
    const records = new Map<string, StoredP2PSite>();
    const first = admin(where, records);
    ['u0', 'u1', 'u2', 'u3'].forEach((u, i) => first.connect(u, i));
    first.m.consider('meadow');
    const servers = first.m.site('meadow')!.servers();
    expect(servers).toHaveLength(3);
    // The admin stops; meanwhile the first server's player takes a portal to the meadow.
    first.m.close();
    expect(records.has('meadow')).toBe(true);
    const id = servers[0]!;
    const user = id.split('~')[0]!;
    where.set(user, 'meadow');

    const second = admin(where, records);
    second.m.resume([...records.values()]);
    const got = second.connect(user, ['u0', 'u1', 'u2', 'u3'].indexOf(user));
    // Its key came back: the same server id, but no `serve`: it walks in.
    expect(got).toContainEqual({ type: 'keyOk', serverId: id });
    expect(got.some((x) => x.type === 'serve')).toBe(false);
    expect(second.logs).toContainEqual({ event: 'p2p.evict', fields: { site: 'meadow', server: id, why: 'its player walked in' } });
    // Another server of the site, whose player is elsewhere, serves on.
    const other = servers[1]!.split('~')[0]!;
    const back = second.connect(other, ['u0', 'u1', 'u2', 'u3'].indexOf(other));
    expect(back).toContainEqual({ type: 'serve', site: 'meadow', serverId: servers[1] });
  });
});
