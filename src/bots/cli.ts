/**
 * `npm run bots -- --count N --url URL [--site S|all] [--rate R] [--no-serve] [--per-process K]`:
 * N headless players (guests) against a running Administration Server. One status line a second;
 * Ctrl-C closes every session cleanly. Bots run in child processes of at most K each (default 40),
 * so a busy machine's cores share them (one Node event loop per group). The server admits
 * MMO_GUEST_BURST guests per address at once (default 20): start it with a larger value for many
 * bots from one machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SITE_IDS } from '../game/world.js';
import { Bot } from './bot.js';

interface Args {
  count: number;
  url: string;
  site: string | undefined;
  rate: number;
  serve: boolean;
  perProcess: number;
  /** Internal: this process is a child running bots `offset`..`offset + count - 1`. */
  worker: boolean;
  offset: number;
}

const USAGE =
  'usage: npm run bots -- --count N --url http://127.0.0.1:8080/ [--site SITE|all] [--rate ACTIONS_PER_S] [--no-serve] [--per-process K]';

export function parseArgs(argv: readonly string[]): Args {
  const a: Args = { count: 0, url: '', site: undefined, rate: 2, serve: true, perProcess: 40, worker: false, offset: 0 };
  const int = (k: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${k} must be an integer in ${min}..${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    const need = (): string => {
      if (v === undefined || v.startsWith('--')) throw new Error(`${k} needs a value`);
      i++;
      return v;
    };
    if (k === '--count') a.count = int(k, need(), 1, 1000);
    else if (k === '--url') {
      const u = need();
      if (!/^https?:\/\/[^/\s]+\/?$/.test(u)) throw new Error('--url must look like http://host:port/');
      a.url = u;
    } else if (k === '--site') {
      const s = need();
      if (s !== 'all' && !SITE_IDS.includes(s)) throw new Error(`--site must be all or one of ${SITE_IDS.join(', ')}`);
      a.site = s;
    } else if (k === '--rate') {
      const r = Number(need());
      if (!Number.isFinite(r) || r < 0 || r > 20) throw new Error('--rate must be a number in 0..20');
      a.rate = r;
    } else if (k === '--per-process') a.perProcess = int(k, need(), 1, 200);
    else if (k === '--no-serve') a.serve = false;
    else if (k === '--worker') a.worker = true;
    else if (k === '--offset') a.offset = int(k, need(), 0, 1000);
    else throw new Error(`unknown option ${k}`);
  }
  if (a.count === 0 || a.url === '') throw new Error('--count and --url are required');
  return a;
}

/** What a group of bots reports each second. */
interface Status {
  online: number;
  failed: number;
  p2p: number;
  serving: number;
  actions: number;
  delaySum: number;
  delays: number;
  sites: Record<string, number>;
}

/**
 * Starts `args.count` bots here, a few at a time (200 simultaneous handshakes would all time out),
 * in the background: the status counts them as they come in.
 */
function runBots(args: Args): { status(): Status; stop(): void } {
  const bots: Bot[] = [];
  let failed = 0;
  let stopped = false;
  // --site all: bots spread over the sites in turn (several sites get busy, with peers elsewhere to serve them).
  const siteOf = (k: number): string | undefined => (args.site === 'all' ? SITE_IDS[k % SITE_IDS.length] : args.site);
  void (async () => {
    for (let i = 0; i < args.count && !stopped; i += 10) {
      const batch = Array.from(
        { length: Math.min(10, args.count - i) },
        (_, j) => new Bot({ url: args.url, site: siteOf(args.offset + i + j), rate: args.rate, serve: args.serve }),
      );
      const r = await Promise.allSettled(batch.map((b) => b.start()));
      r.forEach((x, j) => {
        const b = batch[j]!;
        if (x.status === 'fulfilled' && !stopped) bots.push(b);
        else {
          b.close();
          if (x.status === 'rejected') {
            failed++;
            process.stderr.write(`bot failed to start: ${String(x.reason)}\n`);
          }
        }
      });
    }
  })();
  return {
    status() {
      const online = bots.filter((b) => !b.ended);
      const delays = online.map((b) => b.state.lastActionDelay).filter((d): d is number => d !== null);
      const sites: Record<string, number> = {};
      for (const b of online) if (b.state.site) sites[b.state.site] = (sites[b.state.site] ?? 0) + 1;
      return {
        online: online.length,
        failed: failed + bots.length - online.length,
        p2p: online.filter((b) => b.state.mode === 'p2p').length,
        serving: online.filter((b) => b.state.serving !== null).length,
        actions: bots.reduce((n, b) => n + b.actions, 0),
        delaySum: delays.reduce((x, y) => x + y, 0),
        delays: delays.length,
        sites,
      };
    },
    stop() {
      stopped = true;
      for (const b of bots) b.close();
    },
  };
}

function line(total: number, elapsed: number, parts: Status[]): string {
  const sum = (f: (s: Status) => number): number => parts.reduce((n, s) => n + f(s), 0);
  const delays = sum((s) => s.delays);
  const sites = new Map<string, number>();
  for (const s of parts) for (const [k, v] of Object.entries(s.sites)) sites.set(k, (sites.get(k) ?? 0) + v);
  return (
    `${elapsed.toFixed(0)}s online ${sum((s) => s.online)}/${total} (failed ${sum((s) => s.failed)}) ` +
    `p2p ${sum((s) => s.p2p)} serving ${sum((s) => s.serving)} actions ${sum((s) => s.actions)} ` +
    `delay ${delays ? (sum((s) => s.delaySum) / delays).toFixed(0) + ' ms' : '-'} sites ${[...sites].map(([s, n]) => `${s}:${n}`).join(' ')}\n`
  );
}

/** A child: runs its share and reports to the parent each second; stops on 'stop' or a lost parent. */
async function worker(args: Args): Promise<void> {
  const group = runBots(args);
  const report = setInterval(() => process.send?.({ status: group.status() }), 1000);
  const stop = (): void => {
    clearInterval(report);
    group.stop();
    setTimeout(() => process.exit(0), 300).unref();
  };
  process.on('message', (m) => m === 'stop' && stop());
  process.on('disconnect', stop);
  process.on('SIGINT', () => undefined); // the parent decides (Ctrl-C reaches the whole group)
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.worker) return worker(args);
  const started = Date.now();
  const parts = new Map<number, Status>();
  let stopGroups: () => void;
  if (args.count <= args.perProcess) {
    const group = runBots(args);
    setInterval(() => parts.set(0, group.status()), 1000).unref();
    parts.set(0, group.status());
    stopGroups = () => group.stop();
  } else {
    const children: ChildProcess[] = [];
    for (let off = 0, k = 0; off < args.count; off += args.perProcess, k++) {
      const n = Math.min(args.perProcess, args.count - off);
      const rest = ['--worker', '--count', String(n), '--offset', String(off), '--url', args.url, '--rate', String(args.rate)];
      if (args.site) rest.push('--site', args.site);
      if (!args.serve) rest.push('--no-serve');
      const child = fork(fileURLToPath(import.meta.url), rest, { execArgv: ['--import', 'tsx'] });
      const key = k;
      child.on('message', (m: { status?: Status }) => m.status && parts.set(key, m.status));
      children.push(child);
    }
    stopGroups = () => {
      for (const c of children) if (c.connected) c.send('stop');
    };
  }
  const status = setInterval(() => process.stdout.write(line(args.count, (Date.now() - started) / 1000, [...parts.values()])), 1000);
  const stop = (): void => {
    clearInterval(status);
    process.stdout.write('closing sessions...\n');
    stopGroups();
    setTimeout(() => process.exit(0), 800).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && /cli\.ts$/.test(process.argv[1])) void main();
