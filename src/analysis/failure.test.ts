import { describe, expect, it } from 'vitest';
import { computeDelay, DEFAULT_DELAY } from './delay.js';
import {
  binomial,
  failureClientServer,
  failureNeo,
  failurePoint,
  failureProposed,
  probabilityGrid,
} from './failure.js';

/** P(at most `below` - 1 of `trials` links down), summed from the other side. */
function lowerPart(trials: number, below: number, p: number): number {
  let s = 0;
  for (let k = 0; k < below; k++) s += binomial(trials, k) * p ** k * (1 - p) ** (trials - k);
  return s;
}

describe('section 5.3 failure, eqs. (16)-(18)', () => {
  it('client-server loses an action exactly when its one link is down', () => {
    expect(failureClientServer(0.07)).toBe(0.07);
  });

  it('(18) is P(at least N_majority of N_server links down)', () => {
    // N_server 5, p 0.1: C(5,3) .1^3 .9^2 + C(5,4) .1^4 .9 + .1^5
    expect(failureProposed(5, 0.1)).toBeCloseTo(10 * 1e-3 * 0.81 + 5 * 1e-4 * 0.9 + 1e-5, 15);
    expect(failureProposed(1, 0.2)).toBeCloseTo(0.2, 15);
    for (const n of [1, 3, 5, 9, 15])
      for (const p of [0.01, 0.1, 0.3]) {
        const m = (n + 1) / 2;
        expect(failureProposed(n, p) + lowerPart(n, m, p)).toBeCloseTo(1, 12);
      }
  });

  it('(17) is P(at least ceil(n/2) of the n - 1 links down)', () => {
    // n 3: two links, both down; n 4: three links, at least 2 down.
    expect(failureNeo(3, 0.3)).toBeCloseTo(0.09, 15);
    expect(failureNeo(4, 0.3)).toBeCloseTo(3 * 0.09 * 0.7 + 0.027, 15);
    expect(failureNeo(1, 0.3)).toBe(0);
    for (const p of [0.01, 0.1, 0.3]) expect(failureNeo(30, p) + lowerPart(29, 15, p)).toBeCloseTo(1, 12);
    // At p = 0.01 the leading term C(29, 15) p^15 dominates: no cancellation, full precision.
    const lead = binomial(29, 15) * 0.01 ** 15 * 0.99 ** 14;
    expect(failureNeo(30, 0.01) / lead).toBeGreaterThan(1);
    expect(failureNeo(30, 0.01) / lead).toBeLessThan(1.01);
  });

  it('each curve grows with p, and the P2P models lose less than client-server', () => {
    const grid = probabilityGrid(0.01, 0.3, 0.01).map((p) => failurePoint(30, 5, p));
    for (let i = 1; i < grid.length; i++) {
      const [a, b] = [grid[i - 1], grid[i]];
      if (!a || !b) throw new Error('missing point');
      expect(b.clientServer).toBeGreaterThan(a.clientServer);
      expect(b.neo).toBeGreaterThan(a.neo);
      expect(b.proposed).toBeGreaterThan(a.proposed);
    }
    for (const pt of grid) expect(pt.proposed).toBeLessThan(pt.clientServer);
  });

  it('the p grid runs from 0.01 to 0.3 in 30 clean steps', () => {
    const g = probabilityGrid(0.01, 0.3, 0.01);
    expect(g).toHaveLength(30);
    expect([g[0], g[9], g[29]]).toEqual([0.01, 0.1, 0.3]);
    expect(probabilityGrid(0.2, 0.2, 0.05)).toEqual([0.2]);
  });
});

describe('section 5.2 delay, eqs. (12)-(14)', () => {
  it('adds the hops of each model and half a collection window', () => {
    expect(computeDelay({ l_cu: 30, l_uu: 40, l_su: 20, l_ss: 10, T_timeslot: 100, T_arrival: 60 })).toEqual({
      clientServer: 60,
      neo: 80 + 30,
      proposed: 40 + 10 + 50,
    });
    expect(computeDelay(DEFAULT_DELAY)).toEqual({ clientServer: 100, neo: 150, proposed: 200 });
  });
});
