import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../../server/testkit.js';
import { parseArgs, within } from './cli.js';

describe('bots CLI', () => {
  it('validates its options', () => {
    expect(parseArgs(['--count', '3', '--url', 'http://127.0.0.1:8080/'])).toMatchObject({ count: 3, rate: 2, serve: true });
    expect(parseArgs(['--count', '6', '--url', 'http://h:1/', '--site', 'all']).site).toBe('all');
    expect(parseArgs(['--count', '1', '--url', 'http://h:1', '--site', 'lake', '--rate', '0', '--no-serve'])).toMatchObject({
      site: 'lake',
      rate: 0,
      serve: false,
    });
    for (const bad of [
      [],
      ['--count', '0', '--url', 'http://h:1/'],
      ['--count', 'x', '--url', 'http://h:1/'],
      ['--count', '2'],
      ['--count', '2', '--url', 'ftp://h/'],
      ['--count', '2', '--url', 'http://h:1/', '--site', 'mars'],
      ['--count', '2', '--url', 'http://h:1/', '--rate', '99'],
      ['--count', '2', '--url', 'http://h:1/', '--bogus'],
      ['--count'],
      ['--count', '2', '--url', 'http://h:1/', '--per-process', '0'],
      ['--count', '2', '--url', 'http://h:1/', '--roam', '2'],
    ])
      expect(() => parseArgs(bad)).toThrow();
  });

  it('plays, prints a status line a second, and exits cleanly on SIGINT, writing --json', async () => {
    const s = await startServer();
    const file = join(mkdtempSync(join(tmpdir(), 'bots-')), 'sigint.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bots/cli.ts', '--count', '3', '--url', s.url, '--site', 'lake', '--json', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!/online 3\/3 .*actions [1-9]/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/online 3\/3 \(failed 0\) p2p 0 serving 0 actions [1-9]\d* .*sites lake:3/);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('closing sessions');
    const j = JSON.parse(readFileSync(file, 'utf8')) as { counts: { online: number }; timeToEnterMs: { count: number } };
    expect(j.counts.online).toBe(3);
    expect(j.timeToEnterMs.count).toBe(3);
  }, 30_000);

  it('runs bots in child processes of --per-process each, stops by itself after --seconds and writes --json', async () => {
    const s = await startServer({ p2p: { transferThreshold: 0 } });
    const file = join(mkdtempSync(join(tmpdir(), 'bots-')), 'run.json');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/bots/cli.ts', '--count', '5', '--per-process', '2', '--url', s.url, '--site', 'all', '--rate', '5', '--seconds', '3', '--json', file],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 25_000;
    while (!/online 5\/5 \(failed 0\)/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Spread over the sites in turn: the first five sites get one bot each.
    expect(out).toMatch(/online 5\/5 \(failed 0\).*sites (?=.*meadow:1)(?=.*town:1)(?=.*forest:1)(?=.*lake:1)(?=.*cave:1)/);
    expect(await exited).toBe(0);
    expect(out).toMatch(/delay p50 \d+ ms p99 \d+ ms/);
    // The summary adds up what the three processes measured.
    type Dist = { count: number; p50: number; p99: number; max: number };
    const j = JSON.parse(readFileSync(file, 'utf8')) as {
      version: number;
      counts: object;
      timeToEnterMs: Dist;
      actionDelayMs: Record<'all' | 'cs' | 'p2p', Dist>;
      samples: { cs: number[] };
      actions: { sent: { cs: number } };
      cpu: { processes: number; userMs: number };
      bytes: { admin: { framesSent: number; received: number } };
      injected: { spec: unknown };
      bySite: Record<string, { count: number; late: number }>;
      late: { count: number; kept: unknown[] };
      processes: { byProcess: Record<string, { bots: number; window: { seconds: number; eluMean: number; cpuMsPerS: number }; series: { rows: number[][] } }> };
    };
    expect(j.version).toBe(1);
    expect(j.counts).toMatchObject({ requested: 5, online: 5, failed: 0, enterPending: 0 });
    expect(j.timeToEnterMs.count).toBe(5);
    const d = j.actionDelayMs;
    expect(d.cs.count).toBeGreaterThan(20);
    expect(d.p2p.count).toBe(0);
    expect(d.all.count).toBe(d.cs.count);
    expect(d.cs.p50).toBeLessThanOrEqual(d.cs.p99);
    expect(d.cs.p99).toBeLessThanOrEqual(d.cs.max);
    expect(j.samples.cs).toHaveLength(d.cs.count);
    expect(j.actions.sent.cs).toBeGreaterThanOrEqual(d.cs.count);
    expect(j.cpu.processes).toBe(4);
    expect(j.cpu.userMs).toBeGreaterThan(0);
    expect(j.bytes.admin.framesSent).toBeGreaterThan(d.cs.count);
    expect(j.bytes.admin.received).toBeGreaterThan(0);
    expect(j.injected.spec).toBeNull();
    // Where the delays were: each bot's site counted, and no action waited over 2 T_timeslot on an idle server.
    expect(Object.keys(j.bySite).sort()).toEqual(['cave', 'forest', 'lake', 'meadow', 'town']);
    expect(Object.values(j.bySite).reduce((n, x) => n + x.count, 0)).toBe(d.cs.count);
    expect(j.late.kept).toHaveLength(j.late.count);
    // Each child's event loop, second by second: 2 + 2 + 1 bots, a busy share and CPU in the window.
    const procs = Object.values(j.processes.byProcess);
    expect(procs.map((p) => p.bots).sort()).toEqual([1, 2, 2]);
    for (const p of procs) {
      expect(p.window.seconds).toBeGreaterThan(1);
      expect(p.window.eluMean).toBeGreaterThan(0);
      expect(p.window.eluMean).toBeLessThan(1);
      expect(p.window.cpuMsPerS).toBeGreaterThan(0);
      expect(p.series.rows.length).toBeGreaterThan(2);
    }
    // Every session closed: nobody stays on the server.
    const deadline2 = Date.now() + 5000;
    let online = -1;
    while (Date.now() < deadline2) {
      const r = (await (await fetch(`${s.base}/api/sites`)).json()) as Array<{ users: number }>;
      online = r.reduce((n, x) => n + x.users, 0);
      if (online === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(online).toBe(0);
  }, 40_000);

  it('gives up a start that does not end in time (so --seconds always comes)', async () => {
    await expect(within(new Promise(() => undefined), 20)).rejects.toThrow('not on a site after 0.02 s');
    await expect(within(Promise.resolve(7), 20)).resolves.toBe(7);
  });

  it('exits 2 with its usage on bad options', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bots/cli.ts', '--count', 'many'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toContain('--count must be an integer');
    expect(err).toContain('usage: npm run bots');
  });
});
