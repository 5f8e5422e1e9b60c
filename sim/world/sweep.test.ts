/**
 * The world sweep under npm test: WORLD_SWEEP_SEEDS whole-world seeds (default 300) from
 * WORLD_SWEEP_BASE (seeds nobody tuned the world on), over SIM_WORKERS worker threads, every world
 * property checked; the time it took is printed, not asserted. And the sweep CLI: results in seed
 * order whatever order the shares finish in, each failure with its replay line, exit codes.
 */
import { describe, expect, it } from 'vitest';
import { envInt, SWEEP_WORKERS } from '../sweep.js';
import { formatFailure } from './cli.js';
import { WORLD_SWEEP_BASE, worldSweep, type ShareRunner, type WorldSeedResult } from './sweep.js';
import { runWorldSweepCli, takeWorkers } from './sweepCli.js';

const SEEDS = envInt('WORLD_SWEEP_SEEDS', 300);
const BASE = envInt('WORLD_SWEEP_BASE', WORLD_SWEEP_BASE);

describe(`the world sweep over ${SEEDS} seeds from ${BASE} on ${SWEEP_WORKERS} workers`, () => {
  it(
    'keeps every world property on every seed',
    async () => {
      const t0 = performance.now();
      const results = await worldSweep({ seed: BASE, seeds: SEEDS, workers: SWEEP_WORKERS, options: {} });
      const s = (performance.now() - t0) / 1000;
      console.log(
        `world sweep: ${SEEDS} seeds from ${BASE} on ${SWEEP_WORKERS} workers in ${s.toFixed(1)} s`,
      );
      expect(results.map((r) => r.seed)).toEqual(Array.from({ length: SEEDS }, (_, i) => BASE + i));
      const failures = results
        .filter((r) => r.violations.length > 0)
        .map((r) => formatFailure({ seed: r.seed }, r.violations));
      expect(failures).toEqual([]);
      // The runs did something: players switched sites and logged in again.
      expect(results.reduce((n, r) => n + r.joins, 0)).toBeGreaterThan(SEEDS * 3);
    },
    // a hang guard, not a target: 300 seeds took 481 s on 2 workers at load 15-20 (1.6 s a seed per worker)
    60_000 + Math.ceil(SEEDS / SWEEP_WORKERS) * 10_000,
  );
});

/** A share runner that finishes shares in reverse order and fails the given seeds. */
function fakeRunner(failing: Record<number, string[]>, shares: number[][]): ShareRunner {
  let pending = 0;
  return async (seeds, _options, onSeed) => {
    shares.push([...seeds]);
    seeds.forEach(() => onSeed?.());
    const mine = ++pending;
    // Later shares answer first: the merge, not the finishing order, puts seeds in order.
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10 - mine; i++) await Promise.resolve();
    return seeds.map((seed): WorldSeedResult => ({ seed, joins: 2, violations: failing[seed] ?? [] }));
  };
}

async function cli(
  argv: string[],
  runShare: ShareRunner,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runWorldSweepCli(argv, {
    write: (t) => void (out += t),
    writeErr: (t) => void (err += t),
    runShare,
  });
  return { code, out, err };
}

describe('npm run sim -- --world --workers K', () => {
  it('deals the seeds to K shares and prints failures in seed order, each with its replay line; exit 1', async () => {
    const shares: number[][] = [];
    const r = await cli(
      ['--seed', '40', '--seeds', '7', '--workers', '3', '--players', '5'],
      fakeRunner(
        { 45: ['joins: p1 never seen'], 41: ['users: p2 is in no place', 'items: i3 exists 2 times'] },
        shares,
      ),
    );
    expect(shares).toEqual([
      [40, 43, 46],
      [41, 44],
      [42, 45],
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('');
    const lines = r.out.trimEnd().split('\n');
    expect(lines.slice(0, -1)).toEqual([
      'seed 41: 2 violation(s)',
      '  users: p2 is in no place',
      '  items: i3 exists 2 times',
      '  replay: npm run sim -- --world --seed 41 --players 5 --rounds 6',
      'seed 45: 1 violation(s)',
      '  joins: p1 never seen',
      '  replay: npm run sim -- --world --seed 45 --players 5 --rounds 6',
    ]);
    expect(lines.at(-1)).toMatch(
      /^7 world run\(s\), seeds 40\.\.46, in [\d.]+ s on 3 worker\(s\); 14 joins; runs with property violations: 2 \(seeds 41, 45\)$/,
    );
  });

  it('exits 0 when every seed is clean, and never starts more workers than seeds', async () => {
    const shares: number[][] = [];
    const r = await cli(['--seed', '3', '--seeds', '2', '--workers', '8'], fakeRunner({}, shares));
    expect(r.code).toBe(0);
    expect(shares).toEqual([[3], [4]]);
    expect(r.out).toMatch(
      /^2 world run\(s\), seeds 3\.\.4, in [\d.]+ s on 2 worker\(s\); 4 joins; runs with property violations: 0\n$/,
    );
  });

  it('tells stderr each tenth of a long sweep done', async () => {
    const r = await cli(['--seed', '1', '--seeds', '100', '--workers', '4'], fakeRunner({}, []));
    expect(r.code).toBe(0);
    expect(r.err.trimEnd().split('\n')).toEqual(
      [10, 20, 30, 40, 50, 60, 70, 80, 90].map((n) =>
        expect.stringMatching(new RegExp(`^sim: ${n}/100 world runs done, \\d+ s$`)),
      ),
    );
    expect((await cli(['--seed', '1', '--seeds', '99', '--workers', '4'], fakeRunner({}, []))).err).toBe('');
  });

  it('replays one seed in its own thread, with no worker', async () => {
    const noWorker: ShareRunner = () => Promise.reject(new Error('must not start a worker'));
    const r = await cli(['--seed', String(BASE), '--players', '4', '--rounds', '2'], noWorker);
    expect(r.err).toBe('');
    expect(r.out).toMatch(
      new RegExp(
        `^1 world run\\(s\\), seeds ${BASE}\\.\\.${BASE}, in [\\d.]+ s on 1 worker\\(s\\); [1-9]\\d* joins; runs with property violations: 0\n$`,
      ),
    );
    expect(r.code).toBe(0);
  });

  it('exits 1 when a worker dies or a share loses seeds', async () => {
    const died: ShareRunner = () =>
      Promise.reject(new Error('sweep worker exited with code 1 before answering'));
    const r = await cli(['--seed', '1', '--seeds', '4', '--workers', '2'], died);
    expect(r).toMatchObject({
      code: 1,
      out: '',
      err: 'sim: the world sweep failed: sweep worker exited with code 1 before answering\n',
    });
    const lossy: ShareRunner = (seeds) =>
      Promise.resolve(seeds.slice(1).map((seed) => ({ seed, joins: 1, violations: [] })));
    const l = await cli(['--seed', '1', '--seeds', '4', '--workers', '2'], lossy);
    expect(l.code).toBe(1);
    expect(l.err).toMatch(/^sim: the world sweep failed: .*missing \[1, 2\]/);
  });

  it('refuses bad --workers and bad world options with exit 2 and the usage', async () => {
    const never: ShareRunner = () => Promise.reject(new Error('must not run'));
    for (const argv of [
      ['--workers', '0'],
      ['--workers', 'x'],
      ['--workers'],
      ['--workers', '2', '--workers', '3'],
      ['--workers', '2', '--bogus'],
    ]) {
      const r = await cli(argv, never);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/^sim: .*\n\nusage: npm run sim -- --world[\s\S]*--workers N/);
    }
    expect(takeWorkers(['--seed', '1', '--workers', '4', '--seeds', '9'])).toEqual({
      workers: 4,
      rest: ['--seed', '1', '--seeds', '9'],
    });
    expect((await cli(['--help'], never)).out).toMatch(/--workers N/);
  });
});
