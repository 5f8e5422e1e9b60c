/**
 * Strict parsing of `npm run analysis -- ...` into the parameters of every section. Anything the
 * formulas cannot take (negative size, even N_server, c > N, too few users for the sites) is an
 * OptionError whose message says what is wrong; the CLI prints it and exits 2.
 */
import { collusionDomainError } from './collusion.js';
import { DEFAULT_DELAY, type DelayParams } from './delay.js';
import { PAPER_LOAD, type LoadParams } from './load.js';

export interface FailureParams {
  pFrom: number;
  pTo: number;
  pStep: number;
}

export interface CollusionParams {
  /** N */
  users: number;
  /** i */
  sites: number;
  /** the c of each curve */
  colluders: number[];
  /** the N_server of each point */
  servers: number[];
}

export interface AnalysisOptions {
  load: LoadParams;
  delay: DelayParams;
  failure: FailureParams;
  collusion: CollusionParams;
  json: boolean;
  /** Directory to write the SVG plots into, when given. */
  svgDir: string | null;
  help: boolean;
}

export class OptionError extends Error {}

/** Figure 3 of the paper. */
export const PAPER_COLLUSION: CollusionParams = {
  users: 5000,
  sites: 250,
  colluders: [3, 5, 10, 20],
  servers: [1, 3, 5, 7, 9, 11, 13, 15],
};
export const DEFAULT_FAILURE: FailureParams = { pFrom: 0.01, pTo: 0.3, pStep: 0.01 };
/** More points than this on the p grid is surely a typo in --p-step. */
const MAX_GRID = 10_000;

export const USAGE = `usage: npm run analysis -- [options]

Paper section 5, computed (docs/analysis.md). Defaults are the paper's, except the delays.

  load, eqs. (1)-(11); sizes in whole bytes
  --s-header B       message header                            default ${PAPER_LOAD.S_header}
  --s-hash B         hash of an update                         default ${PAPER_LOAD.S_hash}
  --s-key B          NEO decryption key                        default ${PAPER_LOAD.S_key}
  --a B              action message                            default ${PAPER_LOAD.a}
  --n N              users on the site (also eq. 17)           default ${PAPER_LOAD.n}
  --n-server N       Site Servers per site, odd (also eq. 18)  default ${PAPER_LOAD.N_server}
  delay, eqs. (12)-(14); ms, not given in the paper
  --l-cu MS          central server <-> user, one way          default ${DEFAULT_DELAY.l_cu}
  --l-uu MS          user <-> user                             default ${DEFAULT_DELAY.l_uu}
  --l-su MS          Site Server <-> user                      default ${DEFAULT_DELAY.l_su}
  --l-ss MS          Site Server <-> Site Server               default ${DEFAULT_DELAY.l_ss}
  --t-timeslot MS    T_timeslot                                default ${DEFAULT_DELAY.T_timeslot}
  --t-arrival MS     NEO's T_arrival                           default ${DEFAULT_DELAY.T_arrival}
  failure, eqs. (16)-(18): link-down probability p on a grid
  --p-from P         first p                                   default ${DEFAULT_FAILURE.pFrom}
  --p-to P           last p                                    default ${DEFAULT_FAILURE.pTo}
  --p-step P         step                                      default ${DEFAULT_FAILURE.pStep}
  collusion, eq. (20): C_i(N, c)
  --users N          N, all users                              default ${PAPER_COLLUSION.users}
  --sites I          i, sites                                  default ${PAPER_COLLUSION.sites}
  --colluders LIST   c of each curve, comma list               default ${PAPER_COLLUSION.colluders.join(',')}
  --servers LIST     N_server of each point, odd, comma list   default ${PAPER_COLLUSION.servers.join(',')}
  output
  --json             everything as one JSON object
  --svg DIR          also write DIR/analysis-collusion.svg and DIR/analysis-failure.svg
  --help             this text
`;

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function num(flag: string, value: string): number {
  if (!NUMBER.test(value.trim())) throw new OptionError(`${flag}: expected a number, got '${value}'`);
  return Number(value);
}
function whole(flag: string, value: string, min: number): number {
  const n = num(flag, value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new OptionError(`${flag}: expected a whole number >= ${min}, got '${value}'`);
  return n;
}
function odd(flag: string, value: string): number {
  const n = whole(flag, value, 1);
  if (n % 2 === 0) throw new OptionError(`${flag}: N_server must be odd (a strict majority), got ${n}`);
  return n;
}
function nonNeg(flag: string, value: string): number {
  const n = num(flag, value);
  if (!(n >= 0) || !Number.isFinite(n))
    throw new OptionError(`${flag}: expected a number >= 0, got '${value}'`);
  return n;
}
function probability(flag: string, value: string): number {
  const p = num(flag, value);
  if (!(p >= 0 && p <= 1)) throw new OptionError(`${flag}: expected a probability in [0, 1], got '${value}'`);
  return p;
}
function list(flag: string, value: string, item: (flag: string, v: string) => number): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((s) => s === '')) throw new OptionError(`${flag}: expected a comma list, got '${value}'`);
  return parts.map((s) => item(flag, s));
}

type Setter = (o: AnalysisOptions, value: string, flag: string) => void;

const FLAGS: Record<string, Setter> = {
  '--s-header': (o, v, f) => (o.load.S_header = whole(f, v, 0)),
  '--s-hash': (o, v, f) => (o.load.S_hash = whole(f, v, 0)),
  '--s-key': (o, v, f) => (o.load.S_key = whole(f, v, 0)),
  '--a': (o, v, f) => (o.load.a = whole(f, v, 0)),
  '--n': (o, v, f) => (o.load.n = whole(f, v, 1)),
  '--n-server': (o, v, f) => (o.load.N_server = odd(f, v)),
  '--l-cu': (o, v, f) => (o.delay.l_cu = nonNeg(f, v)),
  '--l-uu': (o, v, f) => (o.delay.l_uu = nonNeg(f, v)),
  '--l-su': (o, v, f) => (o.delay.l_su = nonNeg(f, v)),
  '--l-ss': (o, v, f) => (o.delay.l_ss = nonNeg(f, v)),
  '--t-timeslot': (o, v, f) => (o.delay.T_timeslot = nonNeg(f, v)),
  '--t-arrival': (o, v, f) => (o.delay.T_arrival = nonNeg(f, v)),
  '--p-from': (o, v, f) => (o.failure.pFrom = probability(f, v)),
  '--p-to': (o, v, f) => (o.failure.pTo = probability(f, v)),
  '--p-step': (o, v, f) => {
    const s = probability(f, v);
    if (!(s > 0)) throw new OptionError(`${f}: expected a step > 0, got '${v}'`);
    o.failure.pStep = s;
  },
  '--users': (o, v, f) => (o.collusion.users = whole(f, v, 1)),
  '--sites': (o, v, f) => (o.collusion.sites = whole(f, v, 1)),
  '--colluders': (o, v, f) => (o.collusion.colluders = list(f, v, (ff, s) => whole(ff, s, 0))),
  '--servers': (o, v, f) => (o.collusion.servers = list(f, v, odd)),
  '--svg': (o, v) => (o.svgDir = v),
};

const SWITCHES: Record<string, (o: AnalysisOptions) => void> = {
  '--json': (o) => (o.json = true),
  '--help': (o) => (o.help = true),
  '-h': (o) => (o.help = true),
};

export function defaultOptions(): AnalysisOptions {
  return {
    load: { ...PAPER_LOAD },
    delay: { ...DEFAULT_DELAY },
    failure: { ...DEFAULT_FAILURE },
    collusion: {
      ...PAPER_COLLUSION,
      colluders: [...PAPER_COLLUSION.colluders],
      servers: [...PAPER_COLLUSION.servers],
    },
    json: false,
    svgDir: null,
    help: false,
  };
}

/** Accepts `--flag value` and `--flag=value`. */
export function parseOptions(argv: readonly string[]): AnalysisOptions {
  const o = defaultOptions();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const sw = SWITCHES[flag];
    if (sw) {
      if (eq > 0) throw new OptionError(`${flag} takes no value`);
      sw(o);
      continue;
    }
    const set = FLAGS[flag];
    if (!set) throw new OptionError(`unknown option '${arg}'`);
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined || value === '') throw new OptionError(`${flag}: missing value`);
    set(o, value, flag);
  }
  validate(o);
  return o;
}

/** Checks between options, once all are read. */
function validate(o: AnalysisOptions): void {
  const f = o.failure;
  if (f.pFrom > f.pTo) throw new OptionError(`--p-from ${f.pFrom} is above --p-to ${f.pTo}`);
  if ((f.pTo - f.pFrom) / f.pStep > MAX_GRID)
    throw new OptionError(
      `--p-step ${f.pStep} gives more than ${MAX_GRID} points from ${f.pFrom} to ${f.pTo}`,
    );
  const c = o.collusion;
  const q = { users: c.users, sites: c.sites };
  for (const servers of c.servers) {
    for (const colluders of c.colluders) {
      const e = collusionDomainError({ ...q, servers }, colluders);
      if (e !== null) throw new OptionError(`eq. (20) with --users ${c.users} --sites ${c.sites}: ${e}`);
    }
  }
}
