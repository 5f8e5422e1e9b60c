/** Reads the server's settings from the environment; a bad value stops startup with a clear message. */
import type { AdminServerOptions } from './app.js';
import { DEFAULTS } from './app.js';
import { DEFAULT_WS_LIMITS } from './ws.js';
import { nodeCryptoChoice } from '../src/net/crypto/node.js';
import { checkP2P, DEFAULT_P2P, parseIceServers, type P2POptions } from './p2p/settings.js';

type Env = Record<string, string | undefined>;

/** Shortest operator token accepted from the environment (the random one has 32 hex digits). */
export const MIN_ADMIN_TOKEN = 32;

export function optionsFromEnv(env: Env, argv: readonly string[]): AdminServerOptions {
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
    return n;
  };
  const p2p: P2POptions = {
    ...DEFAULT_P2P,
    nServer: int('MMO_N_SERVER', DEFAULT_P2P.nServer, 1, 15),
    transferThreshold: int('MMO_TRANSFER_THRESHOLD', DEFAULT_P2P.transferThreshold, 0, 10_000),
    T_timeslot: int('MMO_T_TIMESLOT_MS', DEFAULT_P2P.T_timeslot, 10, 10_000),
    T_timeout: int('MMO_T_TIMEOUT_MS', DEFAULT_P2P.T_timeout, 1, 60_000),
    T_req_timeout: int('MMO_T_REQ_TIMEOUT_MS', DEFAULT_P2P.T_req_timeout, 1, 60_000),
    T_ignore: int('MMO_T_IGNORE_MS', DEFAULT_P2P.T_ignore, 1, 600_000),
    handBackAfterMs: int('MMO_HAND_BACK_MS', DEFAULT_P2P.handBackAfterMs, 0, 86_400_000),
    maxServerRttMs: int('MMO_MAX_SERVER_RTT_MS', DEFAULT_P2P.maxServerRttMs, 1, 60_000),
    p2pSaveMs: int('MMO_P2P_SAVE_MS', DEFAULT_P2P.p2pSaveMs, 100, 3_600_000),
    linkTimeoutMs: int('MMO_LINK_TIMEOUT_MS', DEFAULT_P2P.linkTimeoutMs, 100, 600_000),
    iceServers: env.MMO_ICE_SERVERS?.trim() ? parseIceServers(env.MMO_ICE_SERVERS) : [],
  };
  if (p2p.nServer % 2 === 0) throw new Error(`MMO_N_SERVER must be odd, got "${env.MMO_N_SERVER}"`);
  const bad = checkP2P(p2p);
  if (bad.length > 0) throw new Error(bad.join('; '));
  const adminToken = env.MMO_ADMIN_TOKEN?.trim();
  // It guards the operator page from anyone who can reach the port: as strong as the random one.
  if (adminToken !== undefined && adminToken !== '' && adminToken.length < MIN_ADMIN_TOKEN)
    throw new Error(`MMO_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN} characters`);
  const cheats = env.MMO_ALLOW_CHEAT_MODES?.trim() ?? '';
  if (cheats !== '' && cheats !== '0' && cheats !== '1') throw new Error(`MMO_ALLOW_CHEAT_MODES must be 0 or 1, got "${cheats}"`);
  return {
    p2p,
    // Tests only: lets peers started with ?cheat= / --cheat lie (src/net/p2p/cheat.ts).
    ...(cheats === '1' ? { allowCheatModes: true } : {}),
    ...(adminToken ? { adminToken } : {}),
    guestRate: {
      perSecond: int('MMO_GUEST_RATE', DEFAULTS.guestRate.perSecond, 1),
      burst: int('MMO_GUEST_BURST', DEFAULTS.guestRate.burst, 1),
    },
    port: int('PORT', DEFAULTS.port, 0, 65535),
    host: env.HOST?.trim() || DEFAULTS.host,
    dbFile: env.MMO_DB?.trim() || DEFAULTS.dbFile,
    dev: argv.includes('--dev'),
    crypto: nodeCryptoChoice(env.MMO_CRYPTO),
    sessionTtlMs: int('MMO_SESSION_TTL_MS', DEFAULTS.sessionTtlMs, 1000),
    saveIntervalMs: int('MMO_SAVE_INTERVAL_MS', DEFAULTS.saveIntervalMs, 100),
    actionRate: {
      perSecond: int('MMO_ACTION_RATE', DEFAULT_WS_LIMITS.actions.perSecond, 1),
      burst: int('MMO_ACTION_BURST', DEFAULT_WS_LIMITS.actions.burst, 1),
    },
    maxFramesPerSecond: int('MMO_MAX_FRAMES_PER_SEC', DEFAULT_WS_LIMITS.maxFramesPerSecond, 1),
    maxConnectionsPerIp: int('MMO_MAX_CONNECTIONS_PER_IP', DEFAULT_WS_LIMITS.maxConnectionsPerIp, 1, 100_000),
    authRate: {
      perSecond: int('MMO_AUTH_RATE', DEFAULTS.authRate.perSecond, 1),
      burst: int('MMO_AUTH_BURST', DEFAULTS.authRate.burst, 1),
    },
  };
}
