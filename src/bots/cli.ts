/**
 * `npm run bots -- --count N --url URL [--site S] [--rate R] [--no-serve]`: N headless players
 * (guests) against a running Administration Server. One status line a second; Ctrl-C closes every
 * session cleanly. The server admits MMO_GUEST_BURST guests per address at once (default 20):
 * start it with a larger value for many bots from one machine.
 */
import { SITE_IDS } from '../game/world.js';
import { Bot } from './bot.js';

interface Args {
  count: number;
  url: string;
  site: string | undefined;
  rate: number;
  serve: boolean;
}

const USAGE = 'usage: npm run bots -- --count N --url http://127.0.0.1:8080/ [--site SITE] [--rate ACTIONS_PER_S] [--no-serve]';

export function parseArgs(argv: readonly string[]): Args {
  const a: Args = { count: 0, url: '', site: undefined, rate: 2, serve: true };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    const need = (): string => {
      if (v === undefined || v.startsWith('--')) throw new Error(`${k} needs a value`);
      i++;
      return v;
    };
    if (k === '--count') {
      const n = Number(need());
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('--count must be an integer in 1..1000');
      a.count = n;
    } else if (k === '--url') {
      const u = need();
      if (!/^https?:\/\/[^/\s]+\/?$/.test(u)) throw new Error('--url must look like http://host:port/');
      a.url = u;
    } else if (k === '--site') {
      const s = need();
      if (!SITE_IDS.includes(s)) throw new Error(`--site must be one of ${SITE_IDS.join(', ')}`);
      a.site = s;
    } else if (k === '--rate') {
      const r = Number(need());
      if (!Number.isFinite(r) || r < 0 || r > 20) throw new Error('--rate must be a number in 0..20');
      a.rate = r;
    } else if (k === '--no-serve') a.serve = false;
    else throw new Error(`unknown option ${k}`);
  }
  if (a.count === 0 || a.url === '') throw new Error('--count and --url are required');
  return a;
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const bots: Bot[] = [];
  let failed = 0;
  const started = Date.now();
  // Logins go a few at a time: a burst of 200 handshakes would all time out together.
  for (let i = 0; i < args.count; i += 10) {
    const batch = Array.from({ length: Math.min(10, args.count - i) }, () => new Bot({ url: args.url, site: args.site, rate: args.rate, serve: args.serve }));
    const r = await Promise.allSettled(batch.map((b) => b.start()));
    r.forEach((x, j) => {
      if (x.status === 'fulfilled') bots.push(batch[j]!);
      else {
        failed++;
        process.stderr.write(`bot failed to start: ${String(x.reason)}\n`);
      }
    });
  }
  const status = setInterval(() => {
    const online = bots.filter((b) => !b.ended);
    const p2p = online.filter((b) => b.state.mode === 'p2p').length;
    const serving = online.filter((b) => b.state.serving !== null).length;
    const delays = online.map((b) => b.state.lastActionDelay).filter((d): d is number => d !== null);
    const mean = delays.length ? delays.reduce((x, y) => x + y, 0) / delays.length : null;
    const sites = new Map<string, number>();
    for (const b of online) if (b.state.site) sites.set(b.state.site, (sites.get(b.state.site) ?? 0) + 1);
    process.stdout.write(
      `${((Date.now() - started) / 1000).toFixed(0)}s online ${online.length}/${args.count} (failed ${failed}) ` +
        `p2p ${p2p} serving ${serving} actions ${bots.reduce((n, b) => n + b.actions, 0)} ` +
        `delay ${mean === null ? '-' : mean.toFixed(0) + ' ms'} sites ${[...sites].map(([s, n]) => `${s}:${n}`).join(' ')}\n`,
    );
  }, 1000);
  const stop = (): void => {
    clearInterval(status);
    process.stdout.write('closing sessions...\n');
    for (const b of bots) b.close();
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && /cli\.ts$/.test(process.argv[1])) void main();
