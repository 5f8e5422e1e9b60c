/**
 * Strict parsing of `npm run sim -- ...` arguments into ScenarioOptions plus CLI-only flags.
 * Unknown flags, missing values and bad numbers are errors with a message saying what is wrong.
 */
import {
  CHEAT_KINDS,
  DEFAULTS,
  validateOptions,
  type CheatKind,
  type CheatSpec,
  type CrashSpec,
  type PartitionSpec,
  type ScenarioOptions,
} from './options.js';

export interface CliOptions {
  scenario: ScenarioOptions;
  /** Number of runs, with seeds seed, seed+1, ... */
  runs: number;
  json: boolean;
  help: boolean;
}

export class ArgError extends Error {}

export const USAGE = `usage: npm run sim -- [options]

  --servers N        Site Servers (odd)                         default ${DEFAULTS.servers}
  --users N          users on the site                          default ${DEFAULTS.users}
  --seconds S        seconds of virtual time users act          default ${DEFAULTS.duration / 1000}
  --settle S         extra seconds with no new actions          default: enough to settle
  --seed N           seed of the (first) run                    default ${DEFAULTS.seed}
  --runs N           runs with seeds seed, seed+1, ...          default 1
  --latency MS       one-way latency of every link (ms)         default ${DEFAULTS.latencySU}
  --latency-su MS    user <-> server latency only
  --latency-ss MS    server <-> server latency only
  --link-spread MS   fixed extra latency per directed link, [0, MS) default ${DEFAULTS.linkSpread}
  --jitter MS        extra uniform delay in [0, MS) per message default ${DEFAULTS.jitter}
  --loss P           drop probability per message, in [0, 1)   default ${DEFAULTS.loss}
  --rate R           actions per second per user                default ${DEFAULTS.rate}
  --clock-offset MS  each server's clock off by up to ±MS       default ${DEFAULTS.clockOffset}
  --timeslot MS      T_timeslot                                 default ${DEFAULTS.tTimeslot}
  --timeout MS       T_timeout            (default: the core's)
  --req-timeout MS   T_req_timeout        (default: the core's)
  --ignore MS        T_ignore             (default: the core's)
  --resend MS        T_resend: users resend unapplied actions (default: the core's)
  --content MS       T_content: servers ask for missing action content (default: the core's)
  --spares N         spare peers for replacements               default ${DEFAULTS.spares}
  --cheat LIST       comma list of KIND:COUNT[:DELTA_MS], KIND one of
                     ${CHEAT_KINDS.join(', ')}   e.g. tamper:1,shift:1:-40
  --crash LIST       comma list of TARGET@FROM[-TO] in seconds; TARGET a server id (s2)
                     or a count of servers drawn at random (2)   e.g. s0@1.5-3,1@4
  --partition LIST   comma list of NODES@FROM-TO, NODES '+'-joined ids cut off from the rest
                     e.g. s0+s1@2-3.5,u4@1-2
  --json             print the report as JSON
  --world            whole-world runs instead (sim/world/; --world --help)
  --help             this text
`;

type Setter = (o: CliOptions, value: string, flag: string) => void;

const num = (flag: string, value: string): number => {
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(value.trim()))
    throw new ArgError(`${flag}: expected a number, got '${value}'`);
  return Number(value);
};
const int = (flag: string, value: string, min = 0): number => {
  const n = num(flag, value);
  if (!Number.isInteger(n) || n < min)
    throw new ArgError(`${flag}: expected an integer >= ${min}, got '${value}'`);
  return n;
};
const nonNeg = (flag: string, value: string): number => {
  const n = num(flag, value);
  if (n < 0) throw new ArgError(`${flag}: expected a number >= 0, got '${value}'`);
  return n;
};
const positive = (flag: string, value: string): number => {
  const n = num(flag, value);
  if (!(n > 0)) throw new ArgError(`${flag}: expected a number > 0, got '${value}'`);
  return n;
};

/** Seconds to ms, rounded to the microsecond (so 0.958 s is exactly 958 ms). */
const ms = (seconds: number): number => Math.round(seconds * 1e6) / 1e3;

const FLAGS: Record<string, Setter> = {
  '--servers': (o, v, f) => (o.scenario.servers = int(f, v, 1)),
  '--users': (o, v, f) => (o.scenario.users = int(f, v, 0)),
  '--seconds': (o, v, f) => (o.scenario.duration = ms(positive(f, v))),
  '--settle': (o, v, f) => (o.scenario.settle = ms(nonNeg(f, v))),
  '--seed': (o, v, f) => (o.scenario.seed = int(f, v, 0)),
  '--runs': (o, v, f) => (o.runs = int(f, v, 1)),
  '--latency': (o, v, f) => (o.scenario.latencySU = o.scenario.latencySS = nonNeg(f, v)),
  '--latency-su': (o, v, f) => (o.scenario.latencySU = nonNeg(f, v)),
  '--latency-ss': (o, v, f) => (o.scenario.latencySS = nonNeg(f, v)),
  '--link-spread': (o, v, f) => (o.scenario.linkSpread = nonNeg(f, v)),
  '--jitter': (o, v, f) => (o.scenario.jitter = nonNeg(f, v)),
  '--loss': (o, v, f) => {
    const p = num(f, v);
    if (!(p >= 0 && p < 1)) throw new ArgError(`${f}: expected a probability in [0, 1), got '${v}'`);
    o.scenario.loss = p;
  },
  '--rate': (o, v, f) => (o.scenario.rate = nonNeg(f, v)),
  '--clock-offset': (o, v, f) => (o.scenario.clockOffset = nonNeg(f, v)),
  '--timeslot': (o, v, f) => (o.scenario.tTimeslot = positive(f, v)),
  '--timeout': (o, v, f) => (o.scenario.tTimeout = positive(f, v)),
  '--req-timeout': (o, v, f) => (o.scenario.tReqTimeout = positive(f, v)),
  '--ignore': (o, v, f) => (o.scenario.tIgnore = positive(f, v)),
  '--resend': (o, v, f) => (o.scenario.tResend = nonNeg(f, v)),
  '--content': (o, v, f) => (o.scenario.tContent = nonNeg(f, v)),
  '--spares': (o, v, f) => (o.scenario.spares = int(f, v, 0)),
  '--cheat': (o, v, f) => o.scenario.cheats.push(...parseCheats(f, v)),
  '--crash': (o, v, f) => o.scenario.crashes.push(...parseCrashes(f, v)),
  '--partition': (o, v, f) => o.scenario.partitions.push(...parsePartitions(f, v)),
};

const SWITCHES: Record<string, (o: CliOptions) => void> = {
  '--json': (o) => (o.json = true),
  '--help': (o) => (o.help = true),
  '-h': (o) => (o.help = true),
};

export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    scenario: { ...DEFAULTS, cheats: [], crashes: [], partitions: [] },
    runs: 1,
    json: false,
    help: false,
  };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] as string;
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const sw = SWITCHES[flag];
    if (sw) {
      if (eq > 0) throw new ArgError(`${flag} takes no value`);
      sw(o);
      continue;
    }
    const set = FLAGS[flag];
    if (!set) {
      throw new ArgError(
        raw.startsWith('-')
          ? `unknown option ${flag} (see --help)`
          : `unexpected argument '${raw}' (options start with --)`,
      );
    }
    const repeatable = flag === '--cheat' || flag === '--crash' || flag === '--partition';
    if (seen.has(flag) && !repeatable) throw new ArgError(`${flag} given twice`);
    seen.add(flag);
    let value: string | undefined;
    if (eq > 0) value = raw.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || value === '' || (value.startsWith('--') && !/^--?\d/.test(value)))
      throw new ArgError(`${flag} needs a value`);
    set(o, value, flag);
  }
  try {
    validateOptions(o.scenario);
  } catch (e) {
    throw new ArgError((e as Error).message);
  }
  return o;
}

function parseCheats(flag: string, value: string): CheatSpec[] {
  return value.split(',').map((part) => {
    const bits = part.trim().split(':');
    const [kind, count, delta] = bits;
    if (bits.length > 3 || !kind)
      throw new ArgError(`${flag}: expected KIND:COUNT[:DELTA_MS], got '${part}'`);
    if (!(CHEAT_KINDS as readonly string[]).includes(kind))
      throw new ArgError(`${flag}: unknown cheat '${kind}' (one of ${CHEAT_KINDS.join(', ')})`);
    const spec: CheatSpec = { kind: kind as CheatKind, count: count === undefined ? 1 : int(flag, count, 1) };
    if (delta !== undefined) {
      if (kind !== 'shift') throw new ArgError(`${flag}: only shift takes a DELTA_MS, got '${part}'`);
      spec.delta = num(flag, delta);
    }
    return spec;
  });
}

function parseCrashes(flag: string, value: string): CrashSpec[] {
  return value.split(',').map((part) => {
    const m = /^(s\d+|\d+)@([^-]+)(?:-(.+))?$/.exec(part.trim());
    if (!m) throw new ArgError(`${flag}: expected TARGET@FROM[-TO] (e.g. s1@2-4 or 2@1.5), got '${part}'`);
    const [, target, from, to] = m as unknown as [string, string, string, string | undefined];
    const spec: CrashSpec = { at: ms(nonNeg(flag, from)) };
    if (target.startsWith('s')) spec.server = target;
    else spec.count = int(flag, target, 1);
    if (to !== undefined) spec.until = ms(nonNeg(flag, to));
    return spec;
  });
}

function parsePartitions(flag: string, value: string): PartitionSpec[] {
  return value.split(',').map((part) => {
    const m = /^([su]\d+(?:\+[su]\d+)*)@([^-]+)-(.+)$/.exec(part.trim());
    if (!m) throw new ArgError(`${flag}: expected NODES@FROM-TO (e.g. s0+s1@2-3.5), got '${part}'`);
    const [, nodes, from, to] = m as unknown as [string, string, string, string];
    return { side: nodes.split('+'), start: ms(nonNeg(flag, from)), end: ms(nonNeg(flag, to)) };
  });
}
