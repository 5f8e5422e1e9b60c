/**
 * The operator page: `/admin?token=…` (HTML, refreshes itself every second) and `/api/admin?token=…`
 * (the same as JSON). Every site with its mode, population and why it is not P2P; its servers
 * with their state, how far their clock is from the admin's, their action delay, timeslot lag,
 * TRMs, bytes per second and the users that flagged them; every connected peer with why it can or
 * cannot serve; and the admin's own CPU and bytes per player (metrics.ts). Behind a token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listSites } from '../src/game/index.js';
import type { Game } from './game.js';
import { sendJson } from './http.js';
import type { Logger } from './log.js';
import type { AdminMetrics, ServerMetrics } from './metrics.js';
import type { P2PManager } from './p2p/manager.js';
import type { P2POptions } from './p2p/settings.js';

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
  /** Times this peer was in the minority (it is no longer chosen after 3). */
  minority: number | null;
}

export interface OperatorSite {
  id: string;
  name: string;
  mode: 'cs' | 'p2p';
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
  /** The admin's own CPU, bytes and players (cumulative counters and live rates); null without metrics. */
  admin: AdminMetrics | null;
}

export function operatorView(d: Pick<OperatorDeps, 'p2p' | 'game' | 'now' | 'options' | 'metrics'>): OperatorView {
  const hooks = d.game.hooks();
  const sites: OperatorSite[] = listSites().map((def) => {
    const h = d.p2p.hosting(def.id);
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

function tokenOk(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createOperator(d: OperatorDeps): { handle(req: IncomingMessage, res: ServerResponse): boolean } {
  return {
    /** Answers /admin and /api/admin; false for any other path. */
    handle(req, res) {
      // Not `new URL(req.url, base)`: a path starting with `//` would be read as a host (and throw).
      const url = URL.parse(`http://x${req.url?.startsWith('/') ? req.url : '/'}`);
      if (!url) return false;
      if (url.pathname !== '/admin' && url.pathname !== '/api/admin') return false;
      res.setHeader('Cache-Control', 'no-store');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET');
        sendJson(res, 405, { error: 'ERR_METHOD', message: 'GET only' });
        return true;
      }
      if (!tokenOk(url.searchParams.get('token'), d.token)) {
        d.log?.warn('http.reject', { path: url.pathname, ip: req.socket.remoteAddress, status: 403, code: 'ERR_FORBIDDEN' });
        sendJson(res, 403, { error: 'ERR_FORBIDDEN', message: 'the operator page needs its token: /admin?token=…' });
        return true;
      }
      if (url.pathname === '/api/admin') {
        sendJson(res, 200, operatorView(d));
        return true;
      }
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      });
      res.end(PAGE);
      return true;
    },
  };
}

/** The page: plain DOM, fetches the JSON every second with the token it was opened with. */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MMO operator</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px;background:#111;color:#ddd}
h1{font-size:18px;margin:0 0 8px}h2{font-size:15px;margin:18px 0 4px}
table{border-collapse:collapse;margin:4px 0 10px}td,th{border:1px solid #333;padding:3px 6px;text-align:left}
th{background:#222}.p2p{color:#7fd67f}.cs{color:#9ab}.bad{color:#f77}.warn{color:#fc6}
small{color:#888}
</style></head><body>
<h1>Administration Server <small id="at"></small></h1>
<div id="settings"></div>
<div id="admin" data-testid="operator-admin"></div>
<div id="sites" data-testid="operator-sites"></div>
<h2>Peers</h2><div id="peers"></div>
<script>
const token = new URLSearchParams(location.search).get('token') || '';
const esc = (v) => String(v ?? '—').replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const n = (v, d = 0) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));
function table(head, rows) {
  return '<table><tr>' + head.map((h) => '<th>' + esc(h) + '</th>').join('') + '</tr>' +
    rows.map((r) => '<tr>' + r.map((c) => '<td>' + c + '</td>').join('') + '</tr>').join('') + '</table>';
}
async function refresh() {
  try {
    const r = await fetch('/api/admin?token=' + encodeURIComponent(token));
    if (!r.ok) { document.getElementById('sites').textContent = 'HTTP ' + r.status; return; }
    const v = await r.json();
    document.getElementById('at').textContent = new Date(v.now).toLocaleTimeString();
    document.getElementById('settings').textContent = 'N_server ' + v.settings.nServer + ', transfer threshold ' + v.settings.transferThreshold + ' users, T_timeslot ' + v.settings.T_timeslot + ' ms';
    const a = v.admin, ra = a && a.rates;
    document.getElementById('admin').textContent = !a ? '' : 'This server: ' + a.players + ' players, CPU ' + (ra ? n(ra.cpuPercent, 1) + ' %' : '—') +
      ', in ' + (ra ? n(ra.bytesInPerPlayerSecond) : '—') + ' B and out ' + (ra ? n(ra.bytesOutPerPlayerSecond) : '—') + ' B per player-second' +
      (ra ? ' (last ' + n(ra.windowMs / 1000) + ' s)' : '') + '; since start ' + n(a.cpuUserMs + a.cpuSystemMs) + ' ms CPU, ' + n(a.bytesIn) + ' B in, ' + n(a.bytesOut) + ' B out, ' + n(a.playerSeconds) + ' player-seconds';
    document.getElementById('sites').innerHTML = v.sites.map((s) =>
      '<h2 data-site="' + esc(s.id) + '" data-mode="' + esc(s.mode) + '">' + esc(s.name) + ' <span class="' + s.mode + '">' + s.mode.toUpperCase() + (s.closing ? ' (going back to the admin)' : '') + '</span> <small>' +
      s.users.length + ' users, ' + s.actionsAtAdmin + ' actions applied by the admin' + (s.epoch ? ', membership epoch ' + s.epoch : '') + (s.actionDelay !== null ? ', action delay at its servers ' + n(s.actionDelay) + ' ms' : '') + '</small></h2>' +
      (s.blocked ? '<div class="warn" data-testid="blocked">not P2P: ' + esc(s.blocked) + '</div>' : '') +
      (s.waitingFor ? '<div class="warn" data-testid="resuming">resumed after a restart, waiting for servers ' + s.waitingFor.servers.map(esc).join(', ') + ' and users ' + s.waitingFor.users.map(esc).join(', ') + '</div>' : '') +
      (s.users.length ? '<div><small>users: ' + s.users.map(esc).join(', ') + '</small></div>' : '') +
      (s.servers.length ? table(['server', 'player', 'state', 'status', 'clock vs admin ms', 'action delay ms (max)', 'timeslot lag ms', 'timeslot', 'TRM sent', 'TRM received', 'in B/s', 'out B/s', 'links', 'rtt ms', 'flagged by', 'in minority'],
        s.servers.map((x) => ['<code>' + esc(x.id) + '</code>', esc(x.user), '<span class="' + (x.state === 'active' ? '' : 'bad') + '">' + esc(x.state) + '</span>', esc(x.status), (x.clockError === null ? '—' : n(x.clockError, 1) + (x.clockErrorPlusMinus === null ? '' : ' ± ' + n(x.clockErrorPlusMinus, 1))), (x.actionDelay === null ? '—' : n(x.actionDelay) + ' (' + n(x.actionDelayMax) + ')'), n(x.lag), n(x.timeslotSeq), n(x.trmSent), n(x.trmReceived), n(x.bytesInPerSec), n(x.bytesOutPerSec), n(x.links), n(x.rtt, 1), esc(x.flaggedBy.join(', ') || ''), n(x.minority)])) : '')
    ).join('');
    document.getElementById('peers').innerHTML = table(['player', 'server id', 'may serve', 'rtt ms', 'serving', 'why not eligible'],
      v.peers.map((p) => [esc(p.user), '<code>' + esc(p.serverId) + '</code>', p.serve ? 'yes' : 'no', n(p.rtt, 1), esc(p.serving), esc(p.why)]));
  } catch (e) { document.getElementById('sites').textContent = String(e); }
}
refresh(); setInterval(refresh, 1000);
</script></body></html>`;
