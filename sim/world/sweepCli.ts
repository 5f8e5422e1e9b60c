/**
 * `npm run sim -- --world [--workers K] ...`: the world CLI's options (cli.ts parses them) run
 * through the parallel sweep (sweep.ts). Failing seeds print in seed order, each with the line
 * that replays it alone; the summary names the seeds, time and workers. A sweep of 100 seeds or
 * more tells stderr each tenth done, so a long one is not silent. Returns the exit code:
 * 1 when a property was violated, 2 on bad arguments.
 */
import { availableParallelism } from 'node:os';
import { formatFailure, parseWorldArgs, WORLD_USAGE } from './cli.js';
import { inWorker, worldSweep, type ShareRunner } from './sweep.js';

const MAX_WORKERS = 64;
/** Sweeps this long report progress. */
const PROGRESS_FROM = 100;

export const WORKERS_USAGE = `  --workers N   worker threads (1-${MAX_WORKERS})         default: the machine's cores, at most 8
`;

export interface SweepCliIo {
  write: (text: string) => void;
  writeErr: (text: string) => void;
  runShare: ShareRunner;
}

/** `--workers N` taken out of argv: the rest for parseWorldArgs, or what is wrong with it. */
export function takeWorkers(argv: readonly string[]): { workers: number | null; rest: string[] } | string {
  const rest: string[] = [];
  let workers: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--workers') {
      rest.push(argv[i] ?? '');
      continue;
    }
    if (workers !== null) return '--workers given twice';
    const raw = argv[++i];
    const n = Number(raw);
    if (raw === undefined || !/^\d+$/.test(raw) || n < 1 || n > MAX_WORKERS)
      return `--workers needs a whole number in [1, ${MAX_WORKERS}], got ${raw ?? 'nothing'}`;
    workers = n;
  }
  return { workers, rest };
}

export async function runWorldSweepCli(
  argv: readonly string[],
  io: Partial<SweepCliIo> = {},
): Promise<number> {
  const write = io.write ?? ((t: string) => void process.stdout.write(t));
  const writeErr = io.writeErr ?? ((t: string) => void process.stderr.write(t));
  const w = takeWorkers(argv);
  const a = typeof w === 'string' ? w : parseWorldArgs(w.rest);
  if (typeof w === 'string' || typeof a === 'string') {
    writeErr(`sim: ${typeof w === 'string' ? w : a}\n\n${WORLD_USAGE}${WORKERS_USAGE}`);
    return 2;
  }
  if (a.help) {
    write(WORLD_USAGE + WORKERS_USAGE);
    return 0;
  }
  const { seed, seeds, help: _help, ...options } = a;
  const workers = Math.min(w.workers ?? Math.min(8, availableParallelism()), seeds);
  const t0 = performance.now();
  let done = 0;
  const tenth = Math.ceil(seeds / 10);
  const onSeed = (): void => {
    if (++done % tenth === 0 && seeds >= PROGRESS_FROM && done < seeds)
      writeErr(`sim: ${done}/${seeds} world runs done, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  };
  let results;
  try {
    results = await worldSweep({ seed, seeds, workers, options }, io.runShare ?? inWorker, onSeed);
  } catch (e) {
    // A worker that died or lost seeds: the sweep itself broke, so nothing may be called clean.
    writeErr(`sim: the world sweep failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  const failed = results.filter((r) => r.violations.length > 0);
  for (const r of failed) write(formatFailure({ ...options, seed: r.seed }, r.violations));
  const joins = results.reduce((n, r) => n + r.joins, 0);
  const s = (performance.now() - t0) / 1000;
  write(
    `${seeds} world run(s), seeds ${seed}..${seed + seeds - 1}, in ${s.toFixed(1)} s on ${workers} worker(s); ${joins} joins; runs with property violations: ${failed.length}${failed.length ? ` (seeds ${failed.map((r) => r.seed).join(', ')})` : ''}\n`,
  );
  return failed.length > 0 ? 1 : 0;
}
