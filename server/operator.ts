/**
 * The operator page: `/admin` (HTML, refreshes itself every second) and `/api/admin` (the same as
 * JSON). Every site with its mode, population and why it is not P2P; its servers with their state,
 * how far their clock is from the admin's, their action delay, timeslot lag, TRMs, bytes per second
 * and the users that flagged them; the suspects with their evidence (p2p/suspects.ts); every
 * connected peer with why it can or cannot serve; and the admin's own CPU and bytes per player
 * (metrics.ts). Behind the operator token, which never travels in the URL (operatorAuth.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listSites } from '../src/game/index.js';
import type { Game } from './game.js';
import { sendJson } from './http.js';
import type { Logger } from './log.js';
import type { AdminMetrics, ServerMetrics } from './metrics.js';
import type { SiteEvent, SiteState } from './p2p/lifecycle.js';
import type { P2PManager } from './p2p/manager.js';
import type { P2POptions } from './p2p/settings.js';
import type { Suspect } from './p2p/suspects.js';
import { MAX_LOGIN_BYTES, OperatorSessions } from './operatorAuth.js';
import { LOGIN_PAGE, OPERATOR_PAGE } from './operatorPage.js';
import { KeyedRateLimiter } from './rateLimit.js';

export interface OperatorDeps {
  token: string;
  p2p: P2PManager;
  game: Game;
  now: () => number;
  options: P2POptions;
  log?: Logger;
  metrics?: ServerMetrics;
}

export interface OperatorServer {
  id: string;
  user: string | null;
  /** active, ignored (cut), replaced (left the set), or gone (its tab disconnected). */
  state: 'active' | 'ignored' | 'replaced' | 'gone';
  status: string | null;
  /**
   * How far the server's synchronised clock is from the admin's, ms (positive: ahead), from its
   * last stats: its clock when sent, against the admin's clock at receipt less half the round trip.
   */
  clockError: number | null;
  /** ± this much (half the round trip: the stats took between 0 and a whole round trip to come). */
  clockErrorPlusMinus: number | null;
  /** Mean and max ms from a user's action reaching it to its update leaving, over its last stats period. */
  actionDelay: number | null;
  actionDelayMax: number | null;
  lag: number | null;
  timeslotSeq: number | null;
  trmSent: number | null;
  trmReceived: number | null;
  bytesInPerSec: number | null;
  bytesOutPerSec: number | null;
  links: number | null;
  rtt: number | null;
  /** Users that reported its updates disagreed, and `admin` when it was in the minority of a vote the admin counted. */
  flaggedBy: string[];
  /** Times this peer was in the minority of the admin's own tally (once is enough to be replaced). */
  minority: number | null;
}

/** How many of a site's last lifecycle transitions the view carries. */
const TRANSITIONS_SHOWN = 6;

export interface OperatorSite {
  id: string;
  name: string;
  mode: 'cs' | 'p2p';
  /** Where the site is in its lifecycle at the admin (p2p/lifecycle.ts). */
  state: SiteState;
  /** When it entered that state (admin clock, ms, as `now`); null: client-server since the admin started. */
  since: number | null;
  /** Its last lifecycle transitions, oldest first. */
  transitions: Array<{ from: SiteState; event: SiteEvent; to: SiteState; at: number }>;
  users: string[];
  blocked: string | null;
  closing: boolean;
  /** After an admin restart: the servers and users this P2P site still waits for, or null. */
  waitingFor: { users: string[]; servers: string[] } | null;
  epoch: number | null;
  /** Player actions the admin itself applied on this site (they stop while it is P2P). */
  actionsAtAdmin: number;
  /** Mean of its active servers' action delays (P2P), ms; null when none reported one. */
  actionDelay: number | null;
  servers: OperatorServer[];
}

export interface OperatorView {
  now: number;
  settings: { nServer: number; transferThreshold: number; T_timeslot: number };
  sites: OperatorSite[];
  peers: Array<{ user: string; serverId: string | null; serve: boolean; rtt: number | null; serving: string | null; why: string | null }>;
  /** Servers users reported or the admin caught in the minority, convicted first, with their evidence. */
  suspects: Suspect[];
  /** The admin's own CPU, bytes and players (cumulative counters and live rates); null without metrics. */
  admin: AdminMetrics | null;
}

export function operatorView(d: Pick<OperatorDeps, 'p2p' | 'game' | 'now' | 'options' | 'metrics'>): OperatorView {
  const hooks = d.game.hooks();
  const sites: OperatorSite[] = listSites().map((def) => {
    const h = d.p2p.hosting(def.id);
    const history = d.p2p.lifecycle(def.id).history;
    const s = d.p2p.site(def.id);
    const record = s?.membership() ?? null;
    const servers: OperatorServer[] = (record?.members ?? []).map((m) => {
      const peer = d.p2p.registry.byServerId(m.id);
      const cut = (m.stints[m.stints.length - 1]?.cut ?? null) !== null;
      const st = peer?.serving === def.id ? peer.stats : null;
      return {
        id: m.id,
        user: peer?.user ?? null,
        state: m.slot === null ? 'replaced' : !peer ? 'gone' : cut ? 'ignored' : 'active',
        status: st?.status ?? null,
        ...clockError(st, peer?.rtt ?? null),
        actionDelay: st?.actionDelayMs ?? null,
        actionDelayMax: st?.actionDelayMaxMs ?? null,
        lag: st?.lag ?? null,
        timeslotSeq: st?.timeslotSeq ?? null,
        trmSent: st?.trmSent ?? null,
        trmReceived: st?.trmReceived ?? null,
        bytesInPerSec: st?.bytesInPerSec ?? null,
        bytesOutPerSec: st?.bytesOutPerSec ?? null,
        links: st?.links ?? null,
        rtt: peer?.rtt ?? null,
        flaggedBy: [...(s?.flags.get(m.id) ?? [])],
        minority: peer?.minority ?? null,
      };
    });
    return {
      id: def.id,
      name: def.name,
      mode: h.mode,
      state: h.state,
      since: history.at(-1)?.at ?? null,
      transitions: history.slice(-TRANSITIONS_SHOWN).map((t) => ({ ...t })),
      users: s ? [...s.users] : hooks.usersOn(def.id),
      blocked: h.blocked,
      closing: h.closing,
      waitingFor: s?.waitingFor() ?? null,
      epoch: record?.epoch ?? null,
      actionsAtAdmin: d.game.actionsApplied.get(def.id) ?? 0,
      actionDelay: mean(servers.filter((x) => x.state === 'active').map((x) => x.actionDelay)),
      servers,
    };
  });
  const peers = d.p2p.registry.all().map((p) => ({
    user: p.user,
    serverId: p.serverId,
    serve: p.serve,
    rtt: p.rtt,
    serving: p.serving,
    why: p.serving ?? d.p2p.registry.whyNot(p, '', hooks.siteOf),
  }));
  return {
    now: d.now(),
    settings: { nServer: d.options.nServer, transferThreshold: d.options.transferThreshold, T_timeslot: d.options.T_timeslot },
    sites,
    peers,
    suspects: d.p2p.suspects.list(),
    admin: d.metrics?.snapshot() ?? null,
  };
}

function mean(vs: Array<number | null>): number | null {
  const xs = vs.filter((v): v is number => v !== null);
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** The clock figure of one server's stats (see OperatorServer.clockError). */
export function clockError(
  st: { clock?: number | undefined; at: number } | null,
  rtt: number | null,
): Pick<OperatorServer, 'clockError' | 'clockErrorPlusMinus'> {
  if (!st || st.clock === undefined) return { clockError: null, clockErrorPlusMinus: null };
  // It was sent between at - rtt and at (admin time): the midpoint, within half the round trip.
  if (rtt === null) return { clockError: st.clock - st.at, clockErrorPlusMinus: null };
  return { clockError: st.clock - (st.at - rtt / 2), clockErrorPlusMinus: rtt / 2 };
}

/** Login attempts per address: a second each, ten at once. */
const LOGIN_RATE = { perSecond: 1, burst: 10 };
const PATHS = new Set(['/admin', '/api/admin', '/admin/login', '/admin/logout']);

export function createOperator(d: OperatorDeps): { handle(req: IncomingMessage, res: ServerResponse): boolean } {
  const sessions = new OperatorSessions(d.token);
  const logins = new KeyedRateLimiter(LOGIN_RATE);
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void => {
    d.log?.warn('http.reject', { path: (req.url ?? '').split('?')[0], ip: req.socket.remoteAddress, status, code });
    sendJson(res, status, { error: code, message });
  };
  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!logins.take(req.socket.remoteAddress ?? '?', Date.now())) return refuse(req, res, 429, 'ERR_RATE_LIMITED', 'too many login attempts');
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return refuse(req, res, 415, 'ERR_MALFORMED', 'content-type must be application/json');
    if (Number(req.headers['content-length'] ?? 0) > MAX_LOGIN_BYTES) {
      res.setHeader('Connection', 'close');
      return refuse(req, res, 413, 'ERR_TOO_LARGE', `body exceeds ${MAX_LOGIN_BYTES} bytes`);
    }
    const body = await readSmall(req, MAX_LOGIN_BYTES);
    if (body === null) return refuse(req, res, 413, 'ERR_TOO_LARGE', `body exceeds ${MAX_LOGIN_BYTES} bytes`);
    let token: unknown;
    try {
      token = (JSON.parse(body) as { token?: unknown } | null)?.token;
    } catch {
      return refuse(req, res, 400, 'ERR_MALFORMED', 'body is not JSON');
    }
    const cookie = sessions.login(token);
    if (!cookie) return refuse(req, res, 403, 'ERR_FORBIDDEN', 'wrong operator token');
    res.setHeader('Set-Cookie', cookie);
    sendJson(res, 200, { ok: true });
  };
  return {
    /** Answers /admin, /api/admin, /admin/login and /admin/logout; false for any other path. */
    handle(req, res) {
      // Not `new URL(req.url, base)`: a path starting with `//` would be read as a host (and throw).
      const url = URL.parse(`http://x${req.url?.startsWith('/') ? req.url : '/'}`);
      if (!url || !PATHS.has(url.pathname)) return false;
      res.setHeader('Cache-Control', 'no-store');
      if (url.searchParams.has('token')) {
        refuse(req, res, 403, 'ERR_FORBIDDEN', 'the operator token does not go in the URL: log in at /admin, or send Authorization: Bearer <token>');
        return true;
      }
      const post = url.pathname === '/admin/login' || url.pathname === '/admin/logout';
      if (post !== (req.method === 'POST') || (!post && req.method !== 'GET' && req.method !== 'HEAD')) {
        res.setHeader('Allow', post ? 'POST' : 'GET');
        sendJson(res, 405, { error: 'ERR_METHOD', message: post ? 'POST only' : 'GET only' });
        return true;
      }
      if (url.pathname === '/admin/login') {
        login(req, res).catch((err: unknown) => {
          d.log?.error('http.internal', { path: url.pathname, err });
          if (!res.headersSent) sendJson(res, 500, { error: 'ERR_INTERNAL', message: 'internal error' });
        });
        return true;
      }
      if (url.pathname === '/admin/logout') {
        res.writeHead(303, { 'Set-Cookie': sessions.logout(req), Location: '/admin' });
        res.end();
        return true;
      }
      const html = {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'",
      };
      if (!sessions.allowed(req)) {
        if (url.pathname === '/admin') {
          // A person: the login form (403, so that nothing mistakes it for the page).
          res.writeHead(403, html);
          res.end(LOGIN_PAGE);
          return true;
        }
        refuse(req, res, 403, 'ERR_FORBIDDEN', 'the operator API needs Authorization: Bearer <token> or a login at /admin');
        return true;
      }
      if (url.pathname === '/api/admin') {
        sendJson(res, 200, operatorView(d));
        return true;
      }
      res.writeHead(200, html);
      res.end(OPERATOR_PAGE);
      return true;
    },
  };
}

/** The body as text, or null past `max` bytes (the rest is drained, not read). */
function readSmall(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= max) chunks.push(b);
    });
    req.on('end', () => resolve(size > max ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
