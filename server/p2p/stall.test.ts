/**
 * A P2P site that cannot order any more (fewer than N_majority of its servers able to, and no free
 * peer to give it more) is found lost at once, after one last read, rather than after
 * LOST_AFTER_MS (sim/FINDINGS.md 37, 40: seed 6809's logins waited for it); its fallback is that
 * read's state, so nothing its servers applied is undone. Here a server "down" counts as gone for
 * the rule (as a walked-in or ignored one does) but still answers reads, as an ignored one does.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ADMIN_ID, SYSTEM_ACTOR } from '../../src/protocol/messages.js';
import { harness } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** A site with alice's move applied, then two of its three servers gone for the rule. */
async function stalled(o: Parameters<typeof harness>[0] = {}) {
  const h = harness(o);
  await h.start();
  h.act('alice', { kind: 'move', dir: 'right' });
  await h.run(600);
  const moved = h.servers.get('s2')!.appliedLog().at(-1)!.seq;
  expect(moved).toBeGreaterThan(0);
  h.down.add('s0');
  h.down.add('s1');
  // The admin hears of the closed tabs: its Driver looks at the site again.
  h.net.rewake(ADMIN_ID);
  return { h, moved, at: h.net.time };
}

describe('a P2P site that cannot order', () => {
  it('is found lost within a last read, with that read\'s state: the move its servers applied is kept', async () => {
    // No periodic save and the default LOST_AFTER_MS: before, nothing ever found this site lost.
    const { h, moved, at } = await stalled();
    for (let i = 0; i < 40 && h.closed.length === 0; i++) await h.run(100);
    expect(h.closed).toHaveLength(1);
    expect(h.closedAt()! - at).toBeLessThan(2000);
    expect(h.site.history.map((t) => t.event)).toEqual(['transfer', 'lose', 'fellBack']);
    const back = h.closed[0]!;
    expect(back.seq).toBeGreaterThanOrEqual(moved);
    // Alice's move is in it (the servers apply nothing from her since: her position is theirs).
    expect(back.snapshot.users).toEqual(h.servers.get('s2')?.snapshot()?.users);
    expect(h.logs.find((l) => l.event === 'p2p.lost')?.fields).toMatchObject({ lastRead: back.seq });
  });

  it('during a hand-back whose marker is never ordered: lost at once, not after LOST_AFTER_MS', async () => {
    const { h, moved } = await stalled();
    h.net.drop = (_from, _to, msg) => msg.type === 'sysAction' && msg.actor === SYSTEM_ACTOR;
    h.site.close('test');
    const t0 = h.net.time;
    for (let i = 0; i < 40 && h.closed.length === 0; i++) await h.run(100);
    expect(h.closed).toHaveLength(1);
    expect(h.closedAt()! - t0).toBeLessThan(2000);
    expect(h.site.history.map((t) => t.event)).toEqual(['transfer', 'handBack', 'lose', 'fellBack']);
    expect(h.closed[0]!.seq).toBeGreaterThanOrEqual(moved);
  });

  it('is waited for as before when no majority answers its last read: an older base could undo what the majority accepted', async () => {
    const { h } = await stalled();
    // Nothing the servers send reaches the admin: the read gets no majority answer.
    h.net.drop = (_from, to) => to === ADMIN_ID;
    await h.run(4000);
    expect(h.closed).toEqual([]);
    expect(h.fromAdmin('stateRequest').length).toBeGreaterThan(0);
  });

  it('is waited for as before while a free peer could fill its slots', async () => {
    let spare = 0;
    const { h } = await stalled({ candidates: () => [{ id: `spare${spare++}`, key: '00'.repeat(32) }] });
    await h.run(4000);
    expect(h.closed).toEqual([]);
    expect(h.site.state).toBe('transferring');
  });
});
