/**
 * The property sweep: SIM_SEEDS seeded scenarios (default 1000, from SIM_SEED_BASE), each with
 * faults drawn per seed (fuzz.ts) and every property of properties.ts checked, spread over
 * SIM_WORKERS worker threads. A failure lists each bad seed with its violations and the
 * `npm run sim -- ...` line that replays it. Long mode: `SIM_SEEDS=20000 npx vitest run sim/sweep`.
 * Also the sweeps' shared machinery: dealing seeds into shares and merging results in seed order.
 */
import { describe, expect, it } from 'vitest';
import {
  dealSeeds,
  mergeBySeed,
  runInWorker,
  SWEEP_BASE,
  SWEEP_SEEDS,
  SWEEP_WORKERS,
  sweepShares,
  type SweepFailure,
} from './sweep.js';

describe('sweep machinery', () => {
  it('deals seeds round-robin, each exactly once', () => {
    expect(dealSeeds(10, 7, 3)).toEqual([
      [10, 13, 16],
      [11, 14],
      [12, 15],
    ]);
    expect(dealSeeds(5, 2, 4)).toEqual([[5], [6], [], []]);
    expect(dealSeeds(1, 3, 0)).toEqual([[1, 2, 3]]);
  });

  it('merges shares back in seed order, and refuses a lost, doubled or unasked seed', () => {
    const r = (seed: number): { seed: number; tag: string } => ({ seed, tag: `s${seed}` });
    const seeds = [10, 11, 12, 13, 14];
    // Shares finish in any order and each holds its seeds in its own order.
    expect(mergeBySeed([[r(14), r(11)], [r(13), r(10)], [r(12)]], seeds)).toEqual(seeds.map(r));
    expect(() =>
      mergeBySeed(
        [
          [r(10), r(11)],
          [r(13), r(14)],
        ],
        seeds,
      ),
    ).toThrow(/missing \[12\]/);
    expect(() =>
      mergeBySeed(
        [
          [r(10), r(11), r(12)],
          [r(12), r(13), r(14)],
        ],
        seeds,
      ),
    ).toThrow(/doubled \[12\]/);
    expect(() =>
      mergeBySeed(
        [
          [r(10), r(11), r(12)],
          [r(13), r(14), r(99)],
        ],
        seeds,
      ),
    ).toThrow(/unasked \[99\]/);
  });
});

describe(`property sweep over ${SWEEP_SEEDS} seeds from ${SWEEP_BASE} on ${SWEEP_WORKERS} workers`, () => {
  const shares = sweepShares(SWEEP_WORKERS);
  it.concurrent.each(shares.map((seeds, i) => [i + 1, seeds.length, seeds] as const))(
    'share %i (%i seeds): safety, exactly-once, liveness, median order and bounds, cheaters caught',
    async (_i, _n, seeds) => {
      const failures = await runInWorker<SweepFailure[]>(
        new URL('./sweep.ts', import.meta.url),
        'sweepSeeds',
        seeds,
      );
      expect(failures).toEqual([]);
    },
    // a hang guard, not a target (~0.07 s a seed when quiet): at load 15-20, next to the world sweep, 250 ms a seed per worker timed out
    30_000 + Math.ceil(SWEEP_SEEDS / SWEEP_WORKERS) * 1000,
  );
});
