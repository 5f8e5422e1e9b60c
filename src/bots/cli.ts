/**
 * `npm run bots -- --count N --url URL [options]` (args.ts lists them): N headless players
 * (guests) against a running Administration Server. One status line a second; Ctrl-C (or
 * `--seconds S` after the last bot is online or gave up) closes every session cleanly and writes
 * the `--json` summary. Bots run in child processes of at most K each (`--per-process`, default
 * 40), so a busy machine's cores share them (one Node event loop per group); each process sends
 * the parent what it measured every second (tally.ts) and the parent adds it up (totals.ts). The
 * server admits MMO_GUEST_BURST guests per address at once (default 20) and MMO_MAX_CONNECTIONS_PER_IP
 * open connections per address (default 64): start it with larger values for many bots from one machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { linkSpecs, parseArgs, siteFor, USAGE, type Args } from './args.js';
import { Bot } from './bot.js';
import { LoopMonitor } from './loop.js';
import { quantile } from './stats.js';
import { Recorder, type Tally } from './tally.js';
import { Totals, summary, type CpuReport, type ProcessSecond } from './totals.js';

export { parseArgs } from './args.js';

/** What a group of bots reports each second. */
interface Status {
  online: number;
  failed: number;
  /** Bots whose start is over, entered or failed. */
  settled: number;
  p2p: number;
  serving: number;
  actions: number;
  sites: Record<string, number>;
  /** T_timeslot the admin announced, once a bot knows it. */
  roundMs: number | null;
}

interface Report {
  status: Status;
  tally: Tally;
  cpu: CpuReport;
  /** This process's event loop over the last second. */
  loop: ProcessSecond;
}

/** Bots starting at once in one process (200 simultaneous handshakes would all time out). */
const STARTS_IN_FLIGHT = 10;

/** A bot not on a site this long after its start gave up (so `--seconds` always comes). */
export const START_TIMEOUT_MS = 60_000;

/** Rejects when `p` takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`not on a site after ${ms / 1000} s`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}

const cpuNow = (): CpuReport => {
  const c = process.cpuUsage();
  return { userMs: c.user / 1000, systemMs: c.system / 1000, wallMs: performance.now() };
};

/**
 * Starts `args.count` bots here, `STARTS_IN_FLIGHT` at a time, in the background: the reports
 * count them as they come in.
 */
function runBots(args: Args): { report(): Report; stop(): void } {
  const rec = new Recorder();
  const monitor = new LoopMonitor();
  const specs = linkSpecs(args);
  const bots: Bot[] = [];
  let failed = 0;
  let settled = 0;
  let stopped = false;
  let last = performance.now();
  // Ten starts in flight at a time, the next one as soon as one is in: in batches of ten that
  // waited for their slowest, one bot slow to enter a P2P site held up every bot after it.
  let next = 0;
  const starter = async (): Promise<void> => {
    while (!stopped && next < args.count) {
      const k = next++;
      // What the bot logged last, printed if it fails to start (where it waited).
      const trail: string[] = [];
      const b = new Bot({
        url: args.url,
        site: siteFor(args.site, args.offset + k, args.total),
        rate: args.rate,
        serve: args.serve,
        roam: args.roam,
        recorder: rec,
        linkSpecs: specs,
        ...(args.cheat ? { cheat: args.cheat } : {}),
        log: (event, fields) => {
          trail.push(`${(performance.now() / 1000).toFixed(1)} ${String(event)} ${JSON.stringify(fields)}`.slice(0, 300));
          if (trail.length > 20) trail.shift();
        },
      });
      try {
        await within(b.start(), START_TIMEOUT_MS);
        if (stopped) b.close();
        else bots.push(b);
      } catch (e) {
        failed++;
        const st = b.state;
        const where = `site ${st.site} mode ${st.mode} view ${st.view !== null} servers ${JSON.stringify(b.conn?.node?.userHost?.serverStates() ?? null)}`;
        process.stderr.write(`bot failed to start: ${String(e)}; ${where}\n  ${trail.join('\n  ')}\n`);
        b.close();
      }
      settled++;
    }
  };
  void Promise.all(Array.from({ length: Math.min(STARTS_IN_FLIGHT, args.count) }, starter));
  return {
    report() {
      const now = performance.now();
      const secs = (now - last) / 1000;
      last = now;
      const online = bots.filter((b) => !b.ended);
      const sites: Record<string, number> = {};
      const servingSites: string[] = [];
      let roundMs: number | null = null;
      for (const b of online) {
        b.sweep(now);
        const s = b.state;
        if (s.serving !== null) servingSites.push(s.serving);
        rec.botSecond(b.role, s.mode, secs);
        if (s.site) sites[s.site] = (sites[s.site] ?? 0) + 1;
        roundMs ??= s.site ? (b.session?.node?.configFor(s.site)?.T_timeslot ?? null) : null;
      }
      return {
        status: {
          online: online.length,
          failed: failed + bots.length - online.length,
          settled,
          p2p: online.filter((b) => b.state.mode === 'p2p').length,
          serving: online.filter((b) => b.state.serving !== null).length,
          actions: bots.reduce((n, b) => n + b.actions, 0),
          sites,
          roundMs,
        },
        tally: rec.flush(),
        cpu: cpuNow(),
        loop: { ...monitor.sample(), bots: online.length, servingSites },
      };
    },
    stop() {
      stopped = true;
      monitor.stop();
      for (const b of bots) b.close();
    },
  };
}

/** A child: runs its share and reports to the parent each second; on 'stop' a last report, then it closes. */
function worker(args: Args): void {
  const group = runBots(args);
  const report = setInterval(() => process.send?.(group.report()), 1000);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(report);
    const done = (): void => {
      group.stop();
      setTimeout(() => process.exit(0), 300).unref();
    };
    if (process.connected) process.send?.(group.report(), done);
    else done();
  };
  process.on('message', (m) => m === 'stop' && stop());
  process.on('disconnect', stop);
  process.on('SIGINT', () => undefined); // the parent decides (Ctrl-C reaches the whole group)
}

const DELAY_WINDOW_S = 10;

function main(): void {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.worker) return worker(args);
  const a = args;
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const totals = new Totals();
  const parts = new Map<string, Status>();
  /** Action delays of the last seconds, for the status line. */
  const recent: number[][] = [];
  let windowFrom = 0;
  let warm = a.warmup === 0;
  const onReport = (key: string, r: Report): void => {
    parts.set(key, r.status);
    totals.add(r.tally, warm);
    totals.loop(key, r.loop, elapsed(), warm);
    totals.cpuReport(key, r.cpu);
    recent.push([...r.tally.delay.cs.sample, ...r.tally.delay.p2p.sample]);
  };
  let stopGroups: () => void;
  let children: ChildProcess[] = [];
  let local: ReturnType<typeof runBots> | null = null;
  if (a.count <= a.perProcess) {
    local = runBots(a);
    stopGroups = () => local?.stop();
  } else {
    const passOn = process.argv.slice(2);
    for (let off = 0, k = 0; off < a.count; off += a.perProcess, k++) {
      const n = Math.min(a.perProcess, a.count - off);
      const rest = [...passOn, '--worker', '--count', String(n), '--offset', String(off), '--total', String(a.count)];
      // A profiled run (bench/live/threads.ts --prof) profiles the groups too.
      const prof = process.execArgv.filter((x) => x.startsWith('--cpu-prof'));
      const child = fork(fileURLToPath(import.meta.url), rest, { execArgv: [...prof, '--import', 'tsx'] });
      const key = `child${k}`;
      child.on('message', (m: Report) => m && typeof m === 'object' && 'tally' in m && onReport(key, m));
      children.push(child);
    }
    stopGroups = () => {
      for (const c of children) if (c.connected) c.send('stop');
    };
  }
  if (a.warmup > 0)
    setTimeout(() => {
      warm = true;
      windowFrom = elapsed();
      totals.cpuBaseline();
    }, a.warmup * 1000).unref();

  let endAt: number | null = null;
  const tick = (): void => {
    if (local) onReport('local', local.report());
    else totals.cpuReport('parent', cpuNow());
    while (recent.length > DELAY_WINDOW_S) recent.shift();
    const st = [...parts.values()];
    process.stdout.write(line(a.count, elapsed() / 1000, st, recent.flat().sort((x, y) => x - y)));
    const settled = st.reduce((n, s) => n + s.settled, 0);
    if (a.seconds !== null && endAt === null && settled >= a.count) {
      endAt = elapsed() + a.seconds * 1000;
      setTimeout(() => void finish(), a.seconds * 1000);
    }
  };
  const status = setInterval(tick, 1000);

  let finishing = false;
  const finish = async (): Promise<void> => {
    if (finishing) return;
    finishing = true;
    clearInterval(status);
    process.stdout.write('closing sessions...\n');
    if (local) onReport('local', local.report());
    const exited = children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : c.once('exit', () => resolve()))));
    stopGroups();
    // Children send a last report before they exit; one that hangs is not waited for long.
    await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 5000))]);
    if (!local) totals.cpuReport('parent', cpuNow());
    if (a.json) writeSummary(a, totals, [...parts.values()], { fromMs: windowFrom, toMs: elapsed() }, performance.timeOrigin + started);
    children = [];
    setTimeout(() => process.exit(0), local ? 800 : 0).unref();
  };
  process.on('SIGINT', () => void finish());
  process.on('SIGTERM', () => void finish());
}

function writeSummary(a: Args, totals: Totals, st: Status[], window: { fromMs: number; toMs: number }, startedAt: number): void {
  const sum = (f: (s: Status) => number): number => st.reduce((n, s) => n + f(s), 0);
  const { worker: _w, offset: _o, total: _t, ...args } = a;
  const json = summary({
    args,
    counts: {
      requested: a.count,
      online: sum((s) => s.online),
      failed: sum((s) => s.failed),
      p2pPlaying: sum((s) => s.p2p),
      serving: sum((s) => s.serving),
      enterPending: a.count - sum((s) => s.settled),
    },
    totals,
    window,
    startedAt,
    roundMs: st.find((s) => s.roundMs !== null)?.roundMs ?? 100,
    linkSpec: linkSpecs(a),
  });
  // Written whole or not at all: a reader never sees half a file.
  const tmp = `${a.json}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(json) + '\n');
  renameSync(tmp, a.json ?? tmp);
  process.stdout.write(`summary written to ${a.json}\n`);
}

function line(total: number, elapsedS: number, parts: Status[], delays: number[]): string {
  const sum = (f: (s: Status) => number): number => parts.reduce((n, s) => n + f(s), 0);
  const sites = new Map<string, number>();
  for (const s of parts) for (const [k, v] of Object.entries(s.sites)) sites.set(k, (sites.get(k) ?? 0) + v);
  const ms = (q: number): string => (quantile(delays, q) ?? 0).toFixed(0);
  return (
    `${elapsedS.toFixed(0)}s online ${sum((s) => s.online)}/${total} (failed ${sum((s) => s.failed)}) ` +
    `p2p ${sum((s) => s.p2p)} serving ${sum((s) => s.serving)} actions ${sum((s) => s.actions)} ` +
    `delay ${delays.length ? `p50 ${ms(0.5)} ms p99 ${ms(0.99)} ms` : '-'} sites ${[...sites].map(([s, n]) => `${s}:${n}`).join(' ')}\n`
  );
}

if (process.argv[1] && /cli\.ts$/.test(process.argv[1])) main();
