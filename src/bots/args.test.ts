import { describe, expect, it } from 'vitest';
import { SITE_IDS } from '../game/world.js';
import { linkSpecs, parseArgs, siteFor } from './args.js';

const base = ['--count', '4', '--url', 'http://h:1/'];

describe('bots arguments', () => {
  it('reads the load and measurement options', () => {
    const a = parseArgs([...base, '--json', '/tmp/x.json', '--roam', '0.1', '--seconds', '30', '--warmup', '5']);
    expect(a).toMatchObject({ json: '/tmp/x.json', roam: 0.1, seconds: 30, warmup: 5, total: 4 });
    expect(parseArgs(base)).toMatchObject({ json: null, roam: 0, seconds: null, warmup: 0 });
  });

  it('refuses out-of-range or malformed values with the option named', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--roam', '1.5'], /--roam must be a number in 0\.\.1/],
      [['--roam', ''], /--roam must be/],
      [['--seconds', '0'], /--seconds/],
      [['--seconds', 'NaN'], /--seconds/],
      [['--warmup', '-1'], /--warmup/],
      [['--latency-cu', '5001'], /--latency-cu/],
      [['--latency-su', 'x'], /--latency-su/],
      [['--latency-ss', '-3'], /--latency-ss/],
      [['--jitter', 'Infinity'], /--jitter/],
      [['--loss', '2'], /--loss/],
      [['--link-down', '1.01'], /--link-down/],
      [['--link-down-period', '0'], /--link-down-period/],
      [['--link-down-scope', 'some'], /--link-down-scope must be actions or all/],
      [['--json'], /--json needs a value/],
      [['--json', 'a\0b'], /--json must be a file path/],
    ];
    for (const [extra, msg] of bad) expect(() => parseArgs([...base, ...extra]), extra.join(' ')).toThrow(msg);
  });

  it('reads --cheat (tests only): one of the cheat modes, nothing else', () => {
    expect(parseArgs(base).cheat).toBeNull();
    expect(parseArgs([...base, '--cheat', 'forge-state']).cheat).toBe('forge-state');
    expect(() => parseArgs([...base, '--cheat', 'stale'])).toThrow(/--cheat must be one of tamper, shift, invent, withhold, equivocate, forge-state, collude, got "stale"/);
    expect(() => parseArgs([...base, '--cheat'])).toThrow(/--cheat needs a value/);
  });

  it('installs no delay without latency options, and one spec per link class with them', () => {
    expect(linkSpecs(parseArgs(base))).toBeNull();
    const s = linkSpecs(parseArgs([...base, '--latency-cu', '30', '--latency-su', '20', '--latency-ss', '10', '--jitter', '5', '--link-down', '0.1']));
    expect(s).toEqual({
      cu: { latencyMs: 30, jitterMs: 5, loss: 0, down: 0.1, downPeriodMs: 100 },
      su: { latencyMs: 20, jitterMs: 5, loss: 0, down: 0.1, downPeriodMs: 100 },
      ss: { latencyMs: 10, jitterMs: 5, loss: 0, down: 0.1, downPeriodMs: 100 },
      downScope: 'actions',
    });
    expect(linkSpecs(parseArgs([...base, '--link-down', '0.1', '--link-down-scope', 'all']))?.downScope).toBe('all');
    expect(linkSpecs(parseArgs([...base, '--loss', '0.01']))?.su.loss).toBe(0.01);
  });

  it('spreads bots over several sites unless told a site', () => {
    const count = (n: number): Map<string, number> => {
      const m = new Map<string, number>();
      for (let k = 0; k < n; k++) m.set(siteFor(undefined, k, n), (m.get(siteFor(undefined, k, n)) ?? 0) + 1);
      return m;
    };
    expect([...count(12).values()]).toEqual([4, 4, 4]);
    expect([...count(6).values()]).toEqual([3, 3]);
    expect(count(3).size).toBe(1);
    expect(count(200).size).toBe(SITE_IDS.length);
    expect(siteFor('lake', 7, 12)).toBe('lake');
    expect(siteFor('all', 7, 12)).toBe(SITE_IDS[1]);
  });
});
