/**
 * The world sweep: many whole-world seeds (world.ts), each judged by checkWorld, spread over
 * worker threads with the property sweep's machinery (../sweep.ts: shares, worker, merge in seed
 * order). `npm run sim -- --world --seed S --seeds N [--workers K]` (sweepCli.ts) and
 * sweep.test.ts (a few hundred seeds under npm test) both run it.
 */
import { dealSeeds, mergeBySeed, runInWorker } from '../sweep.js';
import { checkWorld } from './properties.js';
import { runWorld, type WorldOptions } from './world.js';

/**
 * Where npm test's world seeds start: the day this sweep was added (2026-12-06), far from every
 * seed anyone looked at while writing the world (1-24 in world.test.ts, 5000-5399 by hand) and
 * from the long sweep's (100000 on), so nobody tuned the world on them.
 */
export const WORLD_SWEEP_BASE = 20_261_206;

/** A world run's options other than its seed (players, rounds, ...), the same for every seed. */
export type WorldRunOptions = Omit<WorldOptions, 'seed'>;

export interface WorldSeedResult {
  seed: number;
  joins: number;
  /** checkWorld's violations; a run that threw has one, `threw: ...`. */
  violations: string[];
}

/** A share of the seeds, run one after the other in this thread (what each worker runs); `done` after each. */
export function worldSweepSeeds(
  seeds: readonly number[],
  options: WorldRunOptions = {},
  done: () => void = () => undefined,
): WorldSeedResult[] {
  return seeds.map((seed) => {
    const result = runOne(seed, options);
    done();
    return result;
  });
}

function runOne(seed: number, options: WorldRunOptions): WorldSeedResult {
  try {
    const trace = runWorld({ ...options, seed });
    // The managed world counts its logins and portal landings as entries, not joins.
    return { seed, joins: trace.joins.length + (trace.entries?.length ?? 0), violations: checkWorld(trace) };
  } catch (e) {
    return { seed, joins: 0, violations: [`threw: ${e instanceof Error ? e.message : String(e)}`] };
  }
}

/** Runs one share somewhere (a worker thread by default; tests put a fake in); `onSeed` per seed done. */
export type ShareRunner = (
  seeds: readonly number[],
  options: WorldRunOptions,
  onSeed?: () => void,
) => Promise<WorldSeedResult[]>;

export const inWorker: ShareRunner = (seeds, options, onSeed) =>
  runInWorker<WorldSeedResult[]>(
    new URL('./sweep.ts', import.meta.url),
    'worldSweepSeeds',
    seeds,
    options,
    onSeed,
  );

export interface WorldSweepPlan {
  seed: number;
  seeds: number;
  /** Worker threads; 1 runs every seed in this thread (no worker start-up). */
  workers: number;
  options: WorldRunOptions;
}

/** Every seed's result, in seed order; `onSeed` hears each seed finish, in whatever order. */
export async function worldSweep(
  plan: WorldSweepPlan,
  runShare: ShareRunner = inWorker,
  onSeed?: () => void,
): Promise<WorldSeedResult[]> {
  const all = dealSeeds(plan.seed, plan.seeds, 1)[0] ?? [];
  if (plan.workers <= 1) return worldSweepSeeds(all, plan.options, onSeed);
  const shares = dealSeeds(plan.seed, plan.seeds, Math.min(plan.workers, plan.seeds));
  const results = await Promise.all(shares.map((share) => runShare(share, plan.options, onSeed)));
  return mergeBySeed(results, all);
}
