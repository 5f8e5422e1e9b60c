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
/** Seeds that fail on open core defects whatever the faults (managed.test.ts's list: FINDINGS 17, 18). */
const OPEN = new Set([4, 23, 32]);

/**
 * The first `runs` seeds from 1 (but the open ones) with `o`: the traces, every violation but
 * those of `known` (seed -> the violation it still shows, on a defect open in FINDINGS.md), and
 * the known seeds that still show theirs.
 */
function sweep(o: Omit<ManagedOptions, 'seed'>, runs = SEEDS, known: ReadonlyMap<number, string> = new Map()) {
  const seeds: number[] = [];
  for (let s = 1; seeds.length < runs; s++) if (!OPEN.has(s)) seeds.push(s);
  const traces = seeds.map((seed) => runManagedWorld({ ...o, seed }));
  const bad: string[] = [];
  const stillOpen: number[] = [];
  for (const t of traces) {
    const v = checkWorld(t);
    const k = known.get(t.seed);
    if (k !== undefined) {
      if (v.some((x) => x.startsWith(k))) stillOpen.push(t.seed);
      continue;
    }
    bad.push(...v.map((x) => `seed ${t.seed}: ${x}`));
  }
  return { traces, bad, stillOpen };
}

describe('admin restarts in the managed world', () => {
  it(`with one in every run (no skew), ${SEEDS} seeds keep every property`, () => {
    // Seed 1: a user whose landing on a resumed site was not applied by the hand-back's cut is
    // lost (FINDINGS 21, open). Listed so that the test says when a fix makes it pass.
    const known = new Map([[1, 'users:']]);
    const { traces, bad, stillOpen } = sweep({ restarts: 'always', skew: 'never' }, SEEDS, known);
    expect(bad).toEqual([]);
    expect(stillOpen).toEqual([...known.keys()]);
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
