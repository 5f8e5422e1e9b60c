/**
 * One logged-in session over the admin WebSocket: says hello, feeds `enter`/`update` into the
 * store through its pure transitions (the only writer of accepted state), measures round trip
 * (ping every 2 s) and action delay, numbers and sends the player's actions.
 */
import type { PlayerAction } from '../game/types.js';
import type { ErrorCode } from '../protocol/errors.js';
import type { ServerMessage, SiteUpdate } from '../protocol/messages.js';
import {
  enterSite,
  expire,
  receiveUpdate,
  takeActionNo,
  type ClientError,
  type GameStore,
} from '../client/store.js';
import { AdminSocket, defaultSocketUrl, type SocketFactory } from './adminSocket.js';

export const PING_INTERVAL_MS = 2000;
/** Sent but not yet applied actions at most; more key presses wait (the server limits 20/s anyway). */
export const MAX_INFLIGHT = 6;
/** Errors that end the session: the token or the page is no good, or another tab took over. */
const FATAL: ReadonlySet<string> = new Set([
  'ERR_TOKEN_INVALID',
  'ERR_TOKEN_EXPIRED',
  'ERR_VERSION',
  'ERR_NOT_AUTHENTICATED',
  'ERR_LOGGED_IN_ELSEWHERE',
]);

/**
 * Where numbered actions go. The admin socket by default (client-server sites); the P2P layer
 * installs a route to the Site Servers of a P2P site with `setActionRoute`.
 */
export interface ActionRoute {
  send(actionNo: number, action: PlayerAction): boolean;
}

export interface SessionEnd {
  /** Why it ended; null for a clean logout. */
  error: ClientError | null;
  /** The token is no longer usable (logout, bad token, logged in elsewhere). */
  dropToken: boolean;
}

export interface ConnectionOptions {
  store: GameStore;
  url?: string;
  socketFactory?: SocketFactory;
  /** Monotonic ms clock for RTT and delays. */
  now?: () => number;
  /** Wall clock ms, for the clock offset estimate. */
  wallNow?: () => number;
  onEnd(end: SessionEnd): void;
  log?: (...args: unknown[]) => void;
}

export class GameConnection {
  private readonly socket: AdminSocket;
  private readonly store: GameStore;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pingId = 0;
  private readonly pings = new Map<number, { sent: number; wall: number }>();
  private welcomed = false;
  private ended = false;
  private pendingEnd: SessionEnd | null = null;
  private route: ActionRoute | null = null;

  constructor(private readonly opts: ConnectionOptions) {
    this.store = opts.store;
    this.now = opts.now ?? (() => performance.now());
    this.wallNow = opts.wallNow ?? (() => Date.now());
    this.socket = new AdminSocket(
      {
        onOpen: () => this.store.setState({ status: 'authenticating' }),
        onMessage: (m) => this.onMessage(m),
        onClose: (info) => this.finish(this.pendingEnd ?? closedEnd(info.local)),
        onBadFrame: (_raw, why) => opts.log?.('dropped server frame:', why),
      },
      opts.socketFactory,
    );
  }

  connect(token: string): void {
    this.store.setState({ status: 'connecting', error: null });
    this.socket.connect(this.opts.url ?? defaultSocketUrl(), token);
  }

  /** Numbers and sends one action; false when it cannot be sent now. */
  sendAction(action: PlayerAction): boolean {
    const s = this.store.getState();
    if (!this.welcomed || s.site === null || (!this.route && !this.socket.open)) return false;
    if (Object.keys(s.inflight).length >= MAX_INFLIGHT) return false;
    const { actionNo, patch } = takeActionNo(s, this.now());
    this.store.setState(patch);
    return this.route
      ? this.route.send(actionNo, action)
      : this.socket.send({ type: 'action', actionNo, action });
  }

  /** Sends actions another way (P2P Site Servers) until called with null. */
  setActionRoute(route: ActionRoute | null): void {
    this.route = route;
  }

  /** An update accepted outside the admin socket (by a majority of Site Servers). */
  acceptUpdate(update: SiteUpdate): void {
    if (!this.ended) this.store.setState((s) => receiveUpdate(s, update, this.now()));
  }

  /** Asks the admin to log out; the session ends on its `bye` or on close (1 s at most). */
  logout(): void {
    if (this.ended) return;
    this.pendingEnd = { error: null, dropToken: true };
    if (!this.socket.send({ type: 'logout' })) {
      this.socket.close();
      return;
    }
    setTimeout(() => this.socket.close(1000, 'logout'), 1000);
  }

  /** Closes without logging out (page teardown). */
  close(): void {
    this.pendingEnd ??= { error: null, dropToken: false };
    this.socket.close();
  }

  /** Periodic housekeeping (expiring bubbles); call from a timer or frame loop. */
  tick(): void {
    const patch = expire(this.store.getState(), this.now());
    if (Object.keys(patch).length > 0) this.store.setState(patch);
  }

  private onMessage(m: ServerMessage): void {
    if (this.ended) return;
    switch (m.type) {
      case 'welcome':
        this.welcomed = true;
        this.store.setState({ session: { user: m.user, guest: m.guest }, status: 'online', error: null });
        this.startPings();
        break;
      case 'enter':
        this.store.setState((s) => enterSite(s, m, this.now()));
        break;
      case 'update':
        this.store.setState((s) => receiveUpdate(s, m, this.now()));
        break;
      case 'pong':
        this.onPong(m.id, m.serverTime);
        break;
      case 'error':
        this.onError(m.code, m.message, m.ref);
        break;
      case 'bye':
        if (m.reason === 'logout') this.pendingEnd = { error: null, dropToken: true };
        else this.pendingEnd = { error: { code: m.reason, message: m.reason }, dropToken: true };
        this.socket.close(1000, 'bye');
        break;
    }
  }

  private onError(code: ErrorCode, message: string, ref?: unknown): void {
    if (FATAL.has(code)) {
      // The server closes after these; remember why so the close reports it.
      this.pendingEnd = { error: { code, message }, dropToken: true };
      setTimeout(() => this.socket.close(1000, code), 500);
      return;
    }
    const now = this.now();
    // `ref` names a refused action: it will never be applied, so it no longer counts as in flight.
    const refused = ref === undefined || ref === null || ref === '' ? NaN : Number(ref);
    this.store.setState((s) => {
      let inflight = s.inflight;
      if (Number.isInteger(refused) && refused in inflight) {
        inflight = { ...inflight };
        delete inflight[refused];
      }
      return {
        inflight,
        notice: { text: `${code}${message ? `: ${message}` : ''}`, expiresAt: now + 3000, id: s.nextId },
        nextId: s.nextId + 1,
      };
    });
  }

  private startPings(): void {
    if (this.pingTimer) return;
    this.ping();
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
  }

  private ping(): void {
    const id = this.pingId++;
    const wall = this.wallNow();
    this.pings.set(id, { sent: this.now(), wall });
    // Forget pings that never came back.
    for (const k of this.pings.keys()) if (k < id - 10) this.pings.delete(k);
    this.socket.send({ type: 'ping', id, t: wall });
  }

  private onPong(id: number, serverTime: number): void {
    const p = this.pings.get(id);
    if (!p) return;
    this.pings.delete(id);
    const rtt = Math.max(0, this.now() - p.sent);
    const wallBack = p.wall + rtt;
    const offset = Number.isFinite(serverTime) ? serverTime - (p.wall + wallBack) / 2 : null;
    this.store.setState({ rtt: Math.round(rtt * 10) / 10, clockOffset: offset });
  }

  private finish(end: SessionEnd): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.opts.onEnd(end);
  }
}

function closedEnd(local: boolean): SessionEnd {
  return local
    ? { error: null, dropToken: false }
    : { error: { code: 'ERR_CLOSED', message: 'connection closed' }, dropToken: false };
}
