/**
 * Everything P2P in one tab or bot: its session key (registered with the admin by proof of
 * possession), the clock synced to the admin, the data-channel mesh, and the hosts of the site it
 * serves (at most one) and of the P2P site it plays on (at most one). The session (connection.ts)
 * hands it the admin's P2P messages and it answers through `toAdmin`.
 *
 * It outlives its admin session: when the admin socket drops, links and hosts keep running (users
 * keep playing by majority) and the next session takes it over (`rebind`). On that session's
 * welcome it registers the same key again; the admin then says what it still serves (keyOk, serve).
 */
import type { AcceptedUpdate, ServerView } from '../../protocol/api.js';
import { CLOCK_PING_BASE, createClockSync, LIVE_CLOCK_RESOLUTION, type ClockPace } from '../../protocol/clock.js';
import { parseSiteConfig, type SiteConfig } from '../../protocol/config.js';
import { ed25519Scheme, toHex, type SignatureScheme } from '../../protocol/crypto.js';
import { keyProofBytes } from '../../protocol/keys.js';
import {
  type ClientMessage,
  type PeerMessage,
  type PeerRole,
  type ServerMessage,
  SERVER_STATS_EVERY_MS,
} from '../../protocol/messages.js';
import type { PlayerAction, SiteSnapshot } from '../../game/types.js';
import { cheaterForHost, type CheatMode } from './cheat.js';
import { Driver, type Wakeup } from './driver.js';
import { TabEnvelopes } from './envelopes.js';
import type { LinkFactory } from './link.js';
import { Mesh } from './mesh.js';
import { SiteServerHost } from './serverHost.js';
import { SiteUserHost } from './userHost.js';

export { CLOCK_PING_BASE };
/**
 * A tab that serves no site re-syncs its clock this seldom once its quick rounds are over (8
 * samples a round, so 0.07 frames a second each way at the admin instead of 0.27): as a user it
 * times only durations, its offset matters to register its key and to serve, and a tab picked to
 * serve starts a round at once (SERVING_CLOCK). Most tabs of a P2P world serve nothing. The quick
 * rounds after the welcome stay: with the first round alone, a tab picked soon after refined its
 * offset while serving, and server/p2p.test.ts's walk-in stalled 3 times in 5 (docs/performance.md
 * "Admin CPU").
 */
export const IDLE_CLOCK_RESYNC_MS = 120_000;
/** A Site Server stamps arrivals and Timeslots by its clock: a round at once, quick rounds from 1 s, then every 30 s. */
export const SERVING_CLOCK: ClockPace = { every: 30_000, first: 1000, now: true };
const IDLE_CLOCK: ClockPace = { every: IDLE_CLOCK_RESYNC_MS };
/** A server whose player walked into its site answers the replacement's state requests this long. */
export const HAND_OFF_MS = 15_000;

type Msg<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export interface NodeHooks {
  accepted(update: AcceptedUpdate): void;
  /** A user entering a running P2P site has its verified state. */
  entered(site: string, seq: number, snapshot: SiteSnapshot): void;
  serving(site: string | null): void;
  serverStates(states: Array<{ id: string; state: ServerView }>): void;
}

/** What ties the node to one admin session; `rebind` swaps it for the next session's. */
export interface NodeBinding {
  toAdmin(msg: ClientMessage): void;
  hooks: NodeHooks;
  log(event: string, fields: Record<string, unknown>): void;
}

export interface NodeOptions extends NodeBinding {
  links: (iceServers: Msg<'welcome'>['iceServers']) => LinkFactory;
  wakeup: Wakeup;
  /** Local monotone clock (performance.now). */
  localNow: () => number;
  /** 32 random bytes (crypto.getRandomValues). */
  randomBytes: (n: number) => Uint8Array;
  crypto?: SignatureScheme;
  /** Tests only: serve as this kind of cheater, if the admin allows cheat modes (welcome.p2p.cheatModes). */
  cheat?: CheatMode;
}

export class P2PNode {
  readonly driver: Driver;
  private mesh: Mesh | null = null;
  private readonly clock;
  private readonly crypto: SignatureScheme;
  private bound: NodeBinding;
  private unclock: (() => void) | null = null;
  private closed = false;
  private welcome: Msg<'welcome'> | null = null;
  private secretKey: string | null = null;
  /** The key message, held until the clock has its first offset (see onWelcome). */
  private pendingKey: Extract<ClientMessage, { type: 'key' }> | null = null;
  /** Whether the scheme's fast implementation has loaded or been given up (`SignatureScheme.ready`). */
  private cryptoSettled: boolean;
  serverId: string | null = null;
  server: SiteServerHost | null = null;
  /** The host of a site this tab stopped serving because its player walked in: it hands its copy over. */
  private handingOff: { host: SiteServerHost; timer: ReturnType<typeof setTimeout> } | null = null;
  userHost: SiteUserHost | null = null;
  private readonly envelopes = new TabEnvelopes();
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private lastStats: { at: number; bytesIn: number; bytesOut: number } | null = null;

  constructor(private readonly o: NodeOptions) {
    this.bound = { toAdmin: o.toAdmin, hooks: o.hooks, log: o.log };
    this.crypto = o.crypto ?? ed25519Scheme;
    // A tab whose WASM Ed25519 is still loading registers its key (and so may be picked to
    // serve) only once it has: serving on the fallback costs several times the CPU.
    this.cryptoSettled = this.crypto.ready === undefined;
    void this.crypto.ready?.then(() => {
      this.cryptoSettled = true;
      this.sendKeyIfSynced();
    });
    this.driver = new Driver(o.wakeup, (err) => this.log('p2p.tick_failed', { err: String(err), stack: (err as Error)?.stack }));
    this.clock = createClockSync({
      now: o.localNow,
      adminResolution: LIVE_CLOCK_RESOLUTION.admin,
      localResolution: LIVE_CLOCK_RESOLUTION.local,
      // A round at once (it registers the key), quick rounds (1, 2, 4 s... apart), then the idle pace until picked to serve.
      resyncEvery: IDLE_CLOCK_RESYNC_MS,
      send: ({ id, t0 }) => this.toAdmin({ type: 'ping', id: CLOCK_PING_BASE + id, t: t0 }),
    });
  }

  // Everything goes through the current binding, looked up at call time, so hosts and links made
  // under an earlier session talk to the current one.
  private readonly toAdmin = (m: ClientMessage): void => this.bound.toAdmin(m);
  private readonly log = (event: string, fields: Record<string, unknown>): void => this.bound.log(event, fields);

  /** The next admin session takes the node over: its messages, logs and state hooks go there. */
  rebind(b: NodeBinding): void {
    this.bound = { ...b };
  }

  /** The admin's clock as this tab sees it (what Timeslot stamps and arrivals use). */
  readonly now = (): number => this.clock.now();

  clockOffset(): number | null {
    return this.clock.offset();
  }

  /**
   * Welcome: register the node's key with this session's challenge. The first welcome makes the
   * key and the mesh; a later one (a new session after the admin socket dropped) keeps both, so
   * the servers and users linked to this tab never notice.
   */
  onWelcome(w: Msg<'welcome'>): void {
    if (this.closed) return;
    // The clock's samples go over the admin socket: start them once it is up (sent before, they
    // were lost and the next round came 30 s later).
    this.unclock ??= this.driver.add(this.clock, this.o.localNow);
    this.welcome = w;
    if (this.o.cheat && w.p2p.cheatModes !== true) this.log('p2p.cannot_cheat', { mode: this.o.cheat, why: 'the admin does not allow cheat modes (MMO_ALLOW_CHEAT_MODES)' });
    this.mesh ??= new Mesh({
      factory: this.o.links(w.iceServers),
      sendSignal: (from, to, data) => this.toAdmin({ type: 'signal', from, to, data }),
      reportFailure: (local, remote) => this.linkFailed(local, remote),
      now: this.o.localNow,
      openTimeoutMs: w.p2p.linkTimeoutMs,
      log: this.log,
    });
    this.secretKey ??= toHex(this.o.randomBytes(32));
    const key = this.crypto.publicKeyOf(this.secretKey);
    const sig = this.crypto.sign(this.secretKey, keyProofBytes(w.challenge, w.user, key));
    // Registering the key makes this tab eligible to serve. Until the clock has its first offset
    // its time is the local one, and a Site Server started then would stamp Timeslots in the
    // wrong epoch and jump ahead when the offset comes: register once the clock is synced.
    this.pendingKey = { type: 'key', key, sig };
    this.sendKeyIfSynced();
  }

  private sendKeyIfSynced(): void {
    if (!this.pendingKey || this.clock.offset() === null || !this.cryptoSettled || this.closed) return;
    this.toAdmin(this.pendingKey);
    this.pendingKey = null;
  }

  /** A pong: clock-sync samples are ours. Returns whether it was. */
  onPong(id: number, serverTime: number): boolean {
    if (id < CLOCK_PING_BASE) return false;
    this.clock.receive({ id: id - CLOCK_PING_BASE, t1: serverTime, t2: serverTime });
    this.sendKeyIfSynced();
    this.driver.poke();
    return true;
  }

  /** Admin messages of the P2P layer. */
  onMessage(m: Msg<'keyOk' | 'signal' | 'peer' | 'serve' | 'serveEnd'>): void {
    switch (m.type) {
      case 'keyOk':
        this.serverId = m.serverId;
        // After a reconnect: an admin that kept (or resumed) our server gives its id back; a new
        // id means it evicted it meanwhile.
        if (this.server && this.server.serverId !== m.serverId) this.stopServing('not resumed by the admin');
        // Resumed: resend now what the admin may have missed, not only on `serve`. A server whose
        // player walked into its site meanwhile gets none (P2PManager.serverBack), and its votes
        // may be the majority a missed departure needs (managed world, seed 835 --crashes always).
        else if (this.server) this.server.resendToAdmin();
        return;
      case 'signal':
        this.mesh?.signal(m.from, m.to, m.data);
        return;
      case 'peer':
        return this.onPeer(m);
      case 'serve':
        return this.serve(m.site, m.serverId, m.stateFrom);
      case 'serveEnd':
        if (this.server?.site === m.site) this.stopServing(m.reason, m.handOff === true);
        return;
    }
  }

  /** The site config the admin announced, for `site`. */
  configFor(site: string): SiteConfig | null {
    if (!this.welcome) return null;
    const r = parseSiteConfig({ ...this.welcome.p2p.config, site });
    if (!r.ok) {
      this.log('p2p.bad_config', { site, errors: r.errors });
      return null;
    }
    return r.config;
  }

  /** Plays `site` as a user of its Site Servers (hand-over: seq/hash given; entering: null). */
  playOn(args: { site: string; user: string; servers: string[]; seq: number | null; hash: string | null; nextActionNo: number }): boolean {
    this.leaveSite();
    const config = this.configFor(args.site);
    if (!config || !this.mesh || !this.welcome) return false;
    const site = args.site;
    this.userHost = new SiteUserHost({
      config,
      user: args.user,
      adminKey: this.welcome.adminKey,
      crypto: this.crypto,
      now: this.now,
      mesh: this.mesh,
      driver: this.driver,
      servers: args.servers,
      seq: args.seq,
      hash: args.hash,
      nextActionNo: args.nextActionNo,
      toAdmin: (msg) => this.toAdminPeer('user', site, msg),
      onAccept: (u) => {
        this.bound.hooks.accepted(u);
        this.reportServers();
      },
      onEnter: (e) => {
        this.bound.hooks.entered(site, e.seq, e.snapshot);
        this.reportServers();
      },
      log: this.log,
    });
    this.reportServers();
    return true;
  }

  /** Sends one action to the site's servers; its number, or null when not possible now. */
  act(action: PlayerAction): number | null {
    return this.userHost?.ready ? this.userHost.act(action) : null;
  }

  get playingP2P(): string | null {
    return this.userHost?.site ?? null;
  }

  leaveSite(): void {
    this.userHost?.close();
    this.userHost = null;
  }

  /** Ends everything: hosts, links, the clock's rounds. */
  close(): void {
    this.closed = true;
    this.leaveSite();
    this.stopServing('closed');
    this.endHandOff();
    this.mesh?.close();
    this.mesh = null;
    this.unclock?.();
    this.unclock = null;
    this.pendingKey = null;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // -------------------------------------------------------------------------------------------

  private serve(site: string, serverId: string, stateFrom?: string): void {
    if (this.server?.site === site && this.server.serverId === serverId && serverId === this.serverId) {
      // The admin resumed this server after its restart: keep it, and resend the departures it
      // may have missed while it was down (it drops those it passed on already).
      this.log('p2p.serve_resumed', { site, serverId });
      this.server.resendToAdmin();
      this.bound.hooks.serving(site);
      return;
    }
    const config = this.configFor(site);
    if (!config || !this.mesh || !this.welcome || !this.secretKey || serverId !== this.serverId) {
      this.log('p2p.cannot_serve', { site, serverId, registered: this.serverId });
      return;
    }
    if (this.server) this.stopServing('serving another site');
    // One host per server id on the mesh.
    this.endHandOff();
    let built: SiteServerHost | null = null;
    const cheater = this.cheaterFor(config, serverId, () => built?.core ?? null);
    const host = new SiteServerHost({
      ...(cheater ? { cheater } : {}),
      ...(stateFrom !== undefined ? { stateFrom } : {}),
      config,
      serverId,
      secretKey: this.secretKey,
      adminKey: this.welcome.adminKey,
      crypto: this.crypto,
      now: this.now,
      mesh: this.mesh,
      driver: this.driver,
      toAdmin: (msg) => this.toAdminPeer('server', site, msg),
      log: this.log,
    });
    this.server = built = host;
    this.clock.pace(SERVING_CLOCK);
    this.driver.poke();
    this.log('p2p.serve', { site, serverId, ...(stateFrom !== undefined ? { stateFrom } : {}), ...(cheater ? { cheat: this.o.cheat } : {}) });
    this.bound.hooks.serving(site);
    this.lastStats = null;
    this.statsTimer = setInterval(() => this.sendStats(), SERVER_STATS_EVERY_MS);
  }

  /** The cheater to serve with: only with a mode and the admin's leave (welcome.p2p.cheatModes). */
  private cheaterFor(config: SiteConfig, serverId: string, core: () => SiteServerHost['core'] | null): ReturnType<typeof cheaterForHost> | null {
    const mode = this.o.cheat;
    if (!mode || !this.welcome || !this.secretKey || this.welcome.p2p.cheatModes !== true) return null;
    this.log('p2p.cheating', { site: config.site, serverId, mode });
    return cheaterForHost({
      mode,
      serverId,
      secretKey: this.secretKey,
      crypto: this.crypto,
      config,
      adminKey: this.welcome.adminKey,
      now: this.now,
      elapsed: this.o.localNow,
      after: (ms, fn) => void setTimeout(fn, ms),
      core,
    });
  }

  private stopServing(reason: string, handOff = false): void {
    if (!this.server) return;
    this.log('p2p.serve_end', { site: this.server.site, reason, ...(handOff ? { handOff } : {}) });
    this.endHandOff();
    if (handOff) {
      // Its core is out of the server set but still gives what it applied to whoever the new
      // membership names (the replacement, which checks it against the majority's hashes).
      const host = this.server;
      this.handingOff = { host, timer: setTimeout(() => this.endHandOff(), HAND_OFF_MS) };
    } else this.server.close();
    this.server = null;
    this.clock.pace(IDLE_CLOCK);
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
    this.bound.hooks.serving(null);
  }

  private sendStats(): void {
    const s = this.server;
    if (!s) return;
    const st = s.stats();
    const now = this.o.localNow();
    const last = this.lastStats;
    const secs = last ? Math.max(0.001, (now - last.at) / 1000) : 1;
    this.lastStats = { at: now, bytesIn: st.bytesIn, bytesOut: st.bytesOut };
    this.toAdmin({
      type: 'serverStats',
      site: s.site,
      status: st.status,
      offset: this.clock.offset(),
      lag: st.lag,
      timeslotSeq: st.timeslotSeq,
      trmSent: st.trmSent,
      trmReceived: st.trmReceived,
      bytesInPerSec: last ? (st.bytesIn - last.bytesIn) / secs : 0,
      bytesOutPerSec: last ? (st.bytesOut - last.bytesOut) / secs : 0,
      links: st.links,
      clock: this.now(),
      ...(st.actionDelayMs !== null ? { actionDelayMs: st.actionDelayMs, actionDelayMaxMs: st.actionDelayMaxMs ?? st.actionDelayMs } : {}),
    });
  }

  private endHandOff(): void {
    const h = this.handingOff;
    if (!h) return;
    this.handingOff = null;
    clearTimeout(h.timer);
    h.host.close();
  }

  private reportServers(): void {
    this.bound.hooks.serverStates(this.userHost?.serverStates() ?? []);
  }

  private onPeer(m: Msg<'peer'>): void {
    const parsed = this.envelopes.unwrap(m, this.o.localNow());
    if (parsed === null) return;
    if (!parsed.ok) {
      this.log('p2p.reject', { from: 'admin', code: parsed.code, message: parsed.message });
      return;
    }
    if (m.to === 'server' && this.server?.site === m.site) this.server.fromAdmin(parsed.value);
    else if (m.to === 'server' && this.handingOff?.host.site === m.site) this.handingOff.host.fromAdmin(parsed.value);
    else if (m.to === 'user' && this.userHost?.site === m.site) {
      this.userHost.fromAdmin(parsed.value);
      this.reportServers();
    }
  }

  private toAdminPeer(as: PeerRole, site: string, msg: PeerMessage): void {
    for (const envelope of this.envelopes.wrap(as, site, msg)) this.toAdmin(envelope);
  }

  private linkFailed(local: string, remote: string): void {
    const asServer = this.server !== null && local === this.serverId;
    const site = asServer ? this.server?.site : this.userHost?.site;
    if (!site) return;
    this.toAdmin({ type: 'linkFailed', site, as: asServer ? 'server' : 'user', peer: remote });
  }
}
