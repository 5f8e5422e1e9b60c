/**
 * Settings of P2P hosting: read from the environment by config.ts, sent to every peer at login
 * (welcome.p2p), checked once with the core's own rules (parseSiteConfig) so that the admin and
 * the peers can never disagree on a parameter.
 */
import { DEFAULT_SITE_CONFIG, parseSiteConfig, type SiteConfig } from '../../src/protocol/config.js';
import { ACTION_BUDGET, type RateSpec } from '../../src/protocol/budget.js';
import type { IceServer, P2PSettings } from '../../src/protocol/messages.js';

export interface P2POptions {
  /** Site Servers per P2P site, odd (MMO_N_SERVER). */
  nServer: number;
  /** Users on a site at which it moves to peers (MMO_TRANSFER_THRESHOLD); 0 disables P2P. */
  transferThreshold: number;
  T_timeslot: number;
  T_timeout: number;
  T_req_timeout: number;
  T_ignore: number;
  /** STUN/TURN servers for peers on real networks (MMO_ICE_SERVERS, JSON); none on one machine. */
  iceServers: IceServer[];
  /** A P2P site below half the threshold this long goes back to the admin (MMO_HAND_BACK_MS). */
  handBackAfterMs: number;
  /** Peers with a longer measured round trip to the admin are never chosen (MMO_MAX_SERVER_RTT_MS). */
  maxServerRttMs: number;
  /** Channels others could not open to a peer before it stops being chosen. */
  maxLinkFailures: number;
  /** How often the admin takes a majority-verified copy of every P2P site to store it (MMO_P2P_SAVE_MS). */
  p2pSaveMs: number;
  /** A data channel not open this long is reported to the admin (MMO_LINK_TIMEOUT_MS). */
  linkTimeoutMs: number;
  /** The admin's action budget per user (MMO_ACTION_RATE / MMO_ACTION_BURST): Site Servers apply it too. */
  actions: RateSpec;
}

export const DEFAULT_P2P: P2POptions = {
  nServer: 3,
  transferThreshold: 3,
  T_timeslot: 100,
  T_timeout: 300,
  T_req_timeout: 300,
  T_ignore: 3000,
  iceServers: [],
  handBackAfterMs: 30_000,
  // T_timeout - T_timeslot: a server echoes a peer's Timeslot about one round trip plus up to one
  // T_timeslot after the others have it, and the core counts an echo later than T_timeout as lag.
  // At 400, peers 150-300 ms away served and their sites stalled (world seeds 131, 101868; FINDINGS 23).
  maxServerRttMs: 200,
  maxLinkFailures: 3,
  p2pSaveMs: 10_000,
  linkTimeoutMs: 10_000,
  actions: ACTION_BUDGET,
};

/** The shared part of every site's configuration (all but the site id). */
export function siteConfigBase(o: P2POptions): Omit<SiteConfig, 'site'> {
  return {
    ...DEFAULT_SITE_CONFIG,
    N_server: o.nServer,
    N_majority: (o.nServer + 1) / 2,
    T_timeslot: o.T_timeslot,
    T_timeout: o.T_timeout,
    T_req_timeout: o.T_req_timeout,
    T_ignore: o.T_ignore,
    actionRate: o.actions.perSecond,
    actionBurst: o.actions.burst,
  };
}

export function siteConfigFor(o: P2POptions, site: string): SiteConfig {
  const r = parseSiteConfig({ ...siteConfigBase(o), site });
  if (!r.ok) throw new Error(`bad P2P settings: ${r.errors.join('; ')}`);
  return r.config;
}

/** Errors of a combination the core would refuse, in the variables' names; empty when fine. */
export function checkP2P(o: P2POptions): string[] {
  const r = parseSiteConfig({ ...siteConfigBase(o), site: 'check' });
  if (r.ok) return [];
  const names: Record<string, string> = {
    N_server: 'MMO_N_SERVER',
    T_timeslot: 'MMO_T_TIMESLOT_MS',
    T_timeout: 'MMO_T_TIMEOUT_MS',
    T_req_timeout: 'MMO_T_REQ_TIMEOUT_MS',
    T_ignore: 'MMO_T_IGNORE_MS',
    actionRate: 'MMO_ACTION_RATE',
    actionBurst: 'MMO_ACTION_BURST',
  };
  return r.errors.map((e) => {
    const field = Object.keys(names).find((k) => e.startsWith(k));
    return field ? `${names[field]}: ${e}` : e;
  });
}

export function settingsForPeers(o: P2POptions): P2PSettings {
  return { config: { ...siteConfigBase(o) }, transferThreshold: o.transferThreshold, linkTimeoutMs: o.linkTimeoutMs };
}

/** Parses MMO_ICE_SERVERS: a JSON array of {urls, username?, credential?}. Throws with a reason. */
export function parseIceServers(raw: string): IceServer[] {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw new Error('MMO_ICE_SERVERS must be JSON, e.g. [{"urls":"stun:stun.example.org:3478"}]');
  }
  if (!Array.isArray(data)) throw new Error('MMO_ICE_SERVERS must be a JSON array');
  const url = (u: unknown): u is string => typeof u === 'string' && /^(stun|stuns|turn|turns):/.test(u) && u.length < 512;
  return data.map((e, i) => {
    if (typeof e !== 'object' || e === null) throw new Error(`MMO_ICE_SERVERS[${i}] must be an object`);
    const { urls, username, credential, ...rest } = e as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new Error(`MMO_ICE_SERVERS[${i}] has unknown fields ${Object.keys(rest).join(', ')}`);
    if (!(url(urls) || (Array.isArray(urls) && urls.length > 0 && urls.every(url))))
      throw new Error(`MMO_ICE_SERVERS[${i}].urls must be stun:/turn: URLs`);
    if (username !== undefined && typeof username !== 'string') throw new Error(`MMO_ICE_SERVERS[${i}].username must be a string`);
    if (credential !== undefined && typeof credential !== 'string') throw new Error(`MMO_ICE_SERVERS[${i}].credential must be a string`);
    return {
      urls: urls as string | string[],
      ...(username !== undefined ? { username } : {}),
      ...(credential !== undefined ? { credential } : {}),
    };
  });
}
