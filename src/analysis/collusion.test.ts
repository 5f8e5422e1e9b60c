import { describe, expect, it } from 'vitest';
import {
  collusionDomainError,
  collusionExact,
  collusionFloat,
  collusionNaive,
  collusionProbability,
  hypergeometricTail,
  type CollusionQuery,
} from './collusion.js';
import { compareRatio, ratioToNumber, type Ratio } from './exact.js';

const FIG3_SERVERS = [1, 3, 5, 7, 9, 11, 13, 15];
const FIG3 = (servers: number): CollusionQuery => ({ users: 5000, sites: 250, servers });
const toNumber = (r: Ratio | undefined): number => (r === undefined ? NaN : ratioToNumber(r.num, r.den));

/** Subsets of `pool` of size k. */
function* subsets(pool: readonly number[], k: number, start = 0): Generator<number[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = start; i <= pool.length - k; i++)
    for (const rest of subsets(pool, k - 1, i + 1)) yield [pool[i] ?? -1, ...rest];
}

/**
 * The model (20) stands for, counted: users 0..c-1 collude; every ordered way to give each of i
 * sites its own N_server users is equally likely; count the ways where some site has a majority.
 */
function bruteForce(q: CollusionQuery, c: number): Ratio {
  const m = (q.servers + 1) / 2;
  let hit = 0n;
  let total = 0n;
  const walk = (free: number[], sitesLeft: number, bad: boolean): void => {
    if (sitesLeft === 0) {
      total++;
      if (bad) hit++;
      return;
    }
    for (const s of subsets(free, q.servers)) {
      const held = s.filter((u) => u < c).length;
      walk(
        free.filter((u) => !s.includes(u)),
        sitesLeft - 1,
        bad || held >= m,
      );
    }
  };
  walk(
    Array.from({ length: q.users }, (_, u) => u),
    q.sites,
    false,
  );
  return { num: hit, den: total };
}

describe('eq. (20) collusion recurrence', () => {
  it('is exactly 0 when c < N_majority, and 0 for no sites', () => {
    for (const servers of [1, 3, 5, 15]) {
      const m = (servers + 1) / 2;
      const all = collusionExact(FIG3(servers), 20);
      for (let c = 0; c < m; c++) expect(all[c]?.num).toBe(0n);
      expect(all[m]?.num).toBeGreaterThan(0n);
    }
    expect(collusionExact({ users: 10, sites: 0, servers: 3 }, 5).every((r) => r.num === 0n)).toBe(true);
  });

  it('with one site equals the hypergeometric tail P(at least N_majority colluders drawn)', () => {
    for (const [users, servers] of [
      [5000, 5],
      [5000, 15],
      [40, 7],
      [9, 9],
    ] as const) {
      const all = collusionExact({ users, sites: 1, servers }, Math.min(users, 20));
      all.forEach((r, c) => expect(compareRatio(r, hypergeometricTail(users, servers, c))).toBe(0));
    }
  });

  it('equals an exhaustive count of server assignments for small cases', () => {
    const cases: Array<[CollusionQuery, number]> = [
      [{ users: 6, sites: 2, servers: 3 }, 2],
      [{ users: 6, sites: 2, servers: 3 }, 3],
      [{ users: 7, sites: 2, servers: 3 }, 3],
      [{ users: 7, sites: 3, servers: 1 }, 2],
      [{ users: 8, sites: 1, servers: 5 }, 4],
      [{ users: 9, sites: 3, servers: 3 }, 4],
    ];
    for (const [q, c] of cases) {
      const exact = collusionExact(q, c)[c];
      if (exact === undefined) throw new Error('missing value');
      expect(compareRatio(exact, bruteForce(q, c)), JSON.stringify([q, c])).toBe(0);
    }
  });

  it('grows with c and with the number of sites i', () => {
    for (const servers of [3, 7]) {
      const q = { users: 300, sites: 20, servers };
      const all = collusionExact(q, 30);
      for (let c = 1; c < all.length; c++) {
        const a = all[c - 1];
        const b = all[c];
        if (a === undefined || b === undefined) throw new Error('missing value');
        expect(compareRatio(a, b)).toBeLessThanOrEqual(0);
        if (a.num > 0n) expect(compareRatio(a, b)).toBe(-1);
      }
      let prev: Ratio = { num: 0n, den: 1n };
      for (let sites = 1; sites <= 20; sites++) {
        const r = collusionExact({ ...q, sites }, 10)[10];
        if (r === undefined) throw new Error('missing value');
        expect(compareRatio(prev, r)).toBe(-1);
        prev = r;
      }
    }
  });

  it('the non-cancelling double form agrees with the exact value on all of Figure 3', () => {
    for (const servers of FIG3_SERVERS) {
      const exact = collusionExact(FIG3(servers), 20).map(toNumber);
      const float = collusionFloat(FIG3(servers), 20);
      exact.forEach((e, c) => {
        if (e === 0) expect(float[c]).toBe(0);
        // Error bound of the form: about i (N_majority + 2) ulps, here < 3e-13.
        else expect(Math.abs((float[c] ?? NaN) - e) / e).toBeLessThan(3e-13);
      });
    }
  });

  it('the printed form 1 - sum(...) agrees in doubles only while the result is large', () => {
    for (const servers of FIG3_SERVERS) {
      const exact = collusionExact(FIG3(servers), 20).map(toNumber);
      const naive = collusionNaive(FIG3(servers), 20);
      exact.forEach((e, c) => {
        if (e > 1e-3) expect(Math.abs((naive[c] ?? NaN) - e) / e).toBeLessThan(1e-9);
      });
    }
    // Figure 3's smallest value, C_250(5000, 10) at N_server 15, is near 7.5e-18: cancelled away.
    const e = toNumber(collusionExact(FIG3(15), 10)[10]);
    expect(e).toBeGreaterThan(7e-18);
    expect(e).toBeLessThan(8e-18);
    const naive = collusionNaive(FIG3(15), 10)[10] ?? NaN;
    expect(Math.abs(naive - e) / e).toBeGreaterThan(1);
  });

  it('collusionProbability picks one c out of the exact recursion', () => {
    expect(collusionProbability(FIG3(5), 3)).toBe(toNumber(collusionExact(FIG3(5), 20)[3]));
  });

  it('rejects what (20) is not defined for', () => {
    expect(collusionDomainError(FIG3(15), 20)).toBeNull();
    expect(collusionDomainError(FIG3(4), 3)).toMatch(/odd/);
    expect(collusionDomainError(FIG3(5), 5001)).toMatch(/from 0 to N = 5000/);
    expect(collusionDomainError({ users: 100, sites: 21, servers: 5 }, 3)).toMatch(/need 105 users/);
    expect(() => collusionExact(FIG3(2), 3)).toThrow(RangeError);
  });
});
