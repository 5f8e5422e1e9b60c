/**
 * Assembles the Administration Server: storage, accounts, site hosting, HTTP routes and the
 * WebSocket endpoint on one port. Tests start it on port 0 with a temporary database.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Accounts } from './accounts.js';
import { Game } from './game.js';
import { createHttpHandler, onClientError, sendJson } from './http.js';
import { createLogger, type Logger } from './log.js';
import type { RateSpec } from './rateLimit.js';
import { SiteHost } from './sites.js';
import { createStaticHandler } from './static.js';
import { SqliteStorage } from './storage/sqlite.js';
import type { ScryptParams, Storage } from './storage/types.js';
import { attachWebSocket, DEFAULT_WS_LIMITS, type WsLimits } from './ws.js';
import { randomBytes } from 'node:crypto';
import { useNodeCrypto, type NodeCryptoChoice } from '../src/net/crypto/node.js';
import { newAdminSecret, P2PManager } from './p2p/manager.js';
import { checkP2P, DEFAULT_P2P, settingsForPeers, type P2POptions } from './p2p/settings.js';
import { createOperator } from './operator.js';
import { ServerMetrics } from './metrics.js';

export interface AdminServerOptions {
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Default 127.0.0.1: exposing the server is a deliberate choice (HOST=0.0.0.0). */
  host?: string;
  /** SQLite file (directory created) or ':memory:'. Ignored when `storage` is given. */
  dbFile?: string;
  storage?: Storage;
  /** Built client to serve; null serves no client. Default ./dist. */
  staticDir?: string | null;
  /** Vite in middleware mode (hot reload) instead of `staticDir`. */
  dev?: boolean;
  /** Ed25519 and SHA-256: native node:crypto (default) or the pure-JS @noble ones (`MMO_CRYPTO`). */
  crypto?: NodeCryptoChoice;
  /** Wall clock, injectable so session expiry can be tested without waiting. */
  now?: () => number;
  sessionTtlMs?: number;
  saveIntervalMs?: number;
  /** Player actions per user. */
  actionRate?: RateSpec;
  maxFramesPerSecond?: number;
  helloTimeoutMs?: number;
  /** Open WebSocket connections per address. */
  maxConnectionsPerIp?: number;
  /** Register/login requests per IP. */
  authRate?: RateSpec;
  /** Guest sessions per IP. */
  guestRate?: RateSpec;
  /** P2P hosting (defaults: DEFAULT_P2P). */
  p2p?: Partial<P2POptions>;
  /** Token of the operator page /admin; unset: a random one, logged at start. */
  adminToken?: string;
  /** Tests only (MMO_ALLOW_CHEAT_MODES=1): peers may run the cheat modes they are started with. */
  allowCheatModes?: boolean;
  /** After a restart, how long a resumed P2P site waits for its servers and users (tests). */
  resumeGraceMs?: number;
  /** Injected randomness for choosing Site Servers (tests). */
  random?: () => number;
  scrypt?: ScryptParams;
  logger?: Logger;
  /** Shorthand for a silent logger. */
  quiet?: boolean;
}

export interface AdminServer {
  /** e.g. http://127.0.0.1:8080/ */
  url: string;
  port: number;
  /** Token of the operator page (/admin: a login form, or Authorization: Bearer; never in the URL). */
  adminToken: string;
  /** Saves everything, closes connections, the port and the database. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  dbFile: './data/mmo.db',
  staticDir: './dist',
  sessionTtlMs: 24 * 60 * 60 * 1000,
  saveIntervalMs: 5000,
  authRate: { perSecond: 5, burst: 20 } satisfies RateSpec,
  guestRate: { perSecond: 5, burst: 20 } satisfies RateSpec,
} as const;

/** Expired sessions are kept this long, so a late reconnect hears "expired" rather than "invalid". */
const EXPIRED_GRACE_MS = 60 * 60 * 1000;

export async function createAdminServer(opts: AdminServerOptions = {}): Promise<AdminServer> {
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? createLogger({ quiet: opts.quiet ?? false });
  const storage = opts.storage ?? new SqliteStorage(opts.dbFile ?? DEFAULTS.dbFile);
  const sites = new SiteHost((id) => storage.getSite(id));
  const game = new Game(sites, storage, log, now);
  // One action budget for the admin's sockets and the Site Servers of every P2P site.
  const p2pOptions: P2POptions = { ...DEFAULT_P2P, ...(opts.actionRate ? { actions: opts.actionRate } : {}), ...opts.p2p };
  const p2pErrors = checkP2P(p2pOptions);
  if (p2pErrors.length > 0) throw new Error(`bad P2P settings: ${p2pErrors.join('; ')}`);
  // Peers keep the admin's key across its restarts: it lives in storage.
  let adminSecret = storage.getMeta('admin_secret');
  if (!adminSecret || !/^[0-9a-f]{64}$/.test(adminSecret)) {
    adminSecret = newAdminSecret();
    storage.setMeta('admin_secret', adminSecret);
  }
  // The peers' synced clock follows this one; it must never run backward.
  let lastNow = -Infinity;
  const peerNow = (): number => (lastNow = Math.max(lastNow, now()));
  const crypto = useNodeCrypto(opts.crypto ?? 'native');
  const p2p = new P2PManager({
    options: p2pOptions,
    adminSecret,
    crypto,
    now: peerNow,
    ...(opts.random ? { random: opts.random } : {}),
    log,
    game: game.hooks(),
    records: { put: (r) => storage.putP2PSite(r, now()), delete: (site) => storage.deleteP2PSite(site) },
    ...(opts.resumeGraceMs !== undefined ? { resumeGraceMs: opts.resumeGraceMs } : {}),
  });
  game.attachP2P(p2p);
  // P2P sites that ran when the admin stopped go on (their servers never stopped).
  p2p.resume(storage.p2pSites());
  const adminToken = opts.adminToken ?? randomBytes(16).toString('hex');
  const metrics = new ServerMetrics({ now, players: () => game.onlineCount });
  const metricsTimer = setInterval(() => metrics.sample(), 1000);
  metricsTimer.unref();
  const operator = createOperator({ token: adminToken, p2p, game, now: peerNow, options: p2pOptions, log, metrics });
  const accounts = new Accounts(storage, {
    now,
    sessionTtlMs: opts.sessionTtlMs ?? DEFAULTS.sessionTtlMs,
    inGame: (name) => game.holds(name),
    ...(opts.scrypt ? { scrypt: opts.scrypt } : {}),
  });
  const limits: WsLimits = {
    ...DEFAULT_WS_LIMITS,
    ...(opts.actionRate ? { actions: opts.actionRate } : {}),
    ...(opts.maxFramesPerSecond !== undefined ? { maxFramesPerSecond: opts.maxFramesPerSecond } : {}),
    ...(opts.helloTimeoutMs !== undefined ? { helloTimeoutMs: opts.helloTimeoutMs } : {}),
    ...(opts.maxConnectionsPerIp !== undefined ? { maxConnectionsPerIp: opts.maxConnectionsPerIp } : {}),
  };

  const notFound = (_req: IncomingMessage, res: ServerResponse): void =>
    sendJson(res, 404, { error: 'ERR_NOT_FOUND', message: 'not found' });
  let client: (req: IncomingMessage, res: ServerResponse) => void | Promise<void> = notFound;
  let vite: {
    close(): Promise<void>;
    middlewares: (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
  } | null = null;

  const http = createHttpHandler({
    accounts,
    listing: () => game.listing(),
    log,
    now,
    authRate: opts.authRate ?? DEFAULTS.authRate,
    guestRate: opts.guestRate ?? DEFAULTS.guestRate,
    operator: operator.handle,
    client: (req, res) => client(req, res),
  });
  const server = createServer(http.handle);
  server.on('clientError', onClientError(log));
  server.on('connection', (socket) => metrics.track(socket));
  // Bounded time for slow clients to send their headers (slowloris).
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  if (opts.dev) {
    // Imported lazily: production never loads Vite.
    const { createServer: createVite } = await import('vite');
    const v = await createVite({ server: { middlewareMode: true, hmr: { server } }, appType: 'spa' });
    vite = v;
    client = (req, res) => v.middlewares(req, res, () => notFound(req, res));
  } else if (opts.staticDir !== null) {
    const dir = opts.staticDir ?? DEFAULTS.staticDir;
    if (!existsSync(join(dir, 'index.html')))
      log.warn('client.not_built', { dir, hint: 'run npm run build' });
    const serve = createStaticHandler(dir, (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        sendJson(res, 405, { error: 'ERR_METHOD', message: 'method not allowed' });
      else notFound(req, res);
    });
    client = (req, res) =>
      req.method === 'GET' || req.method === 'HEAD'
        ? serve(req, res)
        : sendJson(res, 405, { error: 'ERR_METHOD', message: 'method not allowed' });
  }

  const ws = attachWebSocket(
    server,
    {
      game,
      accounts,
      log,
      now: peerNow,
      limits,
      p2p,
      metrics,
      welcome: {
        adminKey: crypto.publicKeyOf(adminSecret),
        p2p: { ...settingsForPeers(p2pOptions), ...(opts.allowCheatModes === true ? { cheatModes: true } : {}) },
        iceServers: p2pOptions.iceServers,
      },
    },
    opts.dev === true,
  );

  const tick = (): void => {
    try {
      game.saveAll();
      storage.purgeExpired(now() - EXPIRED_GRACE_MS);
    } catch (err) {
      log.error('save.tick_failed', { err });
    }
  };
  const saver = setInterval(tick, opts.saveIntervalMs ?? DEFAULTS.saveIntervalMs);
  saver.unref();

  const host = opts.host ?? DEFAULTS.host;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? DEFAULTS.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // e.g. EADDRINUSE: release what we opened so the caller can exit cleanly.
    clearInterval(saver);
    clearInterval(metricsTimer);
    http.close();
    await ws.close();
    if (vite) await vite.close();
    storage.close();
    throw err;
  }
  server.on('error', (err) => log.error('http.server_error', { err }));
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/`;
  log.info('server.start', { url, dev: opts.dev === true, online: game.onlineCount, p2p: p2pOptions.transferThreshold > 0 });

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(saver);
      clearInterval(metricsTimer);
      http.close();
      // Save first: after this the game ignores the disconnects that closing causes.
      game.shutdown();
      p2p.close();
      await ws.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (vite) await vite.close();
      storage.close();
      log.info('server.stop', {});
    })();
    return closing;
  };

  return { url, port, adminToken, close };
}
