/**
 * A P2P site's periodic saves are fetched only when it moved (reads.ts): an idle site costs the
 * admin a few `hashRequest`s a save, a site that moved is fetched and stored as before, and the
 * probe's silence is never what keeps a lost site from being found (siteHarness.ts).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ADMIN_ID } from '../../src/protocol/messages.js';
import { harness, SERVERS } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** Longer than a probe's wait (4 T_timeout = 1.2 s), so that saves come every SAVE_MS. */
const SAVE_MS = 1500;

/** A site with one verified save after alice's first move; its last verified seq. */
async function savedOnce(o: { lostAfterMs?: number; saveEveryMs?: number } = {}) {
  const h = harness({ saveEveryMs: SAVE_MS, ...o });
  await h.start();
  h.act('alice', { kind: 'move', dir: 'right' });
  for (let i = 0; i < 200 && h.verified.length === 0; i++) await h.run(100);
  expect(h.verified.length).toBeGreaterThan(0);
  // Past the save that may still be running when the first one landed.
  await h.run(2 * SAVE_MS);
  return { h, seq: h.verified.at(-1)!.seq };
}

describe('P2P saves: only when the site moved', () => {
  it('an idle site is not fetched or stored again: each save asks every server for the seq after the stored one, nothing more', async () => {
    const { h, seq } = await savedOnce();
    const fetches = h.fromAdmin('stateRequest').length;
    const saves = h.verified.length;
    const records = h.records.length;
    const probesBefore = h.fromAdmin('hashRequest').length;
    await h.run(6 * SAVE_MS);
    expect(h.fromAdmin('stateRequest').length).toBe(fetches);
    expect(h.verified.length).toBe(saves);
    expect(h.records.length).toBe(records);
    expect(h.sent.filter((m) => m.to === ADMIN_ID && m.msg.type === 'stateChunk' && m.at > h.net.time - 6 * SAVE_MS)).toEqual([]);
    const probes = h.fromAdmin('hashRequest').slice(probesBefore);
    // One probe a save period, to every server, for the seq after the stored one.
    expect(probes.length).toBeGreaterThanOrEqual(5 * SERVERS.length);
    expect(probes.length).toBeLessThanOrEqual(7 * SERVERS.length);
    expect(new Set(probes.map((m) => (m.msg.type === 'hashRequest' ? m.msg.seq : -1)))).toEqual(new Set([seq + 1]));
    expect(new Set(probes.map((m) => m.to))).toEqual(new Set(SERVERS));
  });

  it('a site that moved is fetched and stored at its next save, even when one server never answers the probe', async () => {
    const { h, seq } = await savedOnce();
    await h.run(3 * SAVE_MS);
    const fetches = h.fromAdmin('stateRequest').length;
    // s0 keeps quiet about its updates: the others' word is enough.
    h.net.drop = (from, to, msg) => from === 's0' && to === ADMIN_ID && msg.type === 'updateHash';
    h.act('bob', { kind: 'move', dir: 'left' });
    await h.run(300);
    const moved = h.appliedIn('bob', 1)!;
    expect(moved).toBeGreaterThan(seq);
    await h.run(2 * SAVE_MS);
    expect(h.fromAdmin('stateRequest').length).toBeGreaterThan(fetches);
    // At once on the probe's answer, not a save period later.
    const fetchAt = h.fromAdmin('stateRequest')[fetches]!.at;
    const probeAt = h.fromAdmin('hashRequest').filter((m) => m.at <= fetchAt).at(-1)!.at;
    expect(fetchAt - probeAt).toBeLessThan(200);
    expect(h.verified.at(-1)!.seq).toBeGreaterThanOrEqual(moved);
    expect(h.verified.at(-1)!.snapshot.users.find((u) => u.name === 'bob')).toBeDefined();
  });

  it('fetches in full when the servers may no longer keep the hash it would ask about (saves further apart than the horizon)', async () => {
    // 2 keepUpdates (64) of T_timeslot (100 ms) = 12.8 s: a save every 13 s always fetches.
    const { h } = await savedOnce({ saveEveryMs: 13_000 });
    const fetches = h.fromAdmin('stateRequest').length;
    const probes = h.fromAdmin('hashRequest').length;
    await h.run(13_500);
    expect(h.fromAdmin('stateRequest').length).toBeGreaterThan(fetches);
    // No probe: a hashRequest now is the fetch's own (for the seq the provider named).
    expect(h.fromAdmin('hashRequest').slice(probes).every((m) => m.at >= h.fromAdmin('stateRequest')[fetches]!.at)).toBe(true);
  });

  it('an idle site whose majority is gone is still found lost (the save fetches instead of asking)', async () => {
    const { h } = await savedOnce({ lostAfterMs: 2000 });
    h.net.drop = (from, to) => ['s0', 's1'].includes(from) || ['s0', 's1'].includes(to);
    h.down.add('s0');
    h.down.add('s1');
    for (let i = 0; i < 60 && h.closed.length === 0; i++) await h.run(100);
    expect(h.closed).toHaveLength(1);
    expect(h.logs.some((l) => l.event === 'p2p.lost')).toBe(true);
  });
});
