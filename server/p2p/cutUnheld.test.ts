/**
 * A cut whose Timeslots nobody active gives (sim/FINDINGS.md 90): its one holder among the deciders
 * left after the cut, so every server left blocks on it for good while all stay connected. Each
 * tells the admin (`cutWait`); once N_majority active servers say so lately, the site is stalled
 * (coordinator.ts `cutUnheld`) and a last majority-verified read finds it lost. Here the servers
 * do hold the cut, so their words are made up by the test: what is under test is the admin's rule
 * (site.ts `stalled`), the servers' side is `src/protocol/cutWait.test.ts`.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { latestStintOf } from './walkIns.js';
import { harness } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

type H = ReturnType<typeof harness>;

/** A site with alice's move applied and s1 gone and cut (no spare takes its slot). */
async function withCut(): Promise<{ h: H; seq: number }> {
  const h = harness();
  await h.start();
  h.act('alice', { kind: 'move', dir: 'right' });
  await h.run(600);
  h.down.add('s1');
  h.net.drop = (from, to) => from === 's1' || to === 's1';
  for (let i = 0; i < 80 && latestStintOf(h.site.membership()?.members, 's1')?.cut == null; i++) await h.run(100);
  const cut = latestStintOf(h.site.membership()?.members, 's1')?.cut;
  expect(cut).toBeTruthy();
  return { h, seq: cut!.seq };
}

/** `ids` say every 100 ms that they wait for s1's cut, for at most 5 s or until the site closes. */
async function waitFor(h: H, ids: string[], seq: number): Promise<void> {
  for (let i = 0; i < 50 && h.closed.length === 0; i++) {
    for (const id of ids) h.site.receive(id, { type: 'cutWait', site: 'meadow', epoch: h.site.membership()!.epoch, target: 's1', seq });
    await h.run(100);
  }
}

describe('a site whose active servers wait for a cut nobody gives', () => {
  it('is found lost once N_majority of them say so, with its last read', async () => {
    const { h, seq } = await withCut();
    await waitFor(h, ['s0', 's2'], seq);
    expect(h.closed).toHaveLength(1);
    expect(h.site.history.map((t) => t.event).slice(-2)).toEqual(['lose', 'fellBack']);
    expect(h.closed[0]!.snapshot.users).toEqual(h.servers.get('s2')?.snapshot()?.users);
  });

  it('is not lost on fewer than N_majority words, nor on words about another cut', async () => {
    const { h, seq } = await withCut();
    await waitFor(h, ['s0'], seq);
    await waitFor(h, ['s0', 's2'], seq + 1);
    expect(h.closed).toEqual([]);
    expect(h.site.history.map((t) => t.event)).not.toContain('lose');
  });
});
