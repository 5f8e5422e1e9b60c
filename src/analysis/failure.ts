/**
 * Paper section 5.3: the probability that a user's action is not processed when each link is down
 * independently with probability p, eqs. (16)-(18). Each is a sum of non-negative terms, so doubles
 * are accurate here even where the result is tiny.
 */
import { nMajority } from './load.js';

/** C(n, k) as a double: a product of ratios, exact for the small n used here. */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  const kk = Math.min(k, n - k);
  let r = 1;
  for (let t = 1; t <= kk; t++) r = (r * (n - kk + t)) / t;
  return r;
}

/** P(at least `from` of `trials` independent links are down). */
function upperTail(trials: number, from: number, p: number): number {
  let sum = 0;
  for (let k = Math.max(0, from); k <= trials; k++)
    sum += binomial(trials, k) * p ** k * (1 - p) ** (trials - k);
  return sum;
}

/** Eq. (16): the one link to the central server is down. */
export const failureClientServer = (p: number): number => p;

/** Eq. (17): at least half (ceil(n/2)) of the n - 1 links to the other users are down. */
export const failureNeo = (n: number, p: number): number => upperTail(n - 1, Math.ceil(n / 2), p);

/** Eq. (18): at least N_majority of the N_server links to the Site Servers are down. */
export const failureProposed = (nServer: number, p: number): number =>
  upperTail(nServer, nMajority(nServer), p);

export interface FailurePoint {
  p: number;
  clientServer: number;
  neo: number;
  proposed: number;
}

export function failurePoint(n: number, nServer: number, p: number): FailurePoint {
  return {
    p,
    clientServer: failureClientServer(p),
    neo: failureNeo(n, p),
    proposed: failureProposed(nServer, p),
  };
}

/**
 * from, from + step, ... up to `to` (inclusive within a rounding slack), each rounded to 12
 * significant digits so 0.01 steps print as 0.3 and not 0.30000000000000004.
 */
export function probabilityGrid(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  const count = Math.floor((to - from) / step + 1e-9);
  for (let k = 0; k <= count; k++) out.push(Number((from + k * step).toPrecision(12)));
  return out;
}
