/**
 * Exact integer helpers for section 5: binomial coefficients as BigInt, and the nearest double to
 * a ratio of two BigInts (the collusion recurrence keeps numerators over one common denominator).
 */

/** A non-negative rational num / den with den > 0; not reduced. */
export interface Ratio {
  num: bigint;
  den: bigint;
}

/** C(n, k) exactly; 0 when k < 0, k > n or n < 0 (so out-of-range hypergeometric terms vanish). */
export function binomialBig(n: number, k: number): bigint {
  if (n < 0 || k < 0 || k > n) return 0n;
  const kk = Math.min(k, n - k);
  let r = 1n;
  // r stays C(n - kk + t, t) after step t, an integer, so the division is exact.
  for (let t = 1; t <= kk; t++) r = (r * BigInt(n - kk + t)) / BigInt(t);
  return r;
}

const bitLength = (x: bigint): number => (x === 0n ? 0 : x.toString(2).length);

/**
 * The double nearest to num / den (both >= 0, den > 0), without going through huge doubles:
 * the quotient is taken to 64 significant bits, with a sticky last bit when the division is not
 * exact, so Number() rounds it correctly to 53 bits (outside the subnormal range).
 */
export function ratioToNumber(num: bigint, den: bigint): number {
  if (den <= 0n || num < 0n) throw new RangeError('ratioToNumber: expects num >= 0 and den > 0');
  if (num === 0n) return 0;
  // Choose shift s so that (num << s) / den has 64 or 65 bits.
  const s = bitLength(den) - bitLength(num) + 64;
  const top = s >= 0 ? num << BigInt(s) : num;
  const bottom = s >= 0 ? den : den << BigInt(-s);
  let q = top / bottom;
  if (q * bottom !== top) q |= 1n;
  return scaleByPowerOfTwo(Number(q), -s);
}

/** x * 2^e in steps that stay inside the double range (2 ** -1100 alone would be 0). */
function scaleByPowerOfTwo(x: number, e: number): number {
  let r = x;
  let left = e;
  while (left > 1000) {
    r *= 2 ** 1000;
    left -= 1000;
  }
  while (left < -1000) {
    r *= 2 ** -1000;
    left += 1000;
  }
  return r * 2 ** left;
}

/** Sign of a - b for two ratios. */
export function compareRatio(a: Ratio, b: Ratio): -1 | 0 | 1 {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}
