/**
 * Options of one simulated run, their defaults and their validation. Shared by the CLI
 * (args.ts), the scenario builder (scenario.ts, siteSetup.ts) and tests. Times are in ms here; the CLI takes
 * seconds where the README says so.
 */

export const CHEAT_KINDS = [
  'tamper',
  'shift',
  'invent',
  'withhold',
  'equivocate',
  'stale',
  'collude',
] as const;
export type CheatKind = (typeof CHEAT_KINDS)[number];

export interface CheatSpec {
  kind: CheatKind;
  /** How many servers run this cheat. */
  count: number;
  /**
   * shift: Δ in ms added to every reported arrival time (negative = earlier; default +50, and
   * 'split' cheaters of a colluding group alternate the sign). collude: ignored.
   */
  delta?: number;
}

export interface CrashSpec {
  /** A server id (`s2`) or, when undefined, `count` servers drawn by the run's RNG. */
  server?: string;
  count?: number;
  /** ms of true time. */
  at: number;
  /** Restart time in ms; undefined = stays down. */
  until?: number;
}

export interface PartitionSpec {
  /** Node ids cut off from everyone else (servers `s0`.., users `u0`..). */
  side: string[];
  start: number;
  end: number;
}

export interface ScenarioOptions {
  servers: number;
  users: number;
  /** Virtual duration in ms during which users send actions. */
  duration: number;
  /** Extra virtual time at the end with no new actions so in-flight ones can settle (ms). */
  settle?: number;
  seed: number;
  /** One-way latency user <-> server and server <-> server, ms. */
  latencySU: number;
  latencySS: number;
  /**
   * Fixed extra latency of each directed link, drawn once per link uniformly from [0, linkSpread)
   * ms: real links differ, and up ≠ down is what leaves clock sync a residual error.
   */
  linkSpread: number;
  /** Uniform extra delay in [0, jitter) ms on every message. */
  jitter: number;
  /** Per-message drop probability on every link. */
  loss: number;
  /** Actions per second each user sends (Poisson). */
  rate: number;
  /** Max |clock offset| in ms; each server draws one uniformly from [-x, x]. */
  clockOffset: number;
  cheats: CheatSpec[];
  crashes: CrashSpec[];
  partitions: PartitionSpec[];
  /** Spare peers the admin can use for replacements. */
  spares: number;
  /** Protocol timing; undefined takes the core's defaults. */
  tTimeslot: number;
  tTimeout?: number;
  tReqTimeout?: number;
  tIgnore?: number;
  /** A user resends an action not applied after this long (core default when undefined). */
  tResend?: number;
  /** A final action's content missing this long: servers ask each other (core default when undefined). */
  tContent?: number;
}

export const DEFAULTS: ScenarioOptions = {
  servers: 5,
  users: 30,
  duration: 10_000,
  seed: 1,
  latencySU: 1,
  latencySS: 1,
  linkSpread: 0,
  jitter: 0,
  loss: 0,
  rate: 10,
  clockOffset: 0,
  cheats: [],
  crashes: [],
  partitions: [],
  spares: 3,
  tTimeslot: 100,
};

/** Throws with a clear message on options no run can use. */
export function validateOptions(o: ScenarioOptions): void {
  const fail = (m: string): never => {
    throw new Error(m);
  };
  if (!Number.isInteger(o.servers) || o.servers < 1 || o.servers % 2 === 0)
    fail(`servers must be an odd integer >= 1, got ${o.servers}`);
  if (!Number.isInteger(o.users) || o.users < 0) fail(`users must be an integer >= 0, got ${o.users}`);
  if (!(o.duration > 0)) fail(`duration must be > 0, got ${o.duration}`);
  if (!(o.loss >= 0 && o.loss < 1)) fail(`loss must be in [0, 1), got ${o.loss}`);
  for (const [k, x] of [
    ['latency', o.latencySU],
    ['latency', o.latencySS],
    ['link spread', o.linkSpread],
    ['jitter', o.jitter],
    ['rate', o.rate],
    ['clock offset', o.clockOffset],
  ] as const) {
    if (!(x >= 0) || !Number.isFinite(x)) fail(`${k} must be a finite number >= 0, got ${x}`);
  }
  if (!(o.tTimeslot > 0)) fail(`timeslot must be > 0 ms, got ${o.tTimeslot}`);
  if (!Number.isInteger(o.spares) || o.spares < 0) fail(`spares must be an integer >= 0, got ${o.spares}`);
  const cheaters = o.cheats.reduce((n, c) => n + c.count, 0);
  if (cheaters > o.servers) fail(`${cheaters} cheaters but only ${o.servers} servers`);
  for (const c of o.cheats) {
    if (!Number.isInteger(c.count) || c.count < 1) fail(`cheat ${c.kind} needs a count >= 1, got ${c.count}`);
  }
  const ids = new Set(Array.from({ length: o.servers }, (_, i) => `s${i}`));
  for (const c of o.crashes) {
    if (c.server !== undefined && !ids.has(c.server))
      fail(`crash names unknown server ${c.server} (servers are s0..s${o.servers - 1})`);
    if (c.until !== undefined && !(c.until > c.at))
      fail(`crash of ${c.server ?? c.count} restarts (${c.until}) before it crashes (${c.at})`);
  }
  for (const p of o.partitions) {
    if (!(p.end > p.start)) fail(`partition of ${p.side.join(',')} ends before it starts`);
    for (const n of p.side) {
      if (!/^[su]\d+$/.test(n))
        fail(`partition names unknown node ${n} (use s0.. for servers, u0.. for users)`);
    }
  }
}

export const nMajorityOf = (nServer: number): number => (nServer + 1) / 2;

/** Paper eq. (14): mean action delay 2 l_su + l_ss + T_timeslot / 2 (ms). */
export function eq14(o: Pick<ScenarioOptions, 'latencySU' | 'latencySS' | 'tTimeslot'>): number {
  return 2 * o.latencySU + o.latencySS + o.tTimeslot / 2;
}

/** Paper eq. (18): probability an action is lost when each user->server link is down with probability p. */
export function eq18(nServer: number, p: number): number {
  const k0 = nMajorityOf(nServer);
  let sum = 0;
  for (let k = k0; k <= nServer; k++) sum += binom(nServer, k) * p ** k * (1 - p) ** (nServer - k);
  return sum;
}

function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}
