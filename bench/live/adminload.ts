/**
 * `npx tsx bench/live/adminload.ts [--bots 25] [--runs 1] [--warmup 8] [--measure 15] [--idle 10] [--json FILE]`:
 * what the admin receives and sends, per WebSocket message type and per player-second, with the
 * offload section's layout (`spread`: bots over all six sites), all client-server and all sites
 * P2P, the modes alternated `runs` times. Reads `/api/admin`'s cumulative `admin.messages`
 * (server/metrics.ts) at the window's two ends, like the offload section reads the totals.
 * Before the bots start, each admin is measured `--idle` seconds with no player (its fixed floor:
 * timers, V8's own threads); the report gives, beside the raw CPU per player-second, the marginal
 * one (the window's CPU less that floor's share), never instead of it.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';
import { z } from 'zod';
import { adminWindow, p2pSites, parseAdminView, playersOnline, type AdminWindow } from './admin.js';
import { sleep, startAdmin, startBots } from './proc.js';
import { botArgs } from './scenario.js';
import { spread } from './section.js';
import { fmt, table } from './stats.js';

const Count = z.object({
  framesIn: z.number().finite().nonnegative(),
  bytesIn: z.number().finite().nonnegative(),
  framesOut: z.number().finite().nonnegative(),
  bytesOut: z.number().finite().nonnegative(),
});
export type MessageCount = z.infer<typeof Count>;
const Messages = z.object({ admin: z.object({ messages: z.record(z.string().max(64), Count).optional() }) });

/**
 * The per-type counters of an `/api/admin` answer (another process's: validated); empty from an
 * admin older than them (c05b6ba), so the totals of an older commit can be measured alongside.
 */
export function parseMessages(raw: unknown): Record<string, MessageCount> {
  const r = Messages.safeParse(raw);
  if (!r.success) throw new Error(`/api/admin has no admin counters: ${r.error.message}`);
  return r.data.admin.messages ?? {};
}

export interface KindRate {
  kind: string;
  /** Per player-second over the window. */
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
}

/** Each kind's frames and payload bytes between two snapshots, per player-second, most bytes first. */
export function kindRates(a: Record<string, MessageCount>, b: Record<string, MessageCount>, playerSeconds: number): KindRate[] {
  if (!(playerSeconds > 0)) throw new Error(`no player-seconds in the window (${playerSeconds})`);
  const zero: MessageCount = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0 };
  const rows: KindRate[] = [];
  for (const [kind, end] of Object.entries(b)) {
    const start = a[kind] ?? zero;
    const d = (k: keyof MessageCount): number => (end[k] - start[k]) / playerSeconds;
    const row = { kind, framesIn: d('framesIn'), bytesIn: d('bytesIn'), framesOut: d('framesOut'), bytesOut: d('bytesOut') };
    if (row.framesIn > 0 || row.framesOut > 0) rows.push(row);
  }
  return rows.sort((x, y) => y.bytesIn + y.bytesOut - (x.bytesIn + x.bytesOut) || x.kind.localeCompare(y.kind));
}

export interface Options {
  bots: number;
  runs: number;
  warmupS: number;
  measureS: number;
  /** Seconds the admin is measured with no player before the bots start (0: not measured). */
  idleS: number;
  json: string | null;
}

/** The window's CPU less what the admin spends with no player at all, per player-second. */
export function marginalCpu(w: Pick<AdminWindow, 'cpuMs' | 'seconds' | 'playerSeconds'>, idleMsPerS: number): number {
  return (w.cpuMs - idleMsPerS * w.seconds) / w.playerSeconds;
}

export function parseOptions(argv: readonly string[]): Options {
  const o: Options = { bots: 25, runs: 1, warmupS: 8, measureS: 15, idleS: 10, json: null };
  const int = (k: string, v: string | undefined, lo: number, hi: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${k} needs an integer in ${lo}..${hi}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (k === '--bots') o.bots = int(k, v, 4, 400);
    else if (k === '--runs') o.runs = int(k, v, 1, 10);
    else if (k === '--warmup') o.warmupS = int(k, v, 0, 600);
    else if (k === '--measure') o.measureS = int(k, v, 1, 600);
    else if (k === '--idle') o.idleS = int(k, v, 0, 600);
    else if (k === '--json') {
      if (v === undefined || v.startsWith('--') || v.length > 500) throw new Error('--json needs a file');
      o.json = v;
    } else throw new Error(`unknown option ${k} (--bots --runs --warmup --measure --idle --json)`);
  }
  return o;
}

interface RunResult {
  mode: 'cs' | 'p2p';
  run: number;
  players: number;
  p2pSites: number;
  admin: AdminWindow;
  /** The admin's CPU split, ms per player-second. */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** The same admin with no player, before the bots: CPU ms per second (null: not measured). */
  idleCpuMsPerS: number | null;
  /** CPU ms per player-second less the idle floor's share (null: not measured). */
  marginalCpuMs: number | null;
  kinds: KindRate[];
}

async function measure(o: Options, mode: 'cs' | 'p2p', run: number, log: (l: string) => void): Promise<RunResult> {
  const s = spread({ name: `adminload-${o.bots}-${mode}`, count: o.bots, p2p: mode === 'p2p', nServer: 3, T_timeslot: 100, warmupS: o.warmupS, measureS: o.measureS });
  const admin = await startAdmin(s.admin);
  const group = s.groups[0];
  if (!group) throw new Error('spread has no bot group');
  const idleCpuMsPerS = o.idleS > 0 ? await idleCpu(admin, o.idleS) : null;
  const bots = startBots(botArgs(group, admin.url, {}, s), s.name);
  try {
    const started = Date.now();
    let v = parseAdminView((await admin.view()).json);
    while ((playersOnline(v) < o.bots || p2pSites(v).length < s.expectP2P) && Date.now() < started + s.readyTimeoutS * 1000 && bots.running()) {
      await sleep(250);
      v = parseAdminView((await admin.view()).json);
    }
    log(`  ${s.name} #${run}: ${playersOnline(v)}/${o.bots} players, ${p2pSites(v).length} P2P sites after ${((Date.now() - started) / 1000).toFixed(0)} s`);
    // As a scenario does: the window opens at readyGuessS + warmupS after the start, and no sooner than warmupS after ready.
    await sleep(Math.max(started + (s.readyGuessS + s.warmupS) * 1000, Date.now() + s.warmupS * 1000) - Date.now());
    const a = await admin.view();
    await sleep(s.measureS * 1000);
    const b = await admin.view();
    const va = parseAdminView(a.json);
    const vb = parseAdminView(b.json);
    if (!va.admin || !vb.admin) throw new Error('/api/admin has no admin counters');
    // The first answer's body went out inside the window: it is the bench's, not the players'.
    const w = adminWindow(va.admin, { ...vb.admin, bytesOut: vb.admin.bytesOut - a.bodyBytes });
    const cpuUserMs = (vb.admin.cpuUserMs - va.admin.cpuUserMs) / w.playerSeconds;
    const cpuSystemMs = (vb.admin.cpuSystemMs - va.admin.cpuSystemMs) / w.playerSeconds;
    const marginalCpuMs = idleCpuMsPerS === null ? null : marginalCpu(w, idleCpuMsPerS);
    return { mode, run, players: playersOnline(vb), p2pSites: p2pSites(vb).length, admin: w, cpuUserMs, cpuSystemMs, idleCpuMsPerS, marginalCpuMs, kinds: kindRates(parseMessages(a.json), parseMessages(b.json), w.playerSeconds) };
  } finally {
    bots.stop();
    await bots.done.catch(() => undefined);
    await admin.stop();
  }
}

/** The admin's CPU ms per second with no player, over `seconds` (after a few for its start to settle). */
async function idleCpu(admin: Awaited<ReturnType<typeof startAdmin>>, seconds: number): Promise<number> {
  await sleep(3000);
  const a = parseAdminView((await admin.view()).json).admin;
  await sleep(seconds * 1000);
  const b = parseAdminView((await admin.view()).json).admin;
  if (!a || !b) throw new Error('/api/admin has no admin counters');
  return (b.cpuUserMs + b.cpuSystemMs - a.cpuUserMs - a.cpuSystemMs) / ((b.at - a.at) / 1000);
}

function report(r: RunResult): string {
  const sum = (k: keyof MessageCount): number => r.kinds.reduce((n, x) => n + x[k], 0);
  return [
    `${r.mode} #${r.run}: ${r.players} players, ${r.p2pSites} P2P sites; per player-second: admin CPU ${fmt(r.admin.cpuMsPerPlayerSecond, 3)} ms (user ${fmt(r.cpuUserMs, 3)}, system ${fmt(r.cpuSystemMs, 3)}${r.marginalCpuMs === null || r.idleCpuMsPerS === null ? '' : `; ${fmt(r.marginalCpuMs, 3)} above the idle floor of ${fmt(r.idleCpuMsPerS, 2)} ms/s`}), socket bytes in ${fmt(r.admin.bytesInPerPlayerSecond, 0)} / out ${fmt(r.admin.bytesOutPerPlayerSecond, 0)}, WebSocket frames in ${fmt(sum('framesIn'), 2)} / out ${fmt(sum('framesOut'), 2)}, their payloads ${fmt(sum('bytesIn'), 0)} / ${fmt(sum('bytesOut'), 0)} B`,
    table(
      ['type', 'frames in', 'B in', 'frames out', 'B out'],
      r.kinds.map((k) => [k.kind, fmt(k.framesIn, 3), fmt(k.bytesIn, 1), fmt(k.framesOut, 3), fmt(k.bytesOut, 1)]),
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  // The admin and bots run from the working directory: another commit's tree (git archive) can be measured alongside.
  let commit = `tree ${process.cwd()}`;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout: the directory names it
  }
  const log = (l: string): void => console.log(l);
  log(`adminload: ${o.bots} bots, ${o.runs} run(s) of each mode alternated, window ${o.measureS} s after ${o.warmupS} s, commit ${commit}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const results: RunResult[] = [];
  for (let run = 1; run <= o.runs; run++)
    for (const mode of ['cs', 'p2p'] as const) {
      const r = await measure(o, mode, run, log);
      results.push(r);
      log(report(r));
    }
  const mean = (mode: 'cs' | 'p2p', f: (w: AdminWindow) => number): number => {
    const xs = results.filter((r) => r.mode === mode).map((r) => f(r.admin));
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const cpu = mean('p2p', (w) => w.cpuMsPerPlayerSecond) / mean('cs', (w) => w.cpuMsPerPlayerSecond);
  const bytes = mean('p2p', (w) => w.bytesInPerPlayerSecond + w.bytesOutPerPlayerSecond) / mean('cs', (w) => w.bytesInPerPlayerSecond + w.bytesOutPerPlayerSecond);
  const marginal = (mode: 'cs' | 'p2p'): number | null => {
    const xs = results.filter((r) => r.mode === mode).map((r) => r.marginalCpuMs);
    return xs.every((x): x is number => x !== null) ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  };
  const mp2p = marginal('p2p');
  const mcs = marginal('cs');
  const marginalCpuRatio = mp2p !== null && mcs !== null ? mp2p / mcs : null;
  log(`P2P/CS (means over runs): CPU ${fmt(cpu, 2)}${marginalCpuRatio === null ? '' : ` (above the idle floor: ${fmt(marginalCpuRatio, 2)})`}, bytes ${fmt(bytes, 2)}; load after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (o.json) writeFileSync(o.json, JSON.stringify({ commit, options: o, loadavg: loadavg(), results, ratios: { cpu, bytes, marginalCpu: marginalCpuRatio } }, null, 2));
}

if (process.argv[1]?.endsWith('adminload.ts'))
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  });
