import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { reproCommand, toArgs } from './repro.js';
import { fuzzCase } from './fuzz.js';
import { runCli } from './runCli.js';

function cli(argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runCli(
    argv,
    (t) => void (out += t),
    (t) => void (err += t),
  );
  return { code, out, err };
}

describe('sim CLI', () => {
  it('prints a report with the eq. (14) comparison when faults are off', () => {
    const r = cli(['--servers', '3', '--users', '3', '--seconds', '0.5', '--seed', '7']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^seed 7: 3 servers, 3 users/);
    expect(r.out).toMatch(/actions\s+sent \d+, applied \d+, lost 0/);
    expect(r.out).toMatch(/eq\. \(14\)\s+2 l_su \+ l_ss \+ T_timeslot \/ 2 = 53 ms; measured mean/);
    expect(r.out).toMatch(/timeslot\s+\d+ \/\s+\d+/);
    expect(r.out).toMatch(/properties hold/);
  });

  it('sums up several runs, and prints JSON lines on request', () => {
    const r = cli([
      '--servers',
      '3',
      '--users',
      '2',
      '--seconds',
      '0.3',
      '--runs',
      '2',
      '--cheat',
      'tamper:1',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/2 runs \(seeds 1\.\.2\)/);
    expect(r.out).not.toMatch(/eq\. \(14\)/);
    const j = cli(['--servers', '3', '--users', '2', '--seconds', '0.3', '--json']);
    expect(JSON.parse(j.out.trim())).toMatchObject({ seed: 1, servers: 3, users: 2, violations: [] });
  });

  it('exits 2 with a clear message on bad arguments', () => {
    const r = cli(['--servers', 'five']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^sim: --servers: expected a number, got 'five'/);
    expect(r.err).toMatch(/usage: npm run sim/);
  });

  it('repro lines parse back to the same options', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const o = fuzzCase(seed).options;
      expect(reproCommand(o)).toMatch(/^npm run sim -- /);
      expect(parseArgs(toArgs(o)).scenario).toEqual({
        ...o,
        settle: undefined,
        ...(o.settle !== undefined ? { settle: o.settle } : {}),
      });
    }
  });
});
