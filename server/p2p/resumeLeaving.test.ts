/**
 * After an admin restart, a user of a resumed site not back within the grace is made to leave it
 * (resume.ts): if it logs in before that leave is applied, it is still a user there and the
 * manager orders no join. A join of its stored state, ordered after the leave, put it back on the
 * site as it was before the servers had it, and its own departure's state then found it there:
 * what it had picked up on the site was lost (managed world, seed 107 `--crashes always`: "items:
 * meadow-1, there at the start, is lost"; sim/FINDINGS.md 64).
 */
import { describe, expect, it } from 'vitest';
import { newUser } from '../../src/game/rules.js';
import type { StoredP2PSite } from '../storage/types.js';
import { recordingLog, registerTab, steppedClock, testManager, whereGame } from './managerKit.js';

const USERS = ['u0', 'u1', 'u2', 'u3'];

/** An admin process: a manager on a fake game where `where` says who plays where. */
function admin(where: Map<string, string>, records: Map<string, StoredP2PSite>) {
  const { log, logs } = recordingLog();
  const clock = steppedClock(1000, 50);
  const game = whereGame(where);
  const m = testManager({
    now: clock.now,
    wakeup: clock.wakeup,
    log,
    game,
    records: { put: (r) => void records.set(r.site, structuredClone(r)), delete: (s) => void records.delete(s) },
    defer: (fn) => fn(),
    resumeGraceMs: 500,
  });
  return { m, logs, clock, connect: (user: string) => registerTab(m, user, USERS.indexOf(user)).got };
}

describe('a resumed site and a user made to leave it after the grace', () => {
  it('orders no join when that user logs in before its leave is applied', () => {
    const where = new Map([['u0', 'meadow'], ['u1', 'town'], ['u2', 'town'], ['u3', 'town']]);
    const records = new Map<string, StoredP2PSite>();
    const first = admin(where, records);
    USERS.forEach((u) => first.connect(u));
    first.m.consider('meadow');
    expect(first.m.site('meadow')!.servers()).toHaveLength(3);
    first.m.close();

    // The next process: the servers come back, u0 does not within the grace.
    const second = admin(where, records);
    second.m.resume([...records.values()]);
    for (const u of ['u1', 'u2', 'u3']) second.connect(u);
    second.clock.advance(600);
    expect(second.logs).toContainEqual({ event: 'p2p.not_back', fields: { site: 'meadow', users: ['u0'], servers: [] } });
    const site = second.m.site('meadow')!;
    // Its leave is ordered (one system action), not applied yet: u0 is still a user there.
    expect(site.users.has('u0')).toBe(true);
    const ordered = records.get('meadow')!.coordinator.sysNo;

    // u0 logs in: no join of its stored state goes to the servers; its departure brings it back.
    expect(second.m.join('meadow', 'u0', newUser('u0', 'meadow'))).toBe('leaving');
    expect(records.get('meadow')!.coordinator.sysNo).toBe(ordered);
    expect(second.logs).toContainEqual({ event: 'p2p.user_leaving', fields: { site: 'meadow', user: 'u0' } });
  });
});
