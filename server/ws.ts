/**
 * WebSocket connections at `/ws`: one small state machine per connection (awaiting hello →
 * playing → closed). Every frame goes through `parseClientMessage`; a bad frame gets an `error`
 * reply and a log line and touches nothing else. Floods are capped per connection (frames per
 * second) and per user (token bucket on actions).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ACTION_BUDGET } from '../src/protocol/budget.js';
import { CLOCK_PING_BASE } from '../src/protocol/clock.js';
import type { ErrorCode } from '../src/protocol/errors.js';
import {
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_TRANSFER_BYTES,
  PEER_CHUNK_BYTES,
  PROTOCOL_VERSION,
  parseClientMessage,
  type ClientMessage,
  type ServerMessage,
} from '../src/protocol/messages.js';
import type { Accounts } from './accounts.js';
import type { P2PManager } from './p2p/manager.js';
import { encode, type Game, type PlayerLink } from './game.js';
import type { Logger } from './log.js';
import type { ServerMetrics } from './metrics.js';
import { KeyedRateLimiter, TokenBucket, WindowCounter, type RateSpec } from './rateLimit.js';

export const WS_PATH = '/ws';
/**
 * Frames up to this size are read and answered with ERR_TOO_LARGE when over the message limit;
 * larger ones make `ws` close the connection (1009) without buffering them.
 */
export const WS_MAX_PAYLOAD = 4 * MAX_CLIENT_MESSAGE_BYTES;

export interface WsLimits {
  /** Player actions per user. */
  actions: RateSpec;
  /** Frames of any kind per connection per second; above it the connection is closed. */
  maxFramesPerSecond: number;
  /** A connection that has not said hello by then is closed. */
  helloTimeoutMs: number;
  /** Unsent bytes queued for a client beyond which it is dropped (it is not reading). */
  maxBufferedBytes: number;
  /**
   * `peer` envelopes per connection (frames). The burst carries the largest state transfer
   * (MAX_TRANSFER_BYTES in base64 chunks) at once; past it the connection is closed.
   */
  peerFrames: RateSpec;
  /** Open connections from one address; more are closed at once (one machine cannot hold them all). */
  maxConnectionsPerIp: number;
}

/** Frames of the largest state transfer (base64 of MAX_TRANSFER_BYTES in PEER_CHUNK_BYTES chunks), with room. */
const PEER_FRAME_BURST = Math.ceil((MAX_TRANSFER_BYTES * 4) / 3 / PEER_CHUNK_BYTES) + 1000;

export const DEFAULT_WS_LIMITS: WsLimits = {
  // The same budget every Site Server holds a user to on a P2P site.
  actions: ACTION_BUDGET,
  // Signaling bursts (ICE candidates of several links at once) and peer envelopes share it.
  maxFramesPerSecond: 200,
  helloTimeoutMs: 10_000,
  maxBufferedBytes: 1 << 20,
  peerFrames: { perSecond: 1000, burst: PEER_FRAME_BURST },
  // Room for a household or a bot run behind one address (MMO_MAX_CONNECTIONS_PER_IP to raise it).
  maxConnectionsPerIp: 64,
};

export interface WsDeps {
  game: Game;
  accounts: Accounts;
  log: Logger;
  now: () => number;
  limits: WsLimits;
  p2p: P2PManager;
  /** What every peer learns at login besides its identity. */
  welcome: Pick<Extract<ServerMessage, { type: 'welcome' }>, 'adminKey' | 'p2p' | 'iceServers'>;
  /** Frames per message type, each way (the operator JSON's `admin.messages`). */
  metrics?: Pick<ServerMetrics, 'countIn' | 'countOut'>;
}

/** The RttPinger's beat: each tab is pinged on the first beat after its hello, then every RTT_PING_BEATS beats. */
export const RTT_BEAT_MS = 5000;
/**
 * Beats between two pings of a tab once it has two round trips (15 s): each ping is a frame out and
 * a pong in at the admin for every player, 0.2 a player-second each way at 5 s (docs/performance.md
 * "Admin CPU"); a round trip only picks and keeps Site Servers (slow links never serve), and 15 s
 * is still a keep-alive well under the usual idle timeouts of proxies.
 */
export const RTT_PING_BEATS = 3;

/**
 * One timer pings the welcomed tabs on a beat: the admin wakes once for all of them, not once per
 * connection at scattered times (an idle admin's wake-ups cost more than its work). A tab is pinged
 * at hello and on the next beat (its first reading is often taken while it loads, and a slow one
 * keeps it from serving until the next), then every RTT_PING_BEATS beats.
 */
export class RttPinger {
  /** Each tab with the beats since its hello. */
  private readonly links = new Map<{ measureRtt(): void }, number>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly beatMs = RTT_BEAT_MS, private readonly everyBeats = RTT_PING_BEATS) {}

  /** Pings `link` now, on the next beat, then every `everyBeats` beats with the others. */
  add(link: { measureRtt(): void }): void {
    this.links.set(link, 0);
    link.measureRtt();
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const [l, n] of this.links) {
        this.links.set(l, n + 1);
        if (n % this.everyBeats === 0) l.measureRtt();
      }
    }, this.beatMs);
    this.timer.unref();
  }

  delete(link: { measureRtt(): void }): void {
    this.links.delete(link);
    if (this.links.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  get size(): number {
    return this.links.size;
  }
}

export interface WsEndpoint {
  /** Closes every connection (1001) and the endpoint. */
  close(): Promise<void>;
  readonly connections: number;
}

/**
 * Serves `/ws` on `server`. Other upgrade paths are refused, unless `shareUpgrades` (dev mode,
 * where Vite's hot-reload socket shares the port and answers its own upgrades).
 */
export function attachWebSocket(server: Server, deps: WsDeps, shareUpgrades = false): WsEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD, perMessageDeflate: false });
  const actionLimiter = new KeyedRateLimiter(deps.limits.actions);
  const pinger = new RttPinger();
  let nextId = 1;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== WS_PATH) {
      if (!shareUpgrades) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', onUpgrade);

  const perIp = new Map<string, number>();
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const ip = req.socket.remoteAddress ?? '?';
    const open = perIp.get(ip) ?? 0;
    if (open >= deps.limits.maxConnectionsPerIp) {
      deps.log.warn('ws.too_many_connections', { ip, open });
      ws.send(encode({ type: 'error', code: 'ERR_TOO_MANY_CONNECTIONS', message: `at most ${deps.limits.maxConnectionsPerIp} connections per address` }));
      ws.close(1008, 'ERR_TOO_MANY_CONNECTIONS');
      return;
    }
    perIp.set(ip, open + 1);
    ws.once('close', () => {
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n > 0) perIp.set(ip, n);
      else perIp.delete(ip);
    });
    new Connection(ws, nextId++, ip, deps, actionLimiter, pinger);
  });

  const sweep = setInterval(() => actionLimiter.sweep(deps.now()), 60_000);
  sweep.unref();

  return {
    get connections() {
      return wss.clients.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sweep);
        server.off('upgrade', onUpgrade);
        for (const ws of wss.clients) ws.close(1001, 'server shutting down');
        // Clients that do not answer the close handshake promptly are cut off.
        const force = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 500);
        force.unref();
        wss.close(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

type Phase =
  { kind: 'hello' } | { kind: 'playing'; user: string; guest: boolean; token: string } | { kind: 'closed' };

class Connection implements PlayerLink {
  private phase: Phase = { kind: 'hello' };
  private readonly frames = new WindowCounter();
  private readonly peerFrames: TokenBucket;
  private lastRateLog = -Infinity;
  private readonly helloTimer: ReturnType<typeof setTimeout>;
  /** This connection's handle at the P2P manager: its close must not disconnect a newer connection of the user. */
  private readonly p2pTab = { send: (m: ServerMessage): void => this.send(encode(m)) };
  private pingSentAt: number | null = null;

  constructor(
    private readonly ws: WebSocket,
    private readonly id: number,
    private readonly ip: string,
    private readonly deps: WsDeps,
    private readonly actionLimiter: KeyedRateLimiter,
    private readonly pinger: RttPinger,
  ) {
    this.peerFrames = new TokenBucket(deps.limits.peerFrames, deps.now());
    ws.on('message', (data: RawData, isBinary: boolean) =>
      this.guard('message', () => this.onFrame(data, isBinary)),
    );
    ws.on('close', (code: number) => this.guard('close', () => this.onClose(code)));
    ws.on('pong', () =>
      this.guard('pong', () => {
        this.deps.metrics?.countIn('ws.pong', 0);
        if (this.pingSentAt === null || this.phase.kind !== 'playing') return;
        this.deps.p2p.setRtt(this.phase.user, performance.now() - this.pingSentAt);
        this.pingSentAt = null;
      }),
    );
    ws.on('error', (err: Error) =>
      this.deps.log.warn('ws.socket_error', { conn: this.id, ip: this.ip, err }),
    );
    this.helloTimer = setTimeout(() => {
      if (this.phase.kind === 'hello') this.end(1008, 'ERR_NOT_AUTHENTICATED', 'no hello in time');
    }, deps.limits.helloTimeoutMs);
    this.helloTimer.unref();
    deps.log.info('ws.open', { conn: id, ip });
  }

  // --- PlayerLink ---------------------------------------------------------------------------

  send(json: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > this.deps.limits.maxBufferedBytes) {
      // Called from inside a broadcast: leave the site on a later tick, not in the middle of it.
      this.deps.log.warn('ws.slow_consumer', {
        conn: this.id,
        user: this.userName,
        buffered: this.ws.bufferedAmount,
      });
      queueMicrotask(() => this.guard('slow', () => this.end(1008, null, 'not reading', true)));
      return;
    }
    this.deps.metrics?.countOut(outKind(json), json.length);
    this.ws.send(json);
  }

  kick(code: ErrorCode, message: string): void {
    // Game has already handed the user to another link, so this connection leaves nothing behind.
    this.sendMsgError(code, message);
    this.send(encode({ type: 'bye', reason: code }));
    this.phase = { kind: 'closed' };
    clearTimeout(this.helloTimer);
    // Not released: the peer registry already belongs to the link that took over.
    this.pinger.delete(this);
    this.ws.close(1000, code);
  }

  // --- frames -------------------------------------------------------------------------------

  private get userName(): string | undefined {
    return this.phase.kind === 'playing' ? this.phase.user : undefined;
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.phase.kind === 'closed') return;
    const buf = toBuffer(data);
    const parsed = parseClientMessage(isBinary ? new Uint8Array(buf) : buf.toString('utf8'));
    this.deps.metrics?.countIn(parsed.ok ? inKind(parsed.value) : 'invalid', buf.length);
    // Peer envelopes have their own, larger budget: a serving tab sends a whole state in them
    // (thousands of frames at once) when the admin asks for it.
    const now = this.deps.now();
    const flood =
      parsed.ok && parsed.value.type === 'peer' && this.phase.kind === 'playing'
        ? !this.peerFrames.take(now)
        : this.frames.hit(now) > this.deps.limits.maxFramesPerSecond;
    if (flood) {
      this.deps.log.warn('ws.flood_closed', { conn: this.id, ip: this.ip, user: this.userName, peer: parsed.ok && parsed.value.type === 'peer' });
      this.end(1008, 'ERR_RATE_LIMITED', 'too many messages; connection closed');
      return;
    }
    if (!parsed.ok) {
      this.reject(parsed.code, parsed.message);
      return;
    }
    this.dispatch(parsed.value);
  }

  private dispatch(msg: ClientMessage): void {
    const { game, accounts, now } = this.deps;
    if (msg.type === 'hello') {
      if (this.phase.kind === 'playing') {
        this.reject('ERR_ALREADY_AUTHENTICATED', 'already said hello');
        return;
      }
      if (msg.v !== PROTOCOL_VERSION) {
        this.end(1008, 'ERR_VERSION', `protocol version ${PROTOCOL_VERSION} expected, got ${msg.v}`);
        return;
      }
      const who = accounts.resolve(msg.token);
      if (!who.ok) {
        this.end(1008, who.code, who.message);
        return;
      }
      clearTimeout(this.helloTimer);
      this.phase = { kind: 'playing', user: who.user, guest: who.guest, token: msg.token };
      this.deps.log.info('ws.hello', { conn: this.id, user: who.user, guest: who.guest });
      const challenge = this.deps.p2p.connect(who.user, this.p2pTab, { ip: this.ip, guest: who.guest });
      this.send(
        encode({
          type: 'welcome',
          v: PROTOCOL_VERSION,
          user: who.user,
          guest: who.guest,
          serverTime: now(),
          challenge,
          ...this.deps.welcome,
        }),
      );
      this.pinger.add(this);
      try {
        game.enter(who.user, who.guest, this);
      } catch (err) {
        // Welcomed but not on a site is no state to play in: log, tell, close.
        this.deps.log.error('ws.internal', {
          conn: this.id,
          user: who.user,
          what: 'enter',
          err,
          stack: (err as Error)?.stack,
        });
        this.end(1011, 'ERR_INTERNAL', 'could not enter the game');
      }
      return;
    }
    if (msg.type === 'ping') {
      // Answered before hello too: the login screen may measure the round trip.
      this.send(encode({ type: 'pong', id: msg.id, t: msg.t, serverTime: now() }));
      return;
    }
    if (this.phase.kind !== 'playing') {
      this.reject('ERR_NOT_AUTHENTICATED', 'say hello first');
      return;
    }
    const { user, guest, token } = this.phase;
    if (msg.type === 'logout') {
      this.released(user);
      game.leave(user, this, { forget: guest, reason: 'logout' });
      accounts.endSession(token);
      this.send(encode({ type: 'bye', reason: 'logout' }));
      this.phase = { kind: 'closed' };
      this.ws.close(1000, 'logout');
      return;
    }
    if (msg.type !== 'action') {
      const refusal = this.deps.p2p.onMessage(user, msg);
      if (refusal) this.reject(refusal.code, refusal.message);
      return;
    }
    const t = now();
    if (!this.actionLimiter.take(user, t)) {
      // Every dropped action is answered (the client frees its in-flight slot on the reply; a
      // silent drop would stall it); the frame limit bounds the replies. Logged once a second.
      this.sendMsgError('ERR_RATE_LIMITED', 'too many actions; this one was dropped', String(msg.actionNo));
      if (t - this.lastRateLog >= 1000) {
        this.lastRateLog = t;
        this.deps.log.warn('ws.rate_limited', { conn: this.id, user });
      }
      return;
    }
    const err = game.act(user, this, msg.actionNo, msg.action);
    if (err) this.reject(err.code, err.message, String(msg.actionNo));
  }

  private onClose(code: number): void {
    clearTimeout(this.helloTimer);
    const was = this.phase;
    this.phase = { kind: 'closed' };
    if (was.kind === 'playing') {
      this.released(was.user);
      this.deps.game.leave(was.user, this, { forget: false, reason: `closed ${code}` });
    }
    this.deps.log.info('ws.close', {
      conn: this.id,
      user: was.kind === 'playing' ? was.user : undefined,
      code,
    });
  }

  /** Called by the RttPinger; its `pong` gives the round trip. */
  measureRtt(): void {
    this.guard('rtt', () => {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.pingSentAt = performance.now();
      this.deps.metrics?.countOut('ws.ping', 0);
      this.ws.ping();
    });
  }

  /** The connection is gone: it serves and signals nothing more. */
  private released(user: string): void {
    this.pinger.delete(this);
    this.deps.p2p.disconnect(user, this.p2pTab);
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Refuses one frame: error reply and a log line; the connection stays. */
  private reject(code: ErrorCode, message: string, ref?: string): void {
    this.deps.log.warn('ws.reject', { conn: this.id, ip: this.ip, user: this.userName, code, message });
    this.sendMsgError(code, message, ref);
  }

  private sendMsgError(code: ErrorCode, message: string, ref?: string): void {
    this.send(
      encode(ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref }),
    );
  }

  /** Ends the connection: optional error reply, leave and save, close (or cut off when `hard`). */
  private end(closeCode: number, code: ErrorCode | null, message: string, hard = false): void {
    if (this.phase.kind === 'closed') return;
    if (code) {
      this.deps.log.warn('ws.end', { conn: this.id, ip: this.ip, user: this.userName, code, message });
      this.sendMsgError(code, message);
    }
    const was = this.phase;
    this.phase = { kind: 'closed' };
    clearTimeout(this.helloTimer);
    if (was.kind === 'playing') {
      this.released(was.user);
      this.deps.game.leave(was.user, this, { forget: false, reason: code ?? message });
    }
    if (hard) this.ws.terminate();
    else this.ws.close(closeCode, code ?? message);
  }

  /** Any exception in a handler becomes ERR_INTERNAL for this client only. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.log.error('ws.internal', {
        conn: this.id,
        user: this.userName,
        what,
        err,
        stack: (err as Error)?.stack,
      });
      try {
        this.sendMsgError('ERR_INTERNAL', 'internal error');
      } catch {
        // the socket is gone; nothing more to do
      }
    }
  }
}

/** What a frame in is counted as: its type; a clock-sync ping apart from a round-trip one. */
function inKind(m: ClientMessage): string {
  if (m.type === 'ping') return m.id >= CLOCK_PING_BASE ? 'ping.clock' : 'ping';
  return m.type;
}

/** The type of an encoded ServerMessage (`encode` writes `type` first when the literal does), read without parsing. */
function outKind(json: string): string {
  const head = '{"type":"';
  if (!json.startsWith(head)) return 'other';
  const end = json.indexOf('"', head.length);
  return end > head.length && end - head.length <= 24 ? json.slice(head.length, end) : 'other';
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
