/**
 * The managed world's own faults (managed.ts, issue 18): the admin process restarting on its
 * database, tabs' clocks off and drifting under the protocol's clock sync, and a P2P site left
 * short of servers taking a free peer later. Each is forced over a few seeds that must keep every
 * property, and the seeds that found defects on the way are kept, each failing without its fix.
 */
import { describe, expect, it } from 'vitest';
import { formatFailure, parseWorldArgs } from './cli.js';
import { runManagedWorld, type ManagedOptions } from './managed.js';
import { checkWorld } from './properties.js';

const SEEDS = Number(process.env.MANAGED_RESTART_SEEDS ?? 6);
/** Seeds 1..SEEDS with `o`: the traces and every violation (FINDINGS 17, 18 and 21, once open here, are fixed). */
function sweep(o: Omit<ManagedOptions, 'seed'>) {
  const traces = Array.from({ length: SEEDS }, (_, i) => runManagedWorld({ ...o, seed: i + 1 }));
  const bad = traces.flatMap((t) => checkWorld(t).map((x) => `seed ${t.seed}: ${x}`));
  return { traces, bad };
}

describe('admin restarts in the managed world', () => {
  it(`with one in every run (no skew), ${SEEDS} seeds keep every property`, () => {
    const { traces, bad } = sweep({ restarts: 'always', skew: 'never' });
    expect(bad).toEqual([]);
    for (const t of traces) {
      expect(t.restarts).toBe(1);
      const restart = t.faults!.find((f) => f.what === 'admin restart')!;
      // The tabs came back: entries that began after the restart had the state.
      expect(t.entries!.some((e) => e.at >= restart.end && e.readyAt !== null)).toBe(true);
    }
    // Some runs had P2P sites through the restart: resumed from their records, not handed over anew.
    const resumed = traces.filter((t) => [...t.lifecycles.values()].some((l) => l.includes('resume')));
    expect(resumed.length).toBeGreaterThan(SEEDS / 3);
  }, 300_000);

  it('a server whose player took a portal to the site it serves while the admin was down walks in (seeds 359, 421)', () => {
    // Its key came back after its landing: P2PManager.serverBack told it to serve on the site it
    // now played ('choice:'); it walks in instead.
    for (const seed of [359, 421]) {
      const t = runManagedWorld({ seed });
      expect(t.restarts).toBe(1);
      expect(checkWorld(t)).toEqual([]);
    }
  }, 60_000);

  it('a player whose departure was still pending when the admin stopped is stored with its site (seeds 305, 435, 482)', () => {
    // Logged out of a P2P site that had lost its majority, its login waiting for the state, and
    // never stored before: the restarted admin's fallback for the site had no state for it, and
    // the site came back without it ('users: pN is in no place'; FINDINGS 21). Game.saveAll now
    // stores it with the site.
    for (const seed of [305, 435, 482]) {
      const t = runManagedWorld({ seed });
      expect(t.restarts).toBe(1);
      expect(checkWorld(t)).toEqual([]);
    }
  }, 60_000);

  it('a user whose logout the servers applied after the restart, while it was online there again, joins again (seed 479)', () => {
    // Taken as back (never gone) on the resumed site, its old session's leave (sent again after
    // the restart) made the servers let it go, and Game ignored the departure of a user online
    // there ('users: p8 is in no place'; FINDINGS 21). It joins again with the state given back.
    const t = runManagedWorld({ seed: 479 });
    expect(t.restarts).toBe(1);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it('a user that left a resumed site and came back within the grace stays there (seed 387)', () => {
    // Still counted as not back at the grace's end, it was made to leave the site it had just
    // joined again ('users: p1 is in no place'); a departure now ends the wait for that user.
    const t = runManagedWorld({ seed: 387 });
    expect(t.restarts).toBe(1);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);
});

describe('skewed clocks in the managed world', () => {
  it(`tabs' clocks seconds off and drifting: synced within a few ms, ${SEEDS} seeds keep every property`, () => {
    const { traces, bad } = sweep({ restarts: 'never', skew: 'always' });
    expect(bad).toEqual([]);
    for (const t of traces) {
      expect(t.skewed).toBe(t.players.length);
      expect(t.clockErrorMax).toBeGreaterThan(0);
      // Offsets of up to 5 s, synced to the admin's clock over the tabs' WebSockets (3-23 ms each way).
      expect(t.clockErrorMax).toBeLessThan(10);
    }
  }, 300_000);
});

describe('a P2P site short of servers in the managed world', () => {
  it('takes a free peer later and keeps every property (seed 5)', () => {
    const t = runManagedWorld({ seed: 5 });
    expect(t.refills).toBeGreaterThan(0);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);
});

describe('the managed faults on the command line', () => {
  it('--restarts and --skew take sometimes, always or never, only with --managed, and replay lines keep them', () => {
    expect(parseWorldArgs(['--managed', '--restarts', 'always', '--skew', 'never'])).toMatchObject({ managed: true, restarts: 'always', skew: 'never' });
    expect(parseWorldArgs(['--managed'])).not.toHaveProperty('restarts');
    expect(parseWorldArgs(['--managed', '--skew', 'often'])).toMatch(/--skew needs one of sometimes, always, never, got often/);
    expect(parseWorldArgs(['--managed', '--restarts'])).toMatch(/got nothing/);
    expect(parseWorldArgs(['--managed', '--restarts', 'never', '--restarts', 'never'])).toMatch(/given twice/);
    expect(parseWorldArgs(['--restarts', 'always'])).toMatch(/need --managed/);
    expect(formatFailure({ seed: 1, rounds: 6, managed: true, restarts: 'always', skew: 'never' }, ['users: …'])).toContain(
      'replay: npm run sim -- --world --seed 1 --rounds 6 --managed --restarts always --skew never',
    );
  });
});
