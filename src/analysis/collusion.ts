/**
 * Paper section 5.5, eq. (20): C_i(N, c), the probability that among i sites at least one has a
 * majority of its N_server Site Servers held by the c colluders among N users. The model behind
 * (20): site 1 draws its N_server servers uniformly without replacement from all N users, site 2
 * from the N - N_server left, and so on (nobody serves two sites).
 *
 * (20) as printed is 1 - (sum of terms), and for Figure 3 that sum is within 1e-18 of 1, so in
 * doubles it cancels to 0. Rewritten with the hypergeometric weights h_k (which sum to 1),
 *   C_i(N, c) = sum_{k >= N_majority} h_k + sum_{k < N_majority} h_k C_{i-1}(N - N_server, c - k),
 * which has only non-negative terms. collusionExact evaluates that in BigInt rationals (the exact
 * value of (20)); collusionFloat evaluates it in doubles (no cancellation, so the relative error
 * stays near i (N_majority + 2) ulps); collusionNaive is (20) literally in doubles, kept to show
 * the cancellation.
 */
import { binomialBig, ratioToNumber, type Ratio } from './exact.js';
import { nMajority } from './load.js';

export interface CollusionQuery {
  /** N: users that servers are drawn from. */
  users: number;
  /** i: sites, each with its own servers. */
  sites: number;
  /** N_server: servers per site (odd). */
  servers: number;
}

/** Why (20) is undefined for these values, or null when it is defined. */
export function collusionDomainError(q: CollusionQuery, colluders: number): string | null {
  if (!Number.isInteger(q.servers) || q.servers < 1 || q.servers % 2 === 0)
    return `N_server must be an odd whole number >= 1, got ${q.servers}`;
  if (!Number.isInteger(q.sites) || q.sites < 0)
    return `i (sites) must be a whole number >= 0, got ${q.sites}`;
  if (!Number.isInteger(q.users) || q.users < 0)
    return `N (users) must be a whole number >= 0, got ${q.users}`;
  if (q.sites * q.servers > q.users)
    return `${q.sites} sites of ${q.servers} servers need ${q.sites * q.servers} users, only ${q.users} (N) given`;
  if (!Number.isInteger(colluders) || colluders < 0 || colluders > q.users)
    return `c (colluders) must be a whole number from 0 to N = ${q.users}, got ${colluders}`;
  return null;
}

function check(q: CollusionQuery, maxColluders: number): void {
  const e = collusionDomainError(q, maxColluders);
  if (e !== null) throw new RangeError(`eq. (20): ${e}`);
}

/** Population drawn from at recursion level j = 1..i (level i is the outermost, all N users). */
const populationAt = (q: CollusionQuery, level: number): number => q.users - (q.sites - level) * q.servers;

/** Hypergeometric weight numerators C(c, k) C(pop - c, N_server - k), k = 0..N_server. */
function weightNumerators(pop: number, c: number, servers: number): bigint[] {
  const w: bigint[] = [];
  for (let k = 0; k <= servers; k++) w.push(binomialBig(c, k) * binomialBig(pop - c, servers - k));
  return w;
}

/**
 * C_i(N, c) exactly for every c = 0..maxColluders, as ratios. All values of one recursion level
 * share the denominator prod over levels of C(pop, N_server), so no gcd is ever needed.
 */
export function collusionExact(q: CollusionQuery, maxColluders: number): Ratio[] {
  check(q, maxColluders);
  const m = nMajority(q.servers);
  let den = 1n;
  let prev: bigint[] = new Array<bigint>(maxColluders + 1).fill(0n); // C_0 = 0
  for (let level = 1; level <= q.sites; level++) {
    const pop = populationAt(q, level);
    const next: bigint[] = [];
    for (let c = 0; c <= maxColluders; c++) {
      const w = weightNumerators(pop, c, q.servers);
      let num = 0n;
      for (let k = 0; k <= q.servers; k++) {
        const wk = w[k] ?? 0n;
        if (wk === 0n) continue;
        // A zero weight guards every out-of-range c - k (k > c, or c - k above the next population).
        num += k >= m ? wk * den : wk * (prev[c - k] ?? 0n);
      }
      next.push(num);
    }
    den *= binomialBig(pop, q.servers);
    prev = next;
  }
  return prev.map((num) => ({ num, den }));
}

/** Hypergeometric weights h_k as doubles, each the nearest double to the exact ratio. */
function weights(pop: number, c: number, servers: number): number[] {
  const total = binomialBig(pop, servers);
  return weightNumerators(pop, c, servers).map((w) => ratioToNumber(w, total));
}

/** Shared double-precision recursion; `step` combines one level's weights with the level below. */
function collusionDouble(
  q: CollusionQuery,
  maxColluders: number,
  step: (h: number[], below: (c: number) => number, c: number, m: number) => number,
): number[] {
  check(q, maxColluders);
  const m = nMajority(q.servers);
  let prev: number[] = new Array<number>(maxColluders + 1).fill(0);
  for (let level = 1; level <= q.sites; level++) {
    const pop = populationAt(q, level);
    const below = prev;
    const next: number[] = [];
    for (let c = 0; c <= maxColluders; c++) {
      next.push(step(weights(pop, c, q.servers), (cc) => below[cc] ?? 0, c, m));
    }
    prev = next;
  }
  return prev;
}

/** The non-cancelling form in doubles. */
export function collusionFloat(q: CollusionQuery, maxColluders: number): number[] {
  return collusionDouble(q, maxColluders, (h, below, c, m) => {
    let sum = 0;
    h.forEach((hk, k) => {
      if (hk !== 0) sum += k >= m ? hk : hk * below(c - k);
    });
    return sum;
  });
}

/** Eq. (20) exactly as printed, in doubles: 1 - sum_{k < N_majority} h_k (1 - C_{i-1}). Cancels. */
export function collusionNaive(q: CollusionQuery, maxColluders: number): number[] {
  return collusionDouble(q, maxColluders, (h, below, c, m) => {
    let sum = 0;
    for (let k = 0; k < m; k++) {
      const hk = h[k] ?? 0;
      if (hk !== 0) sum += hk * (1 - below(c - k));
    }
    return 1 - sum;
  });
}

/** C_i(N, c) for one c, as the nearest double to the exact value. */
export function collusionProbability(q: CollusionQuery, colluders: number): number {
  const r = collusionExact(q, colluders)[colluders];
  if (r === undefined) throw new RangeError('unreachable: collusionExact returns maxColluders + 1 values');
  return ratioToNumber(r.num, r.den);
}

/** P(at least N_majority of one site's servers are colluders), exactly: C_1 by its definition. */
export function hypergeometricTail(users: number, servers: number, colluders: number): Ratio {
  const m = nMajority(servers);
  let num = 0n;
  for (let k = m; k <= servers; k++)
    num += binomialBig(colluders, k) * binomialBig(users - colluders, servers - k);
  return { num, den: binomialBig(users, servers) };
}
