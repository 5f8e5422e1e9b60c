/**
 * The bots' command line, checked and bounded: a bad value stops them with a message naming the
 * option (exit code 2). Latency, jitter, loss and link-down are test and benchmark tools: without
 * any of them no delay is installed.
 */
import { SITE_IDS } from '../game/world.js';
import { CHEAT_MODES, parseCheatMode, type CheatMode } from '../net/p2p/cheat.js';
import { NO_DELAY, type DelaySpec } from '../net/p2p/delayLink.js';
import type { LinkSpecs } from './instrument.js';

export interface Args {
  count: number;
  url: string;
  /** A site for every bot, `all` (round robin over the six), or undefined: spread (see `siteFor`). */
  site: string | undefined;
  rate: number;
  serve: boolean;
  perProcess: number;
  /** --json FILE: the summary written at the end. */
  json: string | null;
  /** Probability per second that a bot heads for a portal and takes it. */
  roam: number;
  /** Run this long after the last bot is online or gave up, then write the summary and exit. */
  seconds: number | null;
  /** Samples and counters of the first seconds are discarded (not the times to enter). */
  warmup: number;
  latencyCu: number;
  latencySu: number;
  latencySs: number;
  jitter: number;
  loss: number;
  linkDown: number;
  linkDownPeriod: number;
  linkDownScope: 'actions' | 'all';
  /** Tests only: every bot serves as this kind of cheater, if the admin allows cheat modes. */
  cheat: CheatMode | null;
  /** Internal: this process is a child running bots `offset`..`offset + count - 1`. */
  worker: boolean;
  offset: number;
  /** Internal: bots over all processes (for the spread). */
  total: number;
}

export const USAGE =
  'usage: npm run bots -- --count N --url http://127.0.0.1:8080/ [--site SITE|all] [--rate ACTIONS_PER_S] [--no-serve] [--per-process K]\n' +
  '  [--json FILE] [--roam P] [--seconds S] [--warmup S]\n' +
  '  test/bench only: [--latency-cu MS] [--latency-su MS] [--latency-ss MS] [--jitter MS] [--loss P] [--link-down P] [--link-down-period MS] [--link-down-scope actions|all]\n' +
  `  tests only (the admin needs MMO_ALLOW_CHEAT_MODES=1): [--cheat ${CHEAT_MODES.join('|')}]`;

const MAX_LATENCY_MS = 5000;

export function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    count: 0,
    url: '',
    site: undefined,
    rate: 2,
    serve: true,
    perProcess: 40,
    json: null,
    roam: 0,
    seconds: null,
    warmup: 0,
    latencyCu: 0,
    latencySu: 0,
    latencySs: 0,
    jitter: 0,
    loss: 0,
    linkDown: 0,
    linkDownPeriod: 100,
    linkDownScope: 'actions',
    cheat: null,
    worker: false,
    offset: 0,
    total: 0,
  };
  const num = (k: string, v: string, min: number, max: number, integer = false): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new Error(`${k} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i] ?? '';
    const v = argv[i + 1];
    const need = (): string => {
      if (v === undefined || v.startsWith('--')) throw new Error(`${k} needs a value`);
      i++;
      return v;
    };
    switch (k) {
      case '--count':
        a.count = num(k, need(), 1, 1000, true);
        break;
      case '--url': {
        const u = need();
        if (!/^https?:\/\/[^/\s]+\/?$/.test(u)) throw new Error('--url must look like http://host:port/');
        a.url = u;
        break;
      }
      case '--site': {
        const s = need();
        if (s !== 'all' && !SITE_IDS.includes(s)) throw new Error(`--site must be all or one of ${SITE_IDS.join(', ')}`);
        a.site = s;
        break;
      }
      case '--rate':
        a.rate = num(k, need(), 0, 20);
        break;
      case '--per-process':
        a.perProcess = num(k, need(), 1, 200, true);
        break;
      case '--no-serve':
        a.serve = false;
        break;
      case '--json': {
        const f = need();
        if (f.length > 1000 || f.includes('\0')) throw new Error('--json must be a file path');
        a.json = f;
        break;
      }
      case '--roam':
        a.roam = num(k, need(), 0, 1);
        break;
      case '--seconds':
        a.seconds = num(k, need(), 1, 86_400);
        break;
      case '--warmup':
        a.warmup = num(k, need(), 0, 3600);
        break;
      case '--latency-cu':
        a.latencyCu = num(k, need(), 0, MAX_LATENCY_MS);
        break;
      case '--latency-su':
        a.latencySu = num(k, need(), 0, MAX_LATENCY_MS);
        break;
      case '--latency-ss':
        a.latencySs = num(k, need(), 0, MAX_LATENCY_MS);
        break;
      case '--jitter':
        a.jitter = num(k, need(), 0, MAX_LATENCY_MS);
        break;
      case '--loss':
        a.loss = num(k, need(), 0, 1);
        break;
      case '--link-down':
        a.linkDown = num(k, need(), 0, 1);
        break;
      case '--link-down-period':
        a.linkDownPeriod = num(k, need(), 1, 60_000);
        break;
      case '--link-down-scope': {
        const sc = need();
        if (sc !== 'actions' && sc !== 'all') throw new Error('--link-down-scope must be actions or all');
        a.linkDownScope = sc;
        break;
      }
      case '--cheat': {
        const m = need();
        const mode = parseCheatMode(m);
        if (!mode) throw new Error(`--cheat must be one of ${CHEAT_MODES.join(', ')}, got "${m.slice(0, 40)}"`);
        a.cheat = mode;
        break;
      }
      case '--worker':
        a.worker = true;
        break;
      case '--offset':
        a.offset = num(k, need(), 0, 1000, true);
        break;
      case '--total':
        a.total = num(k, need(), 1, 1000, true);
        break;
      default:
        throw new Error(`unknown option ${k}`);
    }
  }
  if (a.count === 0 || a.url === '') throw new Error('--count and --url are required');
  if (a.total === 0) a.total = a.count;
  return a;
}

/** The delays to inject, or null when no latency option was given (nothing installed). */
export function linkSpecs(a: Args): LinkSpecs | null {
  if (a.latencyCu + a.latencySu + a.latencySs + a.jitter + a.loss + a.linkDown === 0) return null;
  const one = (latencyMs: number): DelaySpec => ({ ...NO_DELAY, latencyMs, jitterMs: a.jitter, loss: a.loss, down: a.linkDown, downPeriodMs: a.linkDownPeriod });
  return { cu: one(a.latencyCu), su: one(a.latencySu), ss: one(a.latencySs), downScope: a.linkDownScope };
}

/** At least this many bots per site when they spread: a transfer threshold's worth and one more. */
export const SPREAD_PER_SITE = 4;

/**
 * Where bot `k` of `count` starts. A named site: there; `all`: the six in turn. Unnamed: spread in
 * turn over as many sites as give each about SPREAD_PER_SITE bots (at least two sites from 6 bots
 * on), so several sites get busy while bots on the others are free to serve them; all on one site,
 * none of them could serve it.
 */
export function siteFor(site: string | undefined, k: number, count: number): string {
  if (site !== undefined && site !== 'all') return site;
  const n = site === 'all' ? SITE_IDS.length : count < 6 ? 1 : Math.min(SITE_IDS.length, Math.max(2, Math.floor(count / SPREAD_PER_SITE)));
  return SITE_IDS[k % n] ?? SITE_IDS[0] ?? 'meadow';
}
