import { describe, expect, it } from 'vitest';
import { breakEven, computeLoad, PAPER_LOAD, type LoadParams } from './load.js';

describe('section 5.1 load, eqs. (1)-(11)', () => {
  const r = computeLoad(PAPER_LOAD);

  it("gives the paper's 366, 2552 and 1262 bytes for eqs. (5)-(7)", () => {
    expect([r.receive.clientServer, r.receive.neo, r.receive.proposed]).toEqual([366, 2552, 1262]);
  });

  it('computes (1)-(4) and (9)-(11) from their definitions', () => {
    expect(r.N_majority).toBe(3);
    // (2) 66 + 10; (3) 29 (66 + 10 + ceil(29/8) + 8); (4) 5 (66 + 10)
    expect(r.send).toEqual({ clientServer: 76, neo: 29 * 88, proposed: 380 });
    // (9) 30 (66 + 300); (10) 30 (66 + 16); (11) 30 (66 + 10)
    expect(r.siteServer).toEqual({ sendFull: 10980, sendHash: 2460, receive: 2280 });
  });

  it('NEO rounds its vote bitmap up to whole bytes', () => {
    // n - 1 = 8 fits in one byte, 9 needs two.
    const at = (n: number) => computeLoad({ ...PAPER_LOAD, n }).receive.neo;
    expect(at(9)).toBe(8 * (66 + 10 + 1 + 8));
    expect(at(10)).toBe(9 * (66 + 10 + 2 + 8));
  });

  it('the proposed model loads a user less than NEO up to a = 31, as the paper\'s "a < 31" says', () => {
    const be = breakEven(PAPER_LOAD);
    expect(be.breakEvenFraction).toEqual({ num: 1900, den: 61 });
    expect(be.largestA).toBe(31);
    const less = (a: number) => {
      const l = computeLoad({ ...PAPER_LOAD, a });
      return l.receive.proposed < l.receive.neo;
    };
    // The paper's claim: every a below 31 qualifies; and 31 (3152 < 3161 bytes) is the last one.
    for (let a = 0; a <= 31; a++) expect(less(a)).toBe(true);
    expect(less(32)).toBe(false);
  });

  it('the largest a agrees with a direct search for other parameters', () => {
    const cases: LoadParams[] = [
      { ...PAPER_LOAD, N_server: 3 },
      { ...PAPER_LOAD, N_server: 7, n: 50 },
      { ...PAPER_LOAD, n: 5 },
      { S_header: 10, S_hash: 4, S_key: 0, N_server: 9, n: 12, a: 1 },
    ];
    for (const p of cases) {
      let largest: number | null = null;
      for (let a = 0; a <= 10_000; a++) {
        const l = computeLoad({ ...p, a });
        if (l.receive.proposed < l.receive.neo) largest = a;
      }
      expect(breakEven(p).largestA).toBe(largest);
    }
  });

  it('excludes a break-even a that is a whole number: there the loads are equal', () => {
    // n 6, N_server 3: (7) - (6) = 7 a - 161, zero at a = 23.
    const p = { ...PAPER_LOAD, n: 6, N_server: 3 };
    expect(breakEven(p).breakEvenA).toBe(23);
    const at23 = computeLoad({ ...p, a: 23 }).receive;
    expect(at23.proposed).toBe(at23.neo);
    expect(breakEven(p).largestA).toBe(22);
  });

  it('reports no a when even a = 0 loads a user more than NEO', () => {
    // Two users: NEO exchanges one small message, the proposed model five.
    expect(breakEven({ ...PAPER_LOAD, n: 2 }).largestA).toBeNull();
  });
});
