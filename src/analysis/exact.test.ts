import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binomialBig, compareRatio, ratioToNumber } from './exact.js';

describe('exact helpers', () => {
  it('binomialBig matches known values, symmetry and the range rules', () => {
    expect(binomialBig(5, 2)).toBe(10n);
    expect(binomialBig(30, 15)).toBe(155117520n);
    // C(5000, 15), checked against Python's math.comb.
    expect(binomialBig(5000, 15)).toBe(22851854006793438908673045507920419431792000n);
    expect(binomialBig(100, 37)).toBe(binomialBig(100, 63));
    expect(binomialBig(4, 5)).toBe(0n);
    expect(binomialBig(4, -1)).toBe(0n);
    expect(binomialBig(-1, 0)).toBe(0n);
    expect(binomialBig(0, 0)).toBe(1n);
  });

  it('ratioToNumber rounds like IEEE division where that is exact enough to compare', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (a, b) => {
        expect(ratioToNumber(BigInt(a), BigInt(b))).toBe(a / b);
      }),
      { numRuns: 2000 },
    );
  });

  it('ratioToNumber rounds up a value a hair above a midpoint that a 64-bit quotient would cut to it', () => {
    // (2^53 + 1) / 2^53 is halfway between 1 and 1 + 2^-52; 2^-73 more must round up.
    const k = 2n ** 20n;
    const num = (2n ** 53n + 1n) * k + 1n;
    const den = 2n ** 53n * k;
    expect(ratioToNumber(num, den)).toBe(1 + 2 ** -52);
    expect(ratioToNumber(num - 1n, den)).toBe(1); // the exact tie goes to even
  });

  it('ratioToNumber handles ratios of numbers far beyond the double range', () => {
    const big = 10n ** 400n;
    expect(ratioToNumber(big, 3n * big)).toBe(1 / 3);
    expect(ratioToNumber(7n * big, big)).toBe(7);
    expect(ratioToNumber(big, 1n)).toBe(Infinity);
    expect(ratioToNumber(1n, 10n ** 18n)).toBe(1e-18);
    expect(ratioToNumber(1n, 2n ** 1074n)).toBe(Number.MIN_VALUE);
    expect(ratioToNumber(0n, 5n)).toBe(0);
    expect(() => ratioToNumber(1n, 0n)).toThrow(RangeError);
  });

  it('compareRatio compares without reducing', () => {
    expect(compareRatio({ num: 2n, den: 6n }, { num: 1n, den: 3n })).toBe(0);
    expect(compareRatio({ num: 1n, den: 3n }, { num: 1n, den: 2n })).toBe(-1);
    expect(compareRatio({ num: 3n, den: 4n }, { num: 1n, den: 2n })).toBe(1);
  });
});
