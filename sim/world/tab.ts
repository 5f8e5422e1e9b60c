/**
 * One player's browser tab in the managed world (game.ts): what P2PNode and the client connection
 * do with the admin's messages, reduced to what the simulator needs, driving the real cores. It
 * plays through the admin (client-server) or through a real Site User core (createSiteUser: it
 * accepts updates by majority), and may serve another site with a real Site Server core
 * (createSiteServer) when the admin's manager chooses it. Peer envelopes to and from the admin are
 * chunked and unchunked as on the wire. A slow, loaded tab handles each input after a CPU-like
 * delay, one at a time.
 *
 * A session's channels outlive it at the servers' end (a closed tab's data channel stays up at
 * the far end until that end notices): a server keeps sending to the user's previous session
 * until the new one has said something to it. That is what made logging back in stall (the
 * join's update was lost and a quiet site sent no other).
 *
 * A tab's machine clock may be off and drift (sim/clock.ts): its cores then run on the clock that
 * the protocol's clock sync (createClockSync, over the admin WebSocket's ping/pong, as P2PNode)
 * gives it, and it registers its key only once that clock has an offset. When the admin restarts,
 * the tab keeps its cores, channels and key (`reconnect`), as P2PNode does across sessions: a
 * server the restarted admin resumes serves on and resends the updates it sent the admin (as
 * SiteServerHost.resendToAdmin); one it does not resume (another id in keyOk) stops.
 */
import { createClockSync } from '../../src/protocol/clock.js';
import type { ClockSync } from '../../src/protocol/api.js';
import type { SiteConfig } from '../../src/protocol/config.js';
import type { SignatureScheme } from '../../src/protocol/crypto.js';
import { keyProofBytes } from '../../src/protocol/keys.js';
import {
  ADMIN_ID,
  type ClientMessage,
  type PeerMessage,
  type PeerRole,
  type ServerMessage,
} from '../../src/protocol/messages.js';
import { createSiteServer } from '../../src/protocol/server.js';
import { createSiteUser } from '../../src/protocol/user.js';
import type { SiteServer, SiteUser } from '../../src/protocol/api.js';
import type { PlayerAction } from '../../src/game/types.js';
import { TabEnvelopes } from '../../src/net/p2p/envelopes.js';
import { HAND_OFF_MS } from '../../src/net/p2p/node.js';
import { ADMIN_OUTBOX } from '../../src/net/p2p/serverHost.js';
import { machineClock, monotonic, type MachineClock } from '../clock.js';
import type { EventQueue } from '../eventQueue.js';
import { Host } from '../host.js';
import type { Network } from '../network.js';

/** What a tab needs from its world. */
export interface TabWorld {
  queue: EventQueue;
  net: Network<PeerMessage>;
  crypto: SignatureScheme;
  adminKey: string;
  configFor(site: string): SiteConfig;
  /** The admin's side of this tab's WebSocket (delivered after the tab's latency, in order). */
  toAdmin(tab: SimTab, msg: ClientMessage): void;
  /** The user has the site's state: its `enter` (client-server), hand-over, or verified entry. */
  ready(tab: SimTab, site: string, how: 'cs' | 'handOver' | 'entered' | 'resumed'): void;
  /** A server core started (the world keeps every core of a site for the logs). */
  served(tab: SimTab, site: string, id: string, core: SiteServer): void;
  /** A user core started on `site` (the world keeps what it accepted). */
  playing(tab: SimTab, site: string, core: SiteUser): void;
}

/** Which session of each user a server's channel to that user belongs to (the lingering channel). */
export class Channels {
  /** Messages lost down a previous session's channel. */
  lost = 0;
  private readonly current = new Map<string, number>();
  private readonly linked = new Map<string, number>();

  session(user: string): number {
    return this.current.get(user) ?? 0;
  }

  /** A new session of `user` (a login). */
  open(user: string): number {
    const s = this.session(user) + 1;
    this.current.set(user, s);
    return s;
  }

  /** `server` heard from `user`: its channel is now the user's current session's. */
  heard(server: string, user: string): void {
    this.linked.set(`${server}\u0000${user}`, this.session(user));
  }

  /** Whether a message from `server` to `user` reaches the current session (a first channel does). */
  reaches(server: string, user: string): boolean {
    const s = this.linked.get(`${server}\u0000${user}`);
    if (s === undefined) {
      this.heard(server, user);
      return true;
    }
    if (s === this.session(user)) return true;
    this.lost++;
    return false;
  }
}

/** A machine clock off by `offsetMs` and drifting `driftPpm` (null: the true time, no clock sync). */
export interface TabSkew {
  offsetMs: number;
  driftPpm: number;
}

export class SimTab {
  /** This session's key (a new tab page makes a new P2P node, with a new key; the first is fixed by the index). */
  secretKey: string;
  key: string;
  /** Login session number (Channels), 0 while logged out. */
  session = 0;
  serverId: string | null = null;
  /** Where the player is, as the admin last said (`enter`), and how it plays there. */
  site: string | null = null;
  mode: 'cs' | 'p2p' | null = null;
  user: { site: string; host: Host<PeerMessage, SiteUser>; core: SiteUser; ready: boolean } | null = null;
  server: { site: string; id: string; host: Host<PeerMessage, SiteServer> } | null = null;
  private handingOff: { site: string; host: Host<PeerMessage, SiteServer> } | null = null;
  /** Next action number (the admin's lastActionNo + 1 at the latest enter). */
  nextNo = 1;
  private readonly envelopes = new TabEnvelopes();
  /** Slow tab: CPU ms per input, and when its one core is free again. */
  private busyUntil = 0;
  private readonly index: number;
  /** The machine's own clock (skewed tabs), and this session's sync of it to the admin's. */
  private readonly machine: MachineClock | null;
  private readonly local: () => number;
  private sync: { clock: ClockSync; host: Host<never> } | null = null;
  /** The key message, held until the clock has its first offset (as P2PNode does). */
  private pendingKey: ClientMessage | null = null;
  /** What the server sent the admin (updates, hashes), to resend to a restarted admin. */
  private outbox: PeerMessage[] = [];

  constructor(
    readonly name: string,
    private readonly w: TabWorld,
    readonly channels: Channels,
    /** CPU-like delay per input, ms (0: a fast machine). */
    readonly cpuMs: number,
    index: number,
    skew: TabSkew | null = null,
  ) {
    this.secretKey = (index.toString(16).padStart(4, '0') + '7c').repeat(11).slice(0, 64);
    this.key = w.crypto.publicKeyOf(this.secretKey);
    this.index = index;
    this.machine = skew ? machineClock(w.queue, skew.offsetMs, skew.driftPpm) : null;
    const m = this.machine;
    this.local = m ? monotonic(() => m.read()) : () => w.queue.now;
  }

  /** The clock this tab's cores run on: the admin's as its clock sync estimates it (exact without skew). */
  readonly now = (): number => this.sync?.clock.now() ?? this.local();

  /** How far the synced clock is from the admin's now, ms (null: no skew, or not synced yet). */
  clockError(): number | null {
    return this.sync?.clock.offset() != null ? this.now() - this.w.queue.now : null;
  }

  get online(): boolean {
    return this.session > 0;
  }

  /** Runs `fn` as this tab's machine would: at once, or after its CPU is free (a loaded machine). */
  private cpu(fn: () => void): void {
    if (this.cpuMs <= 0) return fn();
    const q = this.w.queue;
    const at = Math.max(q.now, this.busyUntil) + this.cpuMs;
    this.busyUntil = at;
    q.schedule(at, fn);
  }

  /** A new login session, its key proved for `challenge` (`sendKey` sends it). */
  login(challenge: string): void {
    this.session = this.channels.open(this.name);
    if (this.session > 1) {
      // A new page: a new key, so a restarted admin never takes it for the last session's server.
      this.secretKey = ((this.index * 4096 + this.session).toString(16).padStart(6, '0') + '7d').repeat(8).slice(0, 64);
      this.key = this.w.crypto.publicKeyOf(this.secretKey);
    }
    this.w.net.attach(this.name, (from, m) => this.cpu(() => this.fromPeer(from, m)));
    this.outbox = [];
    if (this.machine) this.startSync();
    this.reconnect(challenge);
  }

  /** A new admin socket (after a restart) or the first: the same key proved for its challenge. */
  reconnect(challenge: string): void {
    const sig = this.w.crypto.sign(this.secretKey, keyProofBytes(challenge, this.name, this.key));
    this.pendingKey = { type: 'key', key: this.key, sig };
  }

  /** The key goes to the admin now, or once the clock has its first offset. */
  sendKey(): void {
    this.sendKeyIfSynced();
  }

  private sendKeyIfSynced(): void {
    if (!this.pendingKey || (this.sync && this.sync.clock.offset() === null)) return;
    this.w.toAdmin(this, this.pendingKey);
    this.pendingKey = null;
  }

  /** This session's clock sync: its samples over the admin socket (ping, pong), driven on the local clock. */
  private startSync(): void {
    this.sync?.host.crash();
    const clock = createClockSync({
      now: this.local,
      send: ({ id, t0 }) => this.w.toAdmin(this, { type: 'ping', id, t: t0 }),
    });
    const host = new Host<never>({ queue: this.w.queue, id: `${this.name}/clock`, coreNow: this.local });
    host.install({ receive: () => undefined, tick: () => clock.tick(), nextWakeAt: () => clock.nextWakeAt() });
    this.sync = { clock, host };
  }

  /** The tab closes (logout): its cores stop, its channels die with it. */
  close(): void {
    this.session = 0;
    this.pendingKey = null;
    this.sync?.host.crash();
    this.sync = null;
    this.site = null;
    this.mode = null;
    this.stopUser();
    this.stopServing();
    this.endHandOff();
    this.serverId = null;
    this.w.net.detach(this.name);
  }

  /** One action: to the admin (client-server) or to the site's servers (P2P, once ready). */
  act(action: PlayerAction): boolean {
    if (!this.online || !this.site) return false;
    if (this.mode === 'cs') {
      this.w.toAdmin(this, { type: 'action', actionNo: this.nextNo++, action } as ClientMessage);
      return true;
    }
    if (this.mode === 'p2p' && this.user?.ready) {
      this.user.host.poke((c) => void c.act(action));
      return true;
    }
    return false;
  }

  /** A message from the admin's WebSocket. */
  fromAdmin(m: ServerMessage): void {
    if (!this.online) return;
    this.cpu(() => this.onAdmin(m));
  }

  private onAdmin(m: ServerMessage): void {
    if (!this.online) return;
    switch (m.type) {
      case 'keyOk':
        this.serverId = m.serverId;
        // After an admin restart: a server it did not resume has another id now, and stops.
        if (this.server && this.server.id !== m.serverId) this.stopServing(false);
        // Resumed: it resends now, not only on `serve` (none comes if its player walked in), as P2PNode.
        else if (this.server) for (const x of [...this.outbox]) this.peerToAdmin('server', this.server.site, x);
        return;
      case 'pong':
        this.sync?.clock.receive({ id: m.id, t1: m.serverTime, t2: m.serverTime });
        this.sync?.host.reschedule();
        this.sendKeyIfSynced();
        return;
      case 'enter':
        return this.onEnter(m);
      case 'handOver':
        if (this.site !== m.site) return;
        this.mode = 'p2p';
        this.playOn(m.site, m.servers, m.seq, m.hash, m.lastActionNo + 1);
        this.w.ready(this, m.site, 'handOver');
        return;
      case 'serve':
        return this.serve(m.site, m.serverId, m.stateFrom);
      case 'serveEnd':
        if (this.server?.site === m.site) this.stopServing(m.handOff === true);
        return;
      case 'peer':
        return this.onPeer(m);
      default:
        return;
    }
  }

  private onEnter(m: Extract<ServerMessage, { type: 'enter' }>): void {
    if (m.resumed && m.mode === 'p2p' && this.user?.site === m.site) {
      // Plays on with what it has; a user core still entering has the state once it entered.
      if (this.user.ready) this.w.ready(this, m.site, 'resumed');
      return;
    }
    this.stopUser();
    this.site = m.site;
    this.mode = m.mode;
    this.nextNo = Math.max(this.nextNo, m.lastActionNo + 1);
    if (m.mode === 'cs') {
      this.w.ready(this, m.site, 'cs');
      return;
    }
    this.playOn(m.site, m.servers, m.view ? m.seq : null, m.hash, this.nextNo);
  }

  private playOn(
    site: string,
    servers: string[],
    seq: number | null,
    hash: string | null,
    nextActionNo: number,
  ): void {
    this.stopUser();
    const q = this.w.queue;
    const host = new Host<PeerMessage, SiteUser>({ queue: q, id: this.name, coreNow: this.now });
    const entering = seq === null;
    const core = createSiteUser({
      config: this.w.configFor(site),
      user: this.name,
      now: this.now,
      send: (to, msg) =>
        to === ADMIN_ID ? this.peerToAdmin('user', site, msg) : this.w.net.send(this.name, to, msg),
      servers,
      seq,
      hash,
      nextActionNo,
      adminKey: this.w.adminKey,
      crypto: this.w.crypto,
      onAccept: (u) => {
        this.nextNo = Math.max(
          this.nextNo,
          ...u.applied.filter((a) => a.user === this.name).map((a) => a.actionNo + 1),
        );
      },
      onEnter: () => {
        if (this.user?.core !== core) return;
        this.user.ready = true;
        this.w.ready(this, site, 'entered');
      },
    });
    this.user = { site, host, core, ready: !entering };
    host.install(core);
    this.w.playing(this, site, core);
  }

  private stopUser(): void {
    this.user?.host.crash();
    this.user = null;
  }

  private serve(site: string, serverId: string, stateFrom?: string): void {
    if (this.server?.site === site && this.server.id === serverId) {
      // A restarted admin resumed this server: it serves on, and resends what the admin may have missed.
      for (const m of [...this.outbox]) this.peerToAdmin('server', site, m);
      return;
    }
    if (serverId !== this.serverId) return;
    this.stopServing(false);
    this.endHandOff();
    this.outbox = [];
    const q = this.w.queue;
    const host = new Host<PeerMessage, SiteServer>({ queue: q, id: serverId, coreNow: this.now });
    const core = createSiteServer({
      config: this.w.configFor(site),
      id: serverId,
      secretKey: this.secretKey,
      adminKey: this.w.adminKey,
      crypto: this.w.crypto,
      now: this.now,
      send: (to, msg) => {
        if (to === ADMIN_ID) {
          if (msg.type === 'update' || msg.type === 'updateHash') {
            this.outbox.push(msg);
            if (this.outbox.length > ADMIN_OUTBOX) this.outbox.shift();
          }
          return this.peerToAdmin('server', site, msg);
        }
        // The user's previous session's channel, still open at this end: the message is lost.
        if (!to.includes('~') && !this.channels.reaches(serverId, to)) return;
        this.w.net.send(serverId, to, msg);
      },
      ...(stateFrom !== undefined ? { stateFrom } : {}),
    });
    host.install(core);
    this.w.net.attach(serverId, (from, m) =>
      this.cpu(() => {
        if (!from.includes('~')) this.channels.heard(serverId, from);
        host.deliver(from, m);
      }),
    );
    this.server = { site, id: serverId, host };
    this.w.served(this, site, serverId, core);
  }

  private stopServing(handOff = false): void {
    const s = this.server;
    if (!s) return;
    this.server = null;
    if (handOff) {
      // Out of the server set, but it gives what it applied to its replacement for a while.
      this.handingOff = { site: s.site, host: s.host };
      this.w.queue.after(HAND_OFF_MS, () => {
        if (this.handingOff?.host === s.host) this.endHandOff();
      });
      return;
    }
    s.host.crash();
    this.w.net.detach(s.id);
  }

  private endHandOff(): void {
    const h = this.handingOff;
    if (!h) return;
    this.handingOff = null;
    h.host.crash();
    if (this.server?.host !== h.host) this.w.net.detach(h.host.id);
  }

  private fromPeer(from: string, m: PeerMessage): void {
    if (this.online) this.user?.host.deliver(from, m);
  }

  private onPeer(m: Extract<ServerMessage, { type: 'peer' }>): void {
    const parsed = this.envelopes.unwrap(m, this.w.queue.now);
    if (!parsed?.ok) return;
    if (m.to === 'server' && this.server?.site === m.site) this.server.host.deliver(ADMIN_ID, parsed.value);
    else if (m.to === 'server' && this.handingOff?.site === m.site)
      this.handingOff.host.deliver(ADMIN_ID, parsed.value);
    else if (m.to === 'user' && this.user?.site === m.site) this.user.host.deliver(ADMIN_ID, parsed.value);
  }

  private peerToAdmin(as: PeerRole, site: string, msg: PeerMessage): void {
    for (const envelope of this.envelopes.wrap(as, site, msg)) this.w.toAdmin(this, envelope);
  }
}
