import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, 'cli.ts');

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('npm run analysis (the CLI as a process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'analysis-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--json prints one object with load, delay, failure and collusion as JSON numbers', () => {
    const r = run(['--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['load', 'delay', 'failure', 'collusion', 'collusionParameters']);
    expect([j.load.receive.clientServer, j.load.receive.neo, j.load.receive.proposed]).toEqual([
      366, 2552, 1262,
    ]);
    expect(j.load.proposedBelowNeo.largestA).toBe(31);
    expect(j.delay.proposed).toBe(200);
    expect(j.failure.points).toHaveLength(30);
    expect(j.collusion).toHaveLength(32);
    const fig3 = j.collusion.find((p: { c: number; N_server: number }) => p.c === 10 && p.N_server === 15);
    expect(typeof fig3.probability).toBe('number');
    expect(fig3.probability).toBeGreaterThan(7e-18);
    expect(fig3.probability).toBeLessThan(8e-18);
  });

  it("prints the tables by default, with the paper's numbers", () => {
    const r = run([]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/a user receives per round\s+366 \(5\)\s+2552 \(6\)\s+1262 \(7\)/);
    expect(r.out).toMatch(/largest whole a = 31 \(paper: a < 31\)/);
    expect(r.out).toMatch(/C_250\(5000, c\)/);
    expect(r.out).toMatch(/\n\s+15\s+0\s+0\s+7\.496e-18\s+2\.072e-14\n/);
  });

  it('--svg writes both plots, and stdout stays JSON', () => {
    const r = run(['--json', '--svg', dir, '--colluders', '5,20']);
    expect(r.code).toBe(0);
    expect(() => JSON.parse(r.out)).not.toThrow();
    expect(r.err).toMatch(/wrote .*analysis-collusion\.svg/);
    const svg = readFileSync(join(dir, 'analysis-collusion.svg'), 'utf8');
    expect(svg.match(/<path class="curve"/g)).toHaveLength(2);
    expect(
      readFileSync(join(dir, 'analysis-failure.svg'), 'utf8').match(/<path class="curve"/g),
    ).toHaveLength(3);
  });

  it('exits 2 with a message and the usage, not a stack trace, on bad options', () => {
    for (const [args, message] of [
      [['--n-server', '4'], /--n-server: N_server must be odd/],
      [['--a', '-10'], /--a: expected a whole number >= 0/],
      [['--colluders', '5001'], /from 0 to N = 5000, got 5001/],
    ] as const) {
      const r = run([...args]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(message);
      expect(r.err).toMatch(/usage: npm run analysis/);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});
