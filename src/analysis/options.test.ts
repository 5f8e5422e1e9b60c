import { describe, expect, it } from 'vitest';
import { OptionError, PAPER_COLLUSION, parseOptions } from './options.js';
import { PAPER_LOAD } from './load.js';

const error = (argv: string[]): string => {
  try {
    parseOptions(argv);
  } catch (e) {
    if (e instanceof OptionError) return e.message;
    throw e;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
};

describe('analysis options', () => {
  it("defaults to the paper's parameters", () => {
    const o = parseOptions([]);
    expect(o.load).toEqual(PAPER_LOAD);
    expect(o.collusion).toEqual(PAPER_COLLUSION);
    expect(o.failure).toEqual({ pFrom: 0.01, pTo: 0.3, pStep: 0.01 });
    expect([o.json, o.svgDir, o.help]).toEqual([false, null, false]);
  });

  it('reads --flag value and --flag=value', () => {
    const o = parseOptions(['--a', '20', '--n-server=7', '--colluders', '2, 4', '--svg', 'out', '--json']);
    expect([o.load.a, o.load.N_server, o.collusion.colluders, o.svgDir, o.json]).toEqual([
      20,
      7,
      [2, 4],
      'out',
      true,
    ]);
  });

  it('rejects a negative size, an even N_server and c > N with a message naming the problem', () => {
    expect(error(['--a', '-1'])).toBe("--a: expected a whole number >= 0, got '-1'");
    expect(error(['--s-header', '-66'])).toMatch(/--s-header: expected a whole number >= 0/);
    expect(error(['--n-server', '4'])).toMatch(/--n-server: N_server must be odd/);
    expect(error(['--servers', '3,6'])).toMatch(/--servers: N_server must be odd .* got 6/);
    expect(error(['--users', '100', '--colluders', '101', '--sites', '1', '--servers', '5'])).toMatch(
      /c \(colluders\) must be a whole number from 0 to N = 100, got 101/,
    );
  });

  it('rejects other bad input', () => {
    expect(error(['--n', 'thirty'])).toMatch(/expected a number, got 'thirty'/);
    expect(error(['--a', '1.5'])).toMatch(/whole number/);
    expect(error(['--l-su', '-5'])).toMatch(/>= 0/);
    expect(error(['--p-to', '1.5'])).toMatch(/probability in \[0, 1\]/);
    expect(error(['--p-step', '0'])).toMatch(/step > 0/);
    expect(error(['--p-step', '1e-9'])).toMatch(/more than 10000 points/);
    expect(error(['--p-from', '0.4'])).toMatch(/above --p-to/);
    expect(error(['--sites', '400'])).toMatch(/400 sites of 13 servers need 5200 users/);
    expect(error(['--colluders', '3,,5'])).toMatch(/comma list/);
    expect(error(['--frobnicate'])).toMatch(/unknown option '--frobnicate'/);
    expect(error(['--a'])).toMatch(/--a: missing value/);
    expect(error(['--json=yes'])).toMatch(/--json takes no value/);
  });
});
