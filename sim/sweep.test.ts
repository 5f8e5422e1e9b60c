/**
 * The property sweep: SIM_SEEDS seeded scenarios (default 1000, from SIM_SEED_BASE), each with
 * faults drawn per seed (fuzz.ts) and every property of properties.ts checked, spread over
 * SIM_WORKERS worker threads. A failure lists each bad seed with its violations and the
 * `npm run sim -- ...` line that replays it. Long mode: `SIM_SEEDS=20000 npx vitest run sim/sweep`.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SWEEP_BASE, SWEEP_SEEDS, SWEEP_WORKERS, sweepShares, type SweepFailure } from './sweep.js';

function runShare(seeds: number[]): Promise<SweepFailure[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./sweepWorker.mjs', import.meta.url), {
      workerData: { module: new URL('./sweep.ts', import.meta.url).href, seeds },
    });
    worker.once('message', (failures: SweepFailure[]) => {
      resolve(failures);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`sweep worker exited with code ${code}`));
    });
  });
}

describe(`property sweep over ${SWEEP_SEEDS} seeds from ${SWEEP_BASE} on ${SWEEP_WORKERS} workers`, () => {
  const shares = sweepShares(SWEEP_WORKERS);
  it.concurrent.each(shares.map((seeds, i) => [i + 1, seeds.length, seeds] as const))(
    'share %i (%i seeds): safety, exactly-once, liveness, median order and bounds, cheaters caught',
    async (_i, _n, seeds) => {
      const failures = await runShare([...seeds]);
      expect(failures).toEqual([]);
    },
    // generous: ~0.1 s per seed on a slow machine, plus worker start-up
    30_000 + Math.ceil(SWEEP_SEEDS / SWEEP_WORKERS) * 250,
  );
});
