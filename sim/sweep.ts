/**
 * The property sweep: many seeds, each a small randomized scenario (fuzz.ts), every property
 * checked. Tests call `sweepSeeds`; `SIM_SEEDS` (default 1000) and `SIM_SEED_BASE` (default 1)
 * choose the seeds, so `SIM_SEEDS=20000 npx vitest run sim` is the long mode.
 *
 * Also the machinery every sweep shares (this one and the world's, world/sweep.ts): seeds dealt
 * into shares, a share run in a worker thread (sweepWorker.mjs), the shares' results merged back
 * in seed order.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fuzzCase } from './fuzz.js';
import { reproCommand } from './repro.js';
import { runScenario } from './scenario.js';

export const SWEEP_SEEDS = envInt('SIM_SEEDS', 1000);
export const SWEEP_BASE = envInt('SIM_SEED_BASE', 1);

export interface SweepFailure {
  seed: number;
  label: string;
  violations: string[];
  repro: string;
}

/** Runs the given seeds; returns one entry per failing seed (violations or a thrown error). */
export function sweepSeeds(seeds: readonly number[]): SweepFailure[] {
  const out: SweepFailure[] = [];
  for (const seed of seeds) {
    const c = fuzzCase(seed);
    const repro = reproCommand(c.options);
    try {
      const { report } = runScenario(c.options);
      if (report.violations.length > 0) {
        out.push({
          seed,
          label: c.label,
          violations: report.violations.slice(0, 3).map((v) => `[${v.property}] ${v.message}`),
          repro,
        });
      }
    } catch (e) {
      out.push({ seed, label: c.label, violations: [`threw: ${(e as Error).message}`], repro });
    }
  }
  return out;
}

/** Worker threads the sweep test uses (`SIM_WORKERS`, default: the machine's parallelism, at most 8). */
export const SWEEP_WORKERS = Math.max(1, Math.min(8, envInt('SIM_WORKERS', availableParallelism())));

/** The sweep's seeds dealt round-robin into `parts` shares. */
export function sweepShares(parts: number): number[][] {
  return dealSeeds(SWEEP_BASE, SWEEP_SEEDS, parts);
}

/**
 * Seeds base..base+count-1 dealt round-robin into `parts` shares: neighbouring seeds go to
 * different workers, so a stretch of slow seeds does not land on one.
 */
export function dealSeeds(base: number, count: number, parts: number): number[][] {
  const shares: number[][] = Array.from({ length: Math.max(1, parts) }, () => []);
  for (let i = 0; i < count; i++) shares[i % shares.length]?.push(base + i);
  return shares;
}

/**
 * Runs `fn(seeds, extra, done)`, exported by the module at `module`, in a worker thread
 * (sweepWorker.mjs); resolves to what it returned (structured-cloned), rejects if it threw or the
 * worker died first. `onSeed` hears each `done()` the function calls (one per seed finished).
 */
export function runInWorker<R>(
  module: URL,
  fn: string,
  seeds: readonly number[],
  extra?: unknown,
  onSeed?: () => void,
): Promise<R> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./sweepWorker.mjs', import.meta.url), {
      workerData: { module: module.href, fn, seeds: [...seeds], extra },
    });
    let settled = false;
    worker.on('message', (m: { seedDone: true } | { result: R }) => {
      if ('seedDone' in m) return onSeed?.();
      settled = true;
      resolve(m.result);
      void worker.terminate();
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`sweep worker exited with code ${code} before answering`));
    });
  });
}

/**
 * The shares' per-seed results as one list in seed order. Every seed of `seeds` must come back
 * exactly once: a share that lost or repeated one is a bug of the sweep, not a clean run.
 */
export function mergeBySeed<T extends { seed: number }>(
  shares: ReadonlyArray<readonly T[]>,
  seeds: readonly number[],
): T[] {
  const merged = shares.flat().sort((a, b) => a.seed - b.seed);
  const want = [...seeds].sort((a, b) => a - b);
  const got = merged.map((r) => r.seed);
  if (got.length !== want.length || got.some((s, i) => s !== want[i])) {
    const missing = want.filter((s) => !got.includes(s));
    const doubled = got.filter((s, i) => got.indexOf(s) !== i);
    const extra = got.filter((s) => !want.includes(s));
    throw new Error(
      `sweep results do not match its seeds: missing [${missing.join(', ')}], doubled [${doubled.join(', ')}], unasked [${extra.join(', ')}]`,
    );
  }
  return merged;
}

/** A non-negative integer from the environment (`dflt` when unset); anything else throws. */
export function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return n;
}
