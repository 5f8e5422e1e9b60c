/**
 * What every section of `npm run bench:live` shares: its context (quick or full, how to run a
 * scenario), what it returns (a table, figures for the JSON, plots, sanity checks), and the
 * bot layouts the sections use.
 */
import type { AdminSettings } from './proc.js';
import type { BotGroup, Injection, Scenario, ScenarioResult } from './scenario.js';

export interface Check {
  what: string;
  ok: boolean;
  detail: string;
}

export interface SectionOutput {
  name: string;
  title: string;
  /** Markdown tables and lines printed to the terminal and quoted in docs/performance.md. */
  text: string;
  figures: unknown;
  /** File name in docs/ (or the --svg dir) -> SVG text. */
  svgs: Record<string, string>;
  checks: Check[];
}

export interface SectionContext {
  quick: boolean;
  log: (line: string) => void;
  run: (s: Scenario) => Promise<ScenarioResult>;
  /** `command @ commit on machine`, for the plots' notes. */
  stamp: string;
  /** The offload section's bot counts when the command names them (`--sizes`). */
  sizes?: number[];
}

/** Quick runs: short windows (a smoke test of the harness, not figures to quote). */
export const QUICK = { readyGuessS: 8, warmupS: 2, measureS: 6 };

export const check = (what: string, ok: boolean, detail: string): Check => ({ what, ok, detail });
export const finite = (x: number): boolean => Number.isFinite(x);

/** The latencies the issue calls real-world: l_cu 30, l_su 20, l_ss 10 ms, with 5 ms jitter. */
export const REAL_WORLD: Injection = { cu: 30, su: 20, ss: 10, jitter: 5 };

/**
 * One busy site and its servers: `players` bots on the meadow (they do not serve), and
 * `N_server + 1` volunteers on the town (one spare for a replacement). The threshold is the
 * meadow's population, so the meadow goes P2P and the town, smaller, stays client-server: each
 * run measures both modes on the same machine at the same time.
 */
export function busyMeadow(o: {
  name: string;
  admin: Omit<AdminSettings, 'threshold'>;
  players: number;
  injection?: Injection;
  warmupS: number;
  measureS: number;
  rate?: number;
  /** false: the same bots with P2P off (threshold 0), for a client-server baseline. */
  p2p?: boolean;
  /** Scenario.readyGuessS (default 12 s). */
  readyGuessS?: number;
}): Scenario {
  const p2p = o.p2p ?? true;
  const volunteers = o.admin.nServer + 1;
  if (volunteers >= o.players) throw new Error(`${o.name}: ${o.players} players must outnumber ${volunteers} volunteers`);
  const groups: BotGroup[] = [
    { label: 'players', count: o.players, site: 'meadow', rate: o.rate ?? 2, serve: false },
    { label: 'servers', count: volunteers, site: 'town', rate: o.rate ?? 2, serve: true },
  ];
  return {
    name: o.name,
    admin: { ...o.admin, threshold: p2p ? o.players : 0 },
    groups,
    ...(o.injection ? { injection: o.injection } : {}),
    warmupS: o.warmupS,
    measureS: o.measureS,
    expectP2P: p2p ? 1 : 0,
    readyTimeoutS: 60,
    readyGuessS: o.readyGuessS ?? 12,
  };
}

/** `count` bots spread over all six sites, every one willing to serve; P2P or all client-server. */
export function spread(o: {
  name: string;
  count: number;
  p2p: boolean;
  nServer: number;
  T_timeslot: number;
  warmupS: number;
  measureS: number;
}): Scenario {
  return {
    name: o.name,
    // Threshold 3: with 25 bots or more every site has 4 or more players and goes P2P.
    admin: { nServer: o.nServer, T_timeslot: o.T_timeslot, threshold: o.p2p ? 3 : 0 },
    groups: [{ label: 'all', count: o.count, site: 'all', rate: 2, serve: true }],
    warmupS: o.warmupS,
    measureS: o.measureS,
    expectP2P: o.p2p ? 6 : 0,
    readyTimeoutS: 90,
    // About 10 bots a second enter on a loaded 2-core machine, then the sites change hands.
    readyGuessS: 10 + Math.ceil(o.count / 8),
  };
}
