/**
 * `npm run sim -- --world --seed S [--seeds N] [--players P] [--rounds R] [--managed]`: whole-world
 * runs (world.ts; with --managed the admin's real Game and P2PManager, managed.ts), each judged by
 * checkWorld; a failing seed prints the line that replays it. Returns the exit code: 1 when a
 * property was violated, 2 on bad arguments.
 */
import { checkWorld } from './properties.js';
import { runWorld, type WorldOptions } from './world.js';

export const WORLD_USAGE = `usage: npm run sim -- --world [options]

  --seed N      seed of the (first) run        default 1
  --seeds N     runs with seeds seed, seed+1, ... default 1
  --players N   players in the world (1-64)    default 8
  --rounds N    rounds of play (1-100)         default 6
  --managed     the admin's real Game and P2PManager, users' own cores,
                loss and partitions (default players 14)
  --restarts D  managed: admin restarts sometimes|always|never  default sometimes (30 %)
  --skew D      managed: skewed tab clocks sometimes|always|never default sometimes (50 %)
  --crashes D   managed: the admin's restart is a crash (kill -9, nothing saved at the
                stop) sometimes|always|never; a crash adds a restart where none was drawn
                                                 default never (sometimes: 50 %)
  --help        this text
`;

/** Flags whose value is how a managed-world fault is drawn. */
const DRAWS = ['sometimes', 'always', 'never'] as const;
type Draw = (typeof DRAWS)[number];

const LIMITS: Record<string, [number, number]> = {
  '--seed': [0, 2 ** 31],
  '--seeds': [1, 100_000],
  '--players': [1, 64],
  '--rounds': [1, 100],
};

/** What the world's command line asks for (`restarts`/`skew`/`crashes`: the managed world's draws). */
export interface WorldArgs {
  seed: number;
  seeds: number;
  players: number | undefined;
  rounds: number;
  help: boolean;
  managed: boolean;
  restarts?: Draw;
  skew?: Draw;
  crashes?: Draw;
}

export function parseWorldArgs(argv: readonly string[]): WorldArgs | string {
  const o: WorldArgs = {
    seed: 1,
    seeds: 1,
    players: undefined,
    rounds: 6,
    help: false,
    managed: false,
  };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    if (flag === '--help' || flag === '-h') {
      o.help = true;
      continue;
    }
    if (flag === '--managed') {
      if (o.managed) return `${flag} given twice`;
      o.managed = true;
      continue;
    }
    if (flag === '--restarts' || flag === '--skew' || flag === '--crashes') {
      const key = flag.slice(2) as 'restarts' | 'skew' | 'crashes';
      if (o[key] !== undefined) return `${flag} given twice`;
      const raw = argv[++i] ?? '';
      if (!(DRAWS as readonly string[]).includes(raw)) return `${flag} needs one of ${DRAWS.join(', ')}, got ${raw || 'nothing'}`;
      o[key] = raw as Draw;
      continue;
    }
    const lim = LIMITS[flag];
    if (!lim) return `unknown option ${flag} for --world (see --world --help)`;
    if (seen.has(flag)) return `${flag} given twice`;
    seen.add(flag);
    const raw = argv[++i];
    const n = Number(raw);
    if (raw === undefined || !/^\d+$/.test(raw) || n < lim[0] || n > lim[1])
      return `${flag} needs a whole number in [${lim[0]}, ${lim[1]}], got ${raw ?? 'nothing'}`;
    o[flag.slice(2) as 'seed' | 'seeds' | 'players' | 'rounds'] = n;
  }
  if ((o.restarts !== undefined || o.skew !== undefined || o.crashes !== undefined) && !o.managed)
    return '--restarts, --skew and --crashes need --managed';
  return o;
}

/** What a run that broke a property prints: its violations and how to replay it. */
export function formatFailure(
  o: Omit<WorldOptions, 'seed'> & { seed: number },
  violations: readonly string[],
): string {
  const extra = `${o.players !== undefined ? ` --players ${o.players}` : ''}${o.rounds !== undefined ? ` --rounds ${o.rounds}` : ''}${o.managed ? ' --managed' : ''}${o.restarts !== undefined ? ` --restarts ${o.restarts}` : ''}${o.skew !== undefined ? ` --skew ${o.skew}` : ''}${o.crashes !== undefined ? ` --crashes ${o.crashes}` : ''}`;
  return (
    [
      `seed ${o.seed}: ${violations.length} violation(s)`,
      ...violations.map((v) => `  ${v}`),
      `  replay: npm run sim -- --world --seed ${o.seed}${extra}`,
    ].join('\n') + '\n'
  );
}

export function runWorldCli(
  argv: readonly string[],
  write: (text: string) => void = (t) => void process.stdout.write(t),
  writeErr: (text: string) => void = (t) => void process.stderr.write(t),
): number {
  const a = parseWorldArgs(argv);
  if (typeof a === 'string') {
    writeErr(`sim: ${a}\n\n${WORLD_USAGE}`);
    return 2;
  }
  if (a.help) {
    write(WORLD_USAGE);
    return 0;
  }
  const t0 = performance.now();
  const failed: number[] = [];
  let joins = 0;
  for (let seed = a.seed; seed < a.seed + a.seeds; seed++) {
    const o = {
      seed,
      rounds: a.rounds,
      ...(a.players !== undefined ? { players: a.players } : {}),
      ...(a.managed ? { managed: true } : {}),
      ...(a.restarts !== undefined ? { restarts: a.restarts } : {}),
      ...(a.skew !== undefined ? { skew: a.skew } : {}),
      ...(a.crashes !== undefined ? { crashes: a.crashes } : {}),
    };
    const trace = runWorld(o);
    // The managed world counts its logins and portal landings as entries.
    joins += trace.joins.length + (trace.entries?.length ?? 0);
    const v = checkWorld(trace);
    if (v.length > 0) {
      failed.push(seed);
      write(formatFailure(o, v));
    }
  }
  const s = (performance.now() - t0) / 1000;
  write(
    `${a.seeds} world run(s), seeds ${a.seed}..${a.seed + a.seeds - 1}, in ${s.toFixed(1)} s; ${joins} ${a.managed ? 'entries' : 'joins'}; runs with property violations: ${failed.length}${failed.length ? ` (seeds ${failed.join(', ')})` : ''}\n`,
  );
  return failed.length > 0 ? 1 : 0;
}
