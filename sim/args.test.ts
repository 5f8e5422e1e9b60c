import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { DEFAULTS, eq14, eq18 } from './options.js';

describe('CLI arguments', () => {
  it('defaults to the paper settings', () => {
    const o = parseArgs([]);
    expect(o.scenario).toMatchObject({
      servers: 5,
      users: 30,
      tTimeslot: 100,
      latencySU: 1,
      latencySS: 1,
      loss: 0,
    });
    expect(o.runs).toBe(1);
  });

  it('parses the documented example', () => {
    const o = parseArgs(
      '--servers 5 --users 30 --seconds 60 --loss 0.05 --seed 7 --cheat tamper:1,shift:2:-40 --crash s0@1.5-3,1@4 --partition s1+u2@2-3.5 --latency 1 --jitter 0 --timeslot 100 --runs 3'.split(
        ' ',
      ),
    );
    expect(o.runs).toBe(3);
    expect(o.scenario).toMatchObject({
      servers: 5,
      users: 30,
      duration: 60_000,
      loss: 0.05,
      seed: 7,
      jitter: 0,
    });
    expect(o.scenario.cheats).toEqual([
      { kind: 'tamper', count: 1 },
      { kind: 'shift', count: 2, delta: -40 },
    ]);
    expect(o.scenario.crashes).toEqual([
      { server: 's0', at: 1500, until: 3000 },
      { count: 1, at: 4000 },
    ]);
    expect(o.scenario.partitions).toEqual([{ side: ['s1', 'u2'], start: 2000, end: 3500 }]);
  });

  it('accepts --flag=value', () => {
    expect(parseArgs(['--users=4', '--json']).scenario.users).toBe(4);
  });

  it.each([
    [['--servers', '4'], /odd/],
    [['--servers'], /needs a value/],
    [['--servers', '--users', '3'], /needs a value/],
    [['--users', 'x'], /expected a number/],
    [['--users', '2.5'], /integer/],
    [['--loss', '1'], /\[0, 1\)/],
    [['--seconds', '0'], /> 0/],
    [['--frobnicate', '1'], /unknown option --frobnicate/],
    [['7'], /unexpected argument/],
    [['--seed', '1', '--seed', '2'], /given twice/],
    [['--cheat', 'lie:1'], /unknown cheat 'lie'/],
    [['--cheat', 'tamper:1:5'], /only shift/],
    [['--cheat', 'tamper:6'], /6 cheaters but only 5 servers/],
    [['--crash', 's9@1'], /unknown server s9/],
    [['--crash', 's1@3-2'], /before it crashes/],
    [['--crash', 'x'], /TARGET@FROM/],
    [['--partition', 's1@2'], /NODES@FROM-TO/],
    [['--json=1'], /takes no value/],
  ])('rejects %j', (argv, msg) => {
    expect(() => parseArgs(argv)).toThrow(msg);
  });

  it('computes the paper formulas', () => {
    expect(eq14(DEFAULTS)).toBe(53);
    // eq. (18) with N_server 5, p 0.1: P(at least 3 of 5 links down)
    expect(eq18(5, 0.1)).toBeCloseTo(0.00856, 5);
    expect(eq18(1, 0.2)).toBeCloseTo(0.2);
  });
});
