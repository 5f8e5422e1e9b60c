/**
 * A resumed P2P site (after an admin restart) stops waiting for a user whose departure came
 * meanwhile: if that user joins again within the grace, it stays (found by the managed world,
 * seed 387: it was counted as not back at the grace's end and made to leave the site it had just
 * joined again).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newUser } from '../../src/game/rules.js';
import { handOverState, harness, SERVERS } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('a resumed P2P site and a user that left and came back while it waited', () => {
  it('no longer waits for it once its departure came, so a second join keeps it there', async () => {
    const h = harness();
    await h.start();
    await h.run(400);
    // The admin orders bob out and stops before the servers' answer comes.
    h.site.leave('bob');
    h.stop();
    await h.run(1200);
    for (const id of SERVERS) h.down.add(id);
    const again = h.restart(handOverState(), 2000);
    expect(again.waitingFor()).toEqual({ users: ['alice', 'bob', 'carol'], servers: SERVERS });
    for (const id of SERVERS) {
      h.down.delete(id);
      expect(again.serverBack(id)).toBe(true);
      h.resend(id, again);
    }
    expect(h.left.map((l) => l.user)).toEqual(['bob']);
    expect(again.userBack('alice')).toBe(true);
    // Bob comes back to the site (a login, a portal): a join, not a user back.
    again.join('bob', newUser('bob', 'meadow'));
    expect(again.waitingFor()).toEqual({ users: ['carol'], servers: [] });
    await h.run(2500);
    // The grace is over: carol, never back, leaves; bob stays.
    expect(h.left.map((l) => l.user)).toEqual(['bob', 'carol']);
    expect(h.logs.find((l) => l.event === 'p2p.not_back')?.fields).toMatchObject({ users: ['carol'] });
    expect(again.users.has('bob')).toBe(true);
  });
});
