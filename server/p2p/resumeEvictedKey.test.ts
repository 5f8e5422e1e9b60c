/**
 * After an admin restart, a server of a resumed site that the site evicted before its key came
 * back (its player walked in meanwhile) is not given its old id back: with it, its tab would serve
 * on with the core it ran before (keyOk with the same id means "resumed"), though no `serve` and
 * no `serveEnd` ever reach it. Managed world seed 28882 (FINDINGS 91): a later transfer of the site
 * picked that id again, the tab kept the old core, and its Timeslots of the earlier period against
 * the new ones "proved" an honest server equivocated.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handOverState, harness, USERS } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('a resumed site and a server it evicted before its key came back', () => {
  it('waits for it no more as the holder of its old id', async () => {
    const h = harness({ candidates: () => [{ id: 'c0', key: 'c0'.repeat(32) }] });
    await h.start();
    h.stop();
    await h.run(300);
    h.down.add('s0');
    const again = h.restart(handOverState(), 60_000);
    for (const id of ['s1', 's2']) {
      expect(again.serverBack(id)).toBe(true);
      h.resend(id, again);
    }
    for (const u of USERS) again.userBack(u);
    const key = again.membership()!.members.find((m) => m.id === 's0')!.key;
    expect(again.awaitsServerWithKey(key)).toBe('s0');
    // Its player lands on the site before its key comes back: it is evicted.
    expect(again.walkIn('s0')).toBe(true);
    await h.run(1500);
    expect(again.servers()).not.toContain('s0');
    expect(again.awaitsServerWithKey(key)).toBeNull();
    // Nor is it waited for at all: everyone else is back, so waiting ends with its eviction, not at the grace's end.
    expect(again.waitingFor()).toBeNull();
    expect(again.history.map((t) => t.event)).toContain('allBack');
  });
});
