/**
 * A cut nobody can decide (sim/FINDINGS.md 57, 70): every server asking to cut an ignored one was
 * admitted after its last use, so none covers it, and the coordinator never decides the cut. The
 * deciders hold the target frozen and close no window past it, so the site applies nothing more, for
 * good, while all its servers stay connected. Once a round of such requests was declined and they
 * ask again, the site is stalled (coordinator.ts `uncoverable`): a last majority-verified read finds
 * it lost with that state, running or handing back.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { declineAfter, makeSiteConfig } from '../../src/protocol/config.js';
import { ADMIN_ID } from '../../src/protocol/messages.js';
import { latestStintOf } from './walkIns.js';
import { harness } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

type H = ReturnType<typeof harness>;

/**
 * A site with alice's move applied whose other servers ask to ignore `target` (nothing it sends
 * reaches them) without covering it: how 57's deciders, admitted after the target's last use, ask.
 * The rewrite stands in for that churn; the coordinator sees only the flag. `gone`: its tab is
 * closed too (57's target: its tab was replaced), so it answers nobody, the admin included.
 */
async function uncovered(target = 's1', gone = false): Promise<{ h: H; moved: number }> {
  const h = harness();
  await h.start();
  h.act('alice', { kind: 'move', dir: 'right' });
  await h.run(600);
  const moved = h.servers.get('s2')!.appliedLog().at(-1)!.seq;
  expect(moved).toBeGreaterThan(0);
  const seen = h.net.rewrite!;
  h.net.rewrite = (from, to, msg) => {
    const m = seen(from, to, msg);
    return m?.type === 'membershipRequest' && m.kind === 'ignore' ? { ...m, covers: false } : m;
  };
  h.net.drop = (from, to) => from === target && (gone || to !== ADMIN_ID);
  if (gone) h.down.add(target);
  return { h, moved };
}

const cutOf = (h: H, id: string): boolean => latestStintOf(h.site.membership()?.members, id)?.cut != null;

describe('a site whose deciders can never cut the server they froze', () => {
  it.each([
    ['s1', false],
    // First in slot order: the last read must not wait its patience on it (reads.ts `counting`).
    ['s0', true],
  ])("(%s, gone: %s) is found lost once they ask again after a decline, with its last read's state: the move they applied is kept", async (target, gone) => {
    const { h, moved } = await uncovered(target, gone);
    const t0 = h.net.time;
    // Before the rule this site waited for good: its servers are connected and agree on a state.
    for (let i = 0; i < 80 && h.closed.length === 0; i++) await h.run(100);
    expect(cutOf(h, target)).toBe(false);
    expect(h.closed).toHaveLength(1);
    // A round declined (declineAfter), asked again, settled, and read: well within two rounds.
    expect(h.closedAt()! - t0).toBeLessThan(2 * declineAfter(makeSiteConfig({ site: 'meadow', N_server: 3 })) + 1000);
    expect(h.site.history.map((t) => t.event).slice(-2)).toEqual(['lose', 'fellBack']);
    const back = h.closed[0]!;
    expect(back.seq).toBeGreaterThanOrEqual(moved);
    expect(back.snapshot.users).toEqual(h.servers.get('s2')?.snapshot()?.users);
    expect(h.logs.find((l) => l.event === 'p2p.lost')?.fields).toMatchObject({ lastRead: back.seq });
  });

  it('is not lost when the target comes back: its requesters withdraw', async () => {
    const { h } = await uncovered();
    await h.run(1000);
    h.net.drop = () => false;
    await h.run(6000);
    expect(h.closed).toEqual([]);
    expect(h.site.history.map((t) => t.event)).not.toContain('lose');
  });
});
