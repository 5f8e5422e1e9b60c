/**
 * The property sweep: many seeds, each a small randomized scenario (fuzz.ts), every property
 * checked. Tests call `sweepSeeds`; `SIM_SEEDS` (default 1000) and `SIM_SEED_BASE` (default 1)
 * choose the seeds, so `SIM_SEEDS=20000 npx vitest run sim` is the long mode.
 */
import { availableParallelism } from 'node:os';
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
  const shares: number[][] = Array.from({ length: parts }, () => []);
  for (let i = 0; i < SWEEP_SEEDS; i++) shares[i % parts]?.push(SWEEP_BASE + i);
  return shares;
}

function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return n;
}
