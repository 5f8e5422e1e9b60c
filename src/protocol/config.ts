/**
 * Parameters of one P2P site (protocol.md "Parameters"). One object, validated once, shared by
 * every Site Server, user and the coordinator of the site: they must all use the same numbers.
 */

import { ACTION_BUDGET } from './budget.js';

export interface SiteConfig {
  /** Site id this configuration belongs to. */
  site: string;
  /** Site Servers per P2P site; odd. */
  N_server: number;
  /** (N_server + 1) / 2, eq. (1). Derived; a given value must match. */
  N_majority: number;
  /** Period of Timeslot Messages (ms). Also the width of an update window. */
  T_timeslot: number;
  /** No Timeslot from a server this long after its last stamp: send a TRM (ms). > T_timeslot. */
  T_timeout: number;
  /** TRM unanswered this long: ask for the server to be ignored (ms). */
  T_req_timeout: number;
  /** Ignored this long and still silent: ask the admin for a replacement (ms). */
  T_ignore: number;
  /** A final action's content missing this long: ask the servers that reported it (ms). */
  T_content: number;
  /** A user resends an action not applied after this long (ms); 0 = only on server changes. */
  T_resend: number;
  /** Most entries one Timeslot may carry (bounds message size; extra arrivals wait a slot). */
  maxEntries: number;
  /** Updates whose state a server keeps for state transfer and hash queries. */
  keepUpdates: number;
  /** Timeslots per server a server keeps for TRM answers. */
  keepTimeslots: number;
  /**
   * A user's action budget (token bucket: per second, burst): the admin's own, so that a Site
   * Server holds users to exactly what the admin would (MMO_ACTION_RATE / MMO_ACTION_BURST).
   */
  actionRate: number;
  actionBurst: number;
}

export const DEFAULT_SITE_CONFIG: Omit<SiteConfig, 'site'> = {
  N_server: 5,
  N_majority: 3,
  T_timeslot: 100,
  T_timeout: 300,
  T_req_timeout: 300,
  T_ignore: 3000,
  T_content: 50,
  T_resend: 1500,
  maxEntries: 256,
  keepUpdates: 64,
  keepTimeslots: 256,
  actionRate: ACTION_BUDGET.perSecond,
  actionBurst: ACTION_BUDGET.burst,
};

export type ConfigResult = { ok: true; config: SiteConfig } | { ok: false; errors: string[] };

/** Fills defaults, derives N_majority and checks every rule. Never throws. */
export function parseSiteConfig(input: Partial<SiteConfig> & { site: string }): ConfigResult {
  const nServer = input.N_server ?? DEFAULT_SITE_CONFIG.N_server;
  const config: SiteConfig = {
    ...DEFAULT_SITE_CONFIG,
    ...input,
    N_server: nServer,
    N_majority: input.N_majority ?? (nServer + 1) / 2,
  };
  const errors: string[] = [];
  const int = (name: keyof SiteConfig, min: number): void => {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) errors.push(`${name} must be an integer >= ${min}`);
  };
  const time = (name: keyof SiteConfig, min: number): void => {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) errors.push(`${name} must be a finite time >= ${min} ms`);
  };
  if (typeof config.site !== 'string' || config.site.length === 0) errors.push('site must be a non-empty string');
  int('N_server', 1);
  if (Number.isInteger(config.N_server) && config.N_server % 2 === 0) errors.push('N_server must be odd');
  if (config.N_majority !== (config.N_server + 1) / 2) errors.push('N_majority must be (N_server + 1) / 2');
  time('T_timeslot', 1);
  time('T_timeout', 0);
  time('T_req_timeout', 0);
  time('T_ignore', 0);
  time('T_content', 0);
  time('T_resend', 0);
  if (config.T_timeout <= config.T_timeslot) errors.push('T_timeout must exceed T_timeslot');
  int('maxEntries', 1);
  int('keepUpdates', 2);
  int('keepTimeslots', 8);
  int('actionRate', 1);
  int('actionBurst', 1);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

/** Like parseSiteConfig but throws on a bad configuration (for hosts, at start-up). */
export function makeSiteConfig(input: Partial<SiteConfig> & { site: string }): SiteConfig {
  const r = parseSiteConfig(input);
  if (!r.ok) throw new Error(`bad site config: ${r.errors.join('; ')}`);
  return r.config;
}

/** How long the coordinator waits for a majority of matching requests before declining them. */
export function declineAfter(c: SiteConfig): number {
  return 3 * (c.T_req_timeout + c.T_timeout);
}

/**
 * How often a server repeats an unanswered membership request: a lost request must cost no more
 * than the TRM wait itself (each repeat carries a new number, so a decline crossing it is not
 * mistaken for its answer). Much shorter than declineAfter.
 */
export function repeatRequestAfter(c: SiteConfig): number {
  return c.T_req_timeout;
}
