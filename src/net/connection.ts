/**
 * One logged-in session over the admin WebSocket: says hello, feeds `enter`/`update` into the
 * state through its pure transitions (the only writer of accepted state), measures round trip
 * (ping every 5 s on a client-server site) and action delay, numbers and sends the player's actions. When the player's
 * site is P2P its actions go to the Site Servers instead (P2PNode) and only majority-accepted
 * updates reach the state; at each change of route the actions not applied yet are resent.
 *
 * When the admin socket drops (not closed by us, no fatal error) the P2P node is not closed: its
 * links and hosts keep the P2P site playing ("detached": actions still go to the Site Servers,
 * accepted updates still reach the state) until `handOff()` gives it to the next session
 * (reconnect.ts) or `closeNode()` ends it.
 */
import type { PlayerAction } from '../game/types.js';
import { viewOf } from '../game/view.js';
import type { ErrorCode } from '../protocol/errors.js';
import type { ClientMessage, ServerMessage, SiteUpdate } from '../protocol/messages.js';
import { AdminSocket, defaultSocketUrl, type SocketFactory } from './adminSocket.js';
import { P2PNode, type NodeBinding, type NodeOptions } from './p2p/node.js';
import { enterSite, expire, receiveUpdate, sentAction, type ClientError, type GameState, type StateBox } from './state.js';

/**
 * The HUD's round trip, nothing else (the admin pings tabs itself for server choice, and P2P clock
 * sync has its own exchange): every 5 s, not 2, because each ping wakes the admin, and at a few
 * players per site those wake-ups were a fifth of its P2P CPU (docs/performance.md section 7).
 * Not sent while the player is on a P2P site: its actions do not go through the admin then, and
 * the pings were 0.2 frames a player-second each way at the admin ("Admin CPU" there); the HUD
 * keeps the last round trip measured.
 */
export const PING_INTERVAL_MS = 5000;
/** Sent but not yet applied actions at most; more key presses wait (the server limits 20/s anyway). */
export const MAX_INFLIGHT = 6;
/** Recently sent actions kept to resend across a change of route (hand-over, hand-back). */
const RESEND_KEEP = 64;
/** Errors that end the session: the token or the page is no good, or another tab took over. */
const FATAL: ReadonlySet<string> = new Set([
  'ERR_TOKEN_INVALID',
  'ERR_TOKEN_EXPIRED',
  'ERR_VERSION',
  'ERR_NOT_AUTHENTICATED',
  'ERR_LOGGED_IN_ELSEWHERE',
]);

export interface SessionEnd {
  /** Why it ended; null for a clean logout. */
  error: ClientError | null;
  /** The token is no longer usable (logout, bad token, logged in elsewhere). */
  dropToken: boolean;
}

/** What the P2P layer needs from its host (browser or bot): links, a wake-up source, randomness. */
export type P2PEnvironment = Pick<NodeOptions, 'links' | 'wakeup' | 'randomBytes'> & { crypto?: NodeOptions['crypto']; cheat?: NodeOptions['cheat'] };

/** What a detached session hands the next one: the running node and the actions it may resend. */
export interface Carried {
  readonly node: P2PNode;
  readonly recent: Map<number, PlayerAction>;
  readonly held: PlayerAction[];
}

export interface ConnectionOptions {
  store: StateBox;
  url?: string;
  socketFactory?: SocketFactory;
  /** Monotonic ms clock for RTT and delays. */
  now?: () => number;
  /** Wall clock ms, for the clock offset estimate. */
  wallNow?: () => number;
  /** Takes part in P2P (plays P2P sites, may serve sites). Without it the session is client-server only. */
  p2p?: P2PEnvironment;
  /** From the previous session's `handOff()`: go on with its node instead of making one. */
  carried?: Carried | null;
  /** The session ended; after an ERR_CLOSED its node may still run (`detached`). */
  onEnd(end: SessionEnd): void;
  /** Every update the state accepted, in order (client-server or by majority), for logs and checks. */
  onUpdate?: (update: SiteUpdate) => void;
  log?: (...args: unknown[]) => void;
}

export class GameConnection {
  private readonly socket: AdminSocket;
  private readonly store: StateBox;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pingId = 0;
  private readonly pings = new Map<number, { sent: number; wall: number }>();
  private welcomed = false;
  private ended = false;
  /** Ended, the node still running and still ours (neither handed off nor closed). */
  private keptNode = false;
  private pendingEnd: SessionEnd | null = null;
  readonly node: P2PNode | null;
  /** Recently sent actions by number, to resend when the route changes. */
  private readonly recent: Map<number, PlayerAction>;
  /** Actions pressed while the site goes back to the admin: sent once it is. */
  private held: PlayerAction[];

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
    this.recent = opts.carried?.recent ?? new Map();
    this.held = opts.carried?.held ?? [];
    const binding = this.binding();
    const env = opts.p2p;
    if (opts.carried) {
      this.node = opts.carried.node;
      this.node.rebind(binding);
    } else this.node = env ? new P2PNode({ ...env, ...binding, localNow: this.now }) : null;
  }

  private binding(): NodeBinding {
    return {
      toAdmin: (m) => void this.socket.send(m),
      log: (event, fields) => this.opts.log?.(event, fields),
      hooks: {
        accepted: (u) => this.acceptUpdate(u),
        entered: (site, seq, snapshot) => {
          const s = this.store.getState();
          if (s.site !== site) return;
          this.store.setState((st) =>
            enterSite(st, { site, mode: 'p2p', seq, view: viewOf(snapshot), lastActionNo: st.nextActionNo - 1, servers: st.servers.map((x) => x.id) }, this.now()),
          );
        },
        serving: (site) => this.store.setState({ serving: site }),
        serverStates: (states) => this.store.setState({ servers: states }),
      },
    };
  }

  /** Ended by a remote close with the P2P node still running (and not handed off). */
  get detached(): boolean {
    return this.ended && this.keptNode;
  }

  /** The session got its welcome (it was up, not just trying). */
  get wasWelcomed(): boolean {
    return this.welcomed;
  }

  /** Gives the running node of a detached session to the next one; null when there is none. */
  handOff(): Carried | null {
    if (!this.detached || !this.node) return null;
    this.keptNode = false;
    return { node: this.node, recent: this.recent, held: this.held };
  }

  /** Closes the node of a detached session (no reconnect after all). */
  closeNode(): void {
    if (!this.detached) return;
    this.keptNode = false;
    this.node?.close();
  }

  connect(token: string): void {
    this.store.setState({ status: 'connecting', error: null });
    this.socket.connect(this.opts.url ?? defaultSocketUrl(), token);
  }

  /** Numbers and sends one action; false when it cannot be sent now. */
  sendAction(action: PlayerAction): boolean {
    const s = this.store.getState();
    if (s.site === null || s.view === null) return false;
    // Without a live admin session only a P2P site still plays: its actions go over data channels.
    const live = this.welcomed && !this.ended;
    if (!live && !(s.mode === 'p2p' && this.node?.playingP2P === s.site && (!this.ended || this.keptNode))) return false;
    if (Object.keys(s.inflight).length >= MAX_INFLIGHT) return false;
    if (s.closing) {
      this.held.push(action);
      return true;
    }
    return this.dispatch(action);
  }

  /** Sends an action the player already made (no in-flight limit: it was accepted from the keys). */
  private dispatch(action: PlayerAction): boolean {
    const s = this.store.getState();
    if (s.mode === 'p2p') {
      const no = this.node?.act(action) ?? null;
      if (no === null) return false;
      this.sent(no, action, 'peer');
      return true;
    }
    if (!this.socket.open) return false;
    const no = s.nextActionNo;
    this.sent(no, action, 'admin');
    return this.socket.send({ type: 'action', actionNo: no, action });
  }

  private sent(no: number, action: PlayerAction, via: 'admin' | 'peer'): void {
    this.recent.set(no, action);
    for (const k of this.recent.keys()) {
      if (this.recent.size <= RESEND_KEEP) break;
      this.recent.delete(k);
    }
    this.store.setState((st) => {
      const { patch } = sentAction(st, no, this.now());
      const t = st.traffic;
      return { ...patch, traffic: via === 'admin' ? { ...t, adminActions: t.adminActions + 1 } : { ...t, peerActions: t.peerActions + 1 } };
    });
  }

  /** An update accepted outside the admin socket (by a majority of Site Servers). */
  acceptUpdate(update: SiteUpdate): void {
    if (!this.ended || this.keptNode) this.receive(update);
  }

  private receive(update: SiteUpdate): void {
    const prev = this.store.getState();
    this.store.setState((s) => receiveUpdate(s, update, this.now()));
    const tap = this.opts.onUpdate;
    if (!tap || prev.site !== update.site) return;
    // Tell of every update this one let through (it may have closed a gap).
    const pool = [update, ...prev.buffered];
    for (let seq = prev.acceptedSeq + 1; seq <= this.store.getState().acceptedSeq; seq++) {
      const u = pool.find((x) => x.seq === seq);
      if (u) tap(u);
    }
  }

  /** The player's setting: may this tab serve sites? */
  setServe(serve: boolean): void {
    this.store.setState({ serveSetting: serve });
    this.socket.send({ type: 'prefs', serve });
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
        this.node?.onWelcome(m);
        this.socket.send({ type: 'prefs', serve: this.store.getState().serveSetting && this.node !== null });
        this.startPings();
        break;
      case 'enter':
        this.onEnter(m);
        break;
      case 'update':
        // From the admin: only for a client-server site (a P2P site's come by majority).
        if (this.store.getState().mode !== 'p2p') this.receive(m);
        break;
      case 'handOver':
        this.onHandOver(m);
        break;
      case 'siteStatus': {
        const s = this.store.getState();
        if (s.site === m.site) this.store.setState({ blocked: m.blocked, closing: m.closing });
        break;
      }
      case 'keyOk':
      case 'signal':
      case 'peer':
      case 'serve':
      case 'serveEnd':
        this.node?.onMessage(m);
        break;
      case 'pong':
        if (!this.node?.onPong(m.id, m.serverTime)) this.onPong(m.id, m.serverTime);
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

  private onEnter(m: Extract<ServerMessage, { type: 'enter' }>): void {
    const before: GameState = this.store.getState();
    const sameSite = before.site === m.site;
    const user = before.session?.user;
    if (m.resumed && m.mode === 'p2p' && sameSite && this.node?.playingP2P === m.site) {
      // The admin came back and still counts us a user of the site we kept playing: view, seq,
      // actions in flight and the resend buffer stay as they are.
      this.store.setState({ status: 'online', blocked: null, closing: false });
      this.sendHeld();
      return;
    }
    this.node?.leaveSite();
    this.store.setState((s) => ({ ...enterSite(s, m, this.now()), blocked: null, closing: false }));
    if (m.mode === 'p2p' && user && this.node) {
      this.node.playOn({ site: m.site, user, servers: m.servers, seq: m.view ? m.seq : null, hash: m.hash, nextActionNo: this.store.getState().nextActionNo });
    }
    // Back at the admin after a hand-back: what the servers did not apply (or applied after the
    // cut) is resent, then what was pressed meanwhile.
    if (sameSite && m.mode === 'cs') this.resendAbove(m.lastActionNo);
    else this.recent.clear();
    this.sendHeld();
  }

  private sendHeld(): void {
    const held = this.held;
    this.held = [];
    if (this.store.getState().view !== null) for (const a of held) this.dispatch(a);
    else this.held = held;
  }

  private onHandOver(m: Extract<ServerMessage, { type: 'handOver' }>): void {
    const s = this.store.getState();
    const user = s.session?.user;
    if (s.site !== m.site || !user || !this.node) return;
    // Route to the servers; actions the admin did not apply (numbers above lastActionNo) go to them.
    const unapplied = [...this.recent].filter(([no]) => no > m.lastActionNo).sort((a, b) => a[0] - b[0]);
    this.store.setState({ mode: 'p2p', servers: m.servers.map((id) => ({ id, state: 'in-step' as const })), inflight: {} });
    this.node.playOn({ site: m.site, user, servers: m.servers, seq: m.seq, hash: m.hash, nextActionNo: m.lastActionNo + 1 });
    this.recent.clear();
    for (const [, a] of unapplied) {
      const no = this.node.act(a);
      if (no !== null) this.sent(no, a, 'peer');
    }
  }

  private resendAbove(lastActionNo: number): void {
    const again = [...this.recent].filter(([no]) => no > lastActionNo).sort((a, b) => a[0] - b[0]);
    this.recent.clear();
    for (const [no, a] of again) {
      this.sent(no, a, 'admin');
      this.socket.send({ type: 'action', actionNo: no, action: a });
    }
  }

  private onError(code: ErrorCode, message: string, ref?: unknown): void {
    if (FATAL.has(code)) {
      // The server closes after these; remember why so the close reports it.
      this.pendingEnd = { error: { code, message }, dropToken: true };
      setTimeout(() => this.socket.close(1000, code), 500);
      return;
    }
    // Crossed the hand-over: the action was resent to the servers already.
    if (code === 'ERR_SITE_P2P') return;
    const now = this.now();
    // `ref` names a refused action: it will never be applied, so it no longer counts as in flight.
    const refused = ref === undefined || ref === null || ref === '' ? NaN : Number(ref);
    if (Number.isInteger(refused)) this.recent.delete(refused);
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
    if (this.store.getState().mode === 'p2p') return;
    const id = this.pingId++;
    const wall = this.wallNow();
    this.pings.set(id, { sent: this.now(), wall });
    // Forget pings that never came back.
    for (const k of this.pings.keys()) if (k < id - 10) this.pings.delete(k);
    this.socket.send({ type: 'ping', id, t: wall } satisfies ClientMessage);
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
    // A dropped socket is no reason to stop serving or playing a P2P site: the peers are linked.
    if (this.node && end.error?.code === 'ERR_CLOSED') this.keptNode = true;
    else this.node?.close();
    this.opts.onEnd(end);
  }
}

function closedEnd(local: boolean): SessionEnd {
  return local
    ? { error: null, dropToken: false }
    : { error: { code: 'ERR_CLOSED', message: 'connection closed' }, dropToken: false };
}
