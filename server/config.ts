/** Reads the server's settings from the environment; a bad value stops startup with a clear message. */
import type { AdminServerOptions } from './app.js';
import { DEFAULTS } from './app.js';
import { DEFAULT_WS_LIMITS } from './ws.js';

type Env = Record<string, string | undefined>;

export function optionsFromEnv(env: Env, argv: readonly string[]): AdminServerOptions {
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
    return n;
  };
  return {
    port: int('PORT', DEFAULTS.port, 0, 65535),
    host: env.HOST?.trim() || DEFAULTS.host,
    dbFile: env.MMO_DB?.trim() || DEFAULTS.dbFile,
    dev: argv.includes('--dev'),
    sessionTtlMs: int('MMO_SESSION_TTL_MS', DEFAULTS.sessionTtlMs, 1000),
    saveIntervalMs: int('MMO_SAVE_INTERVAL_MS', DEFAULTS.saveIntervalMs, 100),
    actionRate: {
      perSecond: int('MMO_ACTION_RATE', DEFAULT_WS_LIMITS.actions.perSecond, 1),
      burst: int('MMO_ACTION_BURST', DEFAULT_WS_LIMITS.actions.burst, 1),
    },
    maxFramesPerSecond: int('MMO_MAX_FRAMES_PER_SEC', DEFAULT_WS_LIMITS.maxFramesPerSecond, 1),
    authRate: {
      perSecond: int('MMO_AUTH_RATE', DEFAULTS.authRate.perSecond, 1),
      burst: int('MMO_AUTH_BURST', DEFAULTS.authRate.burst, 1),
    },
  };
}
