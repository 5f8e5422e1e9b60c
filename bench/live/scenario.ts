/**
 * One measured scenario: a fresh admin with the given settings, bot groups (one process each)
 * started together, then: wait until every bot is on a site and the sites that should be P2P are,
 * a warm-up, an admin snapshot, the measured window, a second snapshot; the bots are ended then
 * (SIGTERM) and write their JSON. The admin's figures are the diff of the two snapshots.
 */
import { cpus, loadavg } from 'node:os';
import { adminWindow, p2pSites, parseAdminView, playersOnline, type AdminView, type AdminWindow } from './admin.js';
import { parseBotSummary } from './botsJson.js';
import type { BotFigures } from './figures.js';
import { procCpuMs, procTreeCpuMs, sleep, startAdmin, startBots, type AdminSettings } from './proc.js';
import { machineJiffies, parseBotLoad, type BotLoad } from './scaleLoad.js';

export interface BotGroup {
  label: string;
  count: number;
  /** A site id, `all` (spread over the sites), or unset (the admin's default). */
  site?: string;
  /** Actions per second per bot. */
  rate: number;
  serve: boolean;
  /** Bots per process (`--per-process`; the bots' default 40 when unset). */
  perProcess?: number;
}

/** Test-only latency, loss and link failures the bots inject where they send (same for every group). */
export interface Injection {
  cu?: number;
  su?: number;
  ss?: number;
  jitter?: number;
  loss?: number;
  linkDown?: number;
}

/** Something started after the admin and before the bots (browser tabs), read at the window's end. */
export type Setup = (adminUrl: string) => Promise<{ info(): Promise<unknown>; stop(): Promise<void> }>;

export interface Scenario {
  name: string;
  admin: AdminSettings;
  groups: BotGroup[];
  injection?: Injection;
  warmupS: number;
  measureS: number;
  /** Sites that must be P2P before the window opens (0 for client-server runs). */
  expectP2P: number;
  /** How long to wait for every bot and every expected P2P site. */
  readyTimeoutS: number;
  /**
   * How long the bots usually take to be in (and the sites P2P). The bots count their warm-up from
   * their start (`--warmup`), so the window opens at readyGuessS + warmupS after it, for the bots
   * and the admin alike; a run that gets ready later still gets its warm-up before the admin's
   * window, and is flagged (`ready.warm` false: the bots' window began earlier).
   */
  readyGuessS: number;
  setup?: Setup;
  /** Players the setup brings (browser tabs), besides the bots. */
  extraPlayers?: number;
}

export interface ScenarioResult {
  name: string;
  settings: AdminSettings;
  injection: Injection;
  groups: Array<{ label: string; args: string[]; figures: BotFigures; load: BotLoad | null }>;
  /** Players online and P2P sites when the window opened, and how long it took to get there. */
  ready: { players: number; requested: number; p2pSites: string[]; afterS: number; reached: boolean; warm: boolean };
  p2pSitesAtEnd: string[];
  admin: AdminWindow;
  /**
   * The players' machines: CPU ms of every bot process (each group's and the children it forks;
   * every thread, libdatachannel's included) over the admin's window, and per player-second of it.
   */
  bots: { cpuMs: number; cpuMsPerPlayerSecond: number };
  /**
   * The whole machine over the admin's window (/proc/stat; NaN elsewhere): cores, cores busy, and
   * of them the bench's (every bot process and the admin); the rest is other work on the machine.
   */
  machine: { cores: number; busyCores: number; benchCores: number; loadAverage: number };
  /** Where the admin's counters came from: its `admin` object, or /proc for CPU only. */
  adminSource: 'api' | 'proc';
  /** What the setup reported at the window's end. */
  setupInfo?: unknown;
  wallS: number;
}

export function botArgs(g: BotGroup, url: string, inj: Injection, s: Scenario): string[] {
  const args = ['--count', String(g.count), '--url', `${url}/`, '--rate', String(g.rate)];
  if (g.site) args.push('--site', g.site);
  if (!g.serve) args.push('--no-serve');
  if (g.perProcess !== undefined) args.push('--per-process', String(g.perProcess));
  // No --seconds: the bench ends them (SIGTERM) when its window closes, so both windows end together.
  args.push('--warmup', String(s.readyGuessS + s.warmupS));
  const flag: Array<[keyof Injection, string]> = [
    ['cu', '--latency-cu'],
    ['su', '--latency-su'],
    ['ss', '--latency-ss'],
    ['jitter', '--jitter'],
    ['loss', '--loss'],
    ['linkDown', '--link-down'],
  ];
  for (const [k, name] of flag) {
    const v = inj[k];
    if (v !== undefined && v > 0) args.push(name, String(v));
  }
  return args;
}

/** Cumulative counters from the admin, or CPU from /proc and zero bytes when it has no `admin` object. */
function counters(v: AdminView, pid: number, t: number): { c: NonNullable<AdminView['admin']>; source: 'api' | 'proc' } {
  if (v.admin) return { c: v.admin, source: 'api' };
  const cpu = procCpuMs(pid) ?? { user: NaN, system: NaN };
  return {
    c: { cpuUserMs: cpu.user, cpuSystemMs: cpu.system, bytesIn: NaN, bytesOut: NaN, playerSeconds: 0, at: t },
    source: 'proc',
  };
}

export async function runScenario(s: Scenario, log: (line: string) => void): Promise<ScenarioResult> {
  const t0 = Date.now();
  const admin = await startAdmin(s.admin);
  const inj = s.injection ?? {};
  let extra: Awaited<ReturnType<Setup>> | null = null;
  try {
    if (s.setup) extra = await s.setup(admin.url);
  } catch (e) {
    await admin.stop();
    throw new Error(`${s.name}: setup failed: ${(e as Error).message}`);
  }
  const botsStarted = Date.now();
  const runs = s.groups.map((g) => {
    const args = botArgs(g, admin.url, inj, s);
    return { g, args, run: startBots(args, `${s.name}-${g.label}`) };
  });
  const windowStart = botsStarted + (s.readyGuessS + s.warmupS) * 1000;
  const requested = s.groups.reduce((n, g) => n + g.count, s.extraPlayers ?? 0);
  try {
    let lastBody = 0;
    const view = async (): Promise<AdminView> => {
      const r = await admin.view();
      lastBody = r.bodyBytes;
      return parseAdminView(r.json);
    };
    let v = await view();
    const until = botsStarted + s.readyTimeoutS * 1000;
    while (
      (playersOnline(v) < requested || p2pSites(v).length < s.expectP2P) &&
      Date.now() < until &&
      runs.some((r) => r.run.running())
    ) {
      await sleep(250);
      v = await view();
    }
    const ready = {
      players: playersOnline(v),
      requested,
      p2pSites: p2pSites(v),
      afterS: (Date.now() - t0) / 1000,
      reached: playersOnline(v) >= requested && p2pSites(v).length >= s.expectP2P,
      warm: Date.now() + s.warmupS * 1000 <= windowStart,
    };
    log(
      `  ${s.name}: ${ready.players}/${requested} players, ${ready.p2pSites.length} P2P sites after ${ready.afterS.toFixed(0)} s` +
        (ready.reached ? '' : ' (not all: measuring what there is)') +
        (ready.warm ? '' : ' (later than the bots\' warm-up: their window opens before the admin\'s)'),
    );
    // A late start still gets its warm-up (and its P2P samples); the bots' window then began
    // earlier than the admin's, which `ready.warm` false records.
    const readyAt = Date.now();
    await sleep(Math.max(0, Math.max(windowStart, readyAt + s.warmupS * 1000) - Date.now()));
    // The window: two snapshots and no polling between them (each poll adds to the admin's bytes),
    // but for the /proc fallback, which integrates the players online itself.
    const a = counters(await view(), admin.pid, Date.now());
    const botPids = runs.map((r) => r.run.pid);
    const botsCpuA = procTreeCpuMs(botPids);
    const adminCpuA = procCpuMs(admin.pid);
    const jiffiesA = machineJiffies();
    const windowAt = Date.now();
    // A's answer is written after its counters were read: it is not the players' traffic.
    const aBody = lastBody;
    let fallbackPlayerMs = 0;
    const windowEnd = Date.now() + s.measureS * 1000;
    if (a.source === 'api') await sleep(s.measureS * 1000);
    let last = Date.now();
    let players = playersOnline(v);
    while (a.source === 'proc' && Date.now() < windowEnd) {
      await sleep(Math.min(1000, windowEnd - Date.now()));
      const now = Date.now();
      fallbackPlayerMs += players * (now - last);
      last = now;
      v = await view();
      players = playersOnline(v);
    }
    if (a.source === 'api') v = await view();
    const b = counters(v, admin.pid, Date.now());
    const botsCpuMs = procTreeCpuMs(botPids) - botsCpuA;
    const adminCpuB = procCpuMs(admin.pid);
    const jiffiesB = machineJiffies();
    const windowMs = Date.now() - windowAt;
    const cores = cpus().length;
    const adminCpuMs = adminCpuA && adminCpuB ? adminCpuB.user + adminCpuB.system - adminCpuA.user - adminCpuA.system : NaN;
    const machine = {
      cores,
      busyCores: jiffiesA && jiffiesB ? (cores * (jiffiesB.busy - jiffiesA.busy)) / (jiffiesB.total - jiffiesA.total) : NaN,
      benchCores: (botsCpuMs + adminCpuMs) / windowMs,
      loadAverage: loadavg()[0] ?? NaN,
    };
    if (a.source === 'proc') b.c.playerSeconds = fallbackPlayerMs / 1000;
    else b.c.bytesOut -= aBody;
    const p2pSitesAtEnd = p2pSites(v);
    const setupInfo = extra ? await extra.info() : undefined;
    for (const r of runs) r.run.stop();
    const groups = [];
    for (const r of runs) {
      const raw = await r.run.done;
      groups.push({ label: r.g.label, args: r.args, figures: parseBotSummary(raw, s.admin.T_timeslot), load: parseBotLoad(raw) });
    }
    const adminW = adminWindow(a.c, b.c);
    return {
      name: s.name,
      settings: s.admin,
      injection: inj,
      groups,
      ready,
      p2pSitesAtEnd,
      admin: adminW,
      bots: { cpuMs: botsCpuMs, cpuMsPerPlayerSecond: botsCpuMs / adminW.playerSeconds },
      machine,
      adminSource: a.source,
      ...(setupInfo !== undefined ? { setupInfo } : {}),
      wallS: (Date.now() - t0) / 1000,
    };
  } catch (e) {
    for (const r of runs) r.run.stop();
    const out = runs.map((r) => `--- bots ${r.g.label}:\n${r.run.output()}`).join('\n');
    throw new Error(`${s.name}: ${(e as Error).message}\n--- admin:\n${admin.output()}\n${out}`);
  } finally {
    for (const r of runs) r.run.stop();
    await Promise.allSettled(runs.map((r) => r.run.done));
    await extra?.stop();
    await admin.stop();
  }
}
