/**
 * A headless player in Node: logs in as a guest, plays (wanders, walks to items and picks them
 * up, says something now and then) and, unless told not to, volunteers as a Site Server. It runs
 * the same session and P2P code as a browser tab (src/net, src/protocol), with data channels over
 * node-datachannel (why not simple-peer in Node: src/net/p2p/datachannelLink.ts), no UI code.
 * Like a tab it rides out an admin restart (src/net/reconnect.ts): it keeps playing a P2P site and
 * serving meanwhile, and reconnects with the same token and the same P2P node.
 */
import { WebSocket } from 'ws';
import { getSite, isWalkable } from '../game/world.js';
import { pathTo, stepFrom } from '../game/path.js';
import type { Dir, PlayerAction } from '../game/types.js';
import { Api } from '../net/api.js';
import type { SocketFactory, SocketLike } from '../net/adminSocket.js';
import type { GameConnection, P2PEnvironment, SessionEnd } from '../net/connection.js';
import { ReconnectingSession } from '../net/reconnect.js';
import { timeoutWakeup } from '../net/p2p/driver.js';
import { dataChannelFactory, sackDelayChoice } from '../net/p2p/datachannelLink.js';
import { nodeCryptoChoice, useNodeCrypto } from '../net/crypto/node.js';
import { initialState, type GameState, type StateBox } from '../net/state.js';
import { DEFAULT_SITE_CONFIG } from '../protocol/config.js';
import type { SiteUpdate } from '../protocol/messages.js';
import { handlerTimer, instrumentLinks, instrumentSocket, timedWakeup, type LinkSpecs, type Timed } from './instrument.js';
import type { Mode, Recorder, Role } from './tally.js';
import type { CheatMode } from '../net/p2p/cheat.js';

/** An action not accepted this long after it was sent counts as not processed. */
export const UNPROCESSED_AFTER_MS = 10_000;

export interface BotOptions {
  /** http(s)://host:port/ of the Administration Server. */
  url: string;
  /** Site to start at (guest choice). */
  site?: string;
  /** Volunteer as a Site Server (default yes). */
  serve?: boolean;
  /** Actions per second (default 2); 0: stand still. */
  rate?: number;
  /** The P2P environment (default: node-datachannel links, plain timers); tests wrap it. */
  p2p?: P2PEnvironment;
  /** Every accepted update (tests count events). */
  onUpdate?: (u: SiteUpdate) => void;
  /** Randomness for the bot's choices (default Math.random). */
  random?: () => number;
  log?: (...a: unknown[]) => void;
  /** Tests without a server: the HTTP client's fetch and the WebSocket. */
  fetch?: typeof fetch;
  socketFactory?: SocketFactory;
  /** Where the bot's measurements go (`--json`); none: nothing is measured. */
  recorder?: Recorder;
  /** Injected latency per link class (test/bench only); null or absent: none. */
  linkSpecs?: LinkSpecs | null;
  /** Probability per second of heading for a portal and taking it (default 0). */
  roam?: number;
  /** Tests only: serve as this kind of cheater (src/net/p2p/cheat.ts), if the admin allows cheat modes. */
  cheat?: CheatMode;
  /** Log in to this registered account instead of as a guest (tests log out and in again). */
  account?: { name: string; password: string };
}

/** A plain state box (the browser uses a zustand store). */
export function stateBox(): StateBox & { changed: Array<(s: GameState) => void> } {
  let state = initialState();
  const changed: Array<(s: GameState) => void> = [];
  return {
    changed,
    getState: () => state,
    setState: (patch) => {
      state = { ...state, ...(typeof patch === 'function' ? patch(state) : patch) };
      for (const cb of changed) cb(state);
    },
  };
}

/**
 * Bots sign and hash with Node's native crypto unless `MMO_CRYPTO=noble`, and hold SCTP acks
 * SCTP_SACK_DELAY_MS unless `MMO_SCTP_SACK_MS` says otherwise (both to compare, in benches).
 */
export function nodeP2P(): P2PEnvironment {
  const sackDelayMs = sackDelayChoice(process.env.MMO_SCTP_SACK_MS);
  return {
    links: (iceServers) => dataChannelFactory({ iceServers, sackDelayMs }),
    wakeup: timeoutWakeup(),
    randomBytes: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
    crypto: useNodeCrypto(nodeCryptoChoice(process.env.MMO_CRYPTO)),
  };
}

export class Bot {
  readonly store = stateBox();
  /** The session across reconnects (null before start). */
  session: ReconnectingSession | null = null;
  name = '';
  actions = 0;
  /** Set once the session is over for good (not while it reconnects). */
  ended: SessionEnd | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** This period's action, due at a random point in it (see start). */
  private actTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly random: () => number;
  private target: { x: number; y: number } | null = null;
  /** Walking to this portal to take it (roaming). */
  private portal: { x: number; y: number } | null = null;
  /** A portal action sent at this time from this site, until the next site's view comes. */
  private switching: { at: number; from: string } | null = null;
  /** Sent actions not yet accepted: number -> send time (performance clock) and the site's mode then. */
  private readonly tracked = new Map<number, { at: number; mode: Mode }>();
  private trackedSite: string | null = null;
  private readonly timed: Timed;

  constructor(private readonly o: BotOptions) {
    this.random = o.random ?? Math.random;
    const rec = o.recorder;
    this.timed = rec ? handlerTimer(rec, () => this.role) : (fn) => fn;
  }

  /** Serving while its tab is a Site Server of some site, else playing. */
  get role(): Role {
    return this.state.serving !== null ? 'serving' : 'playing';
  }

  get state(): GameState {
    return this.store.getState();
  }

  /** The current attempt's connection; its `node` stays the same object across reconnects. */
  get conn(): GameConnection | null {
    return this.session?.conn ?? null;
  }

  /** Logs in (as a guest unless `account`) and connects; resolves once on a site. */
  async start(): Promise<void> {
    const startedAt = performance.now();
    const rec = this.o.recorder;
    if (rec) this.store.changed.push((s) => this.observe(s, rec));
    const api = new Api({ base: this.o.url.replace(/\/$/, ''), ...(this.o.fetch ? { fetch: this.o.fetch } : {}) });
    const session = this.o.account ? await api.login(this.o.account.name, this.o.account.password) : await api.guest(this.o.site);
    this.name = session.user;
    this.store.setState({ session: { user: session.user, guest: session.guest }, serveSetting: this.o.serve ?? true });
    const wsUrl = this.o.url.replace(/^http/, 'ws').replace(/\/$/, '') + '/ws';
    this.session = new ReconnectingSession({
      store: this.store,
      url: wsUrl,
      socketFactory: this.socketFactory(),
      p2p: this.p2pEnv(),
      onEnd: (end) => {
        this.ended = end;
        this.stop();
      },
      log: this.o.log ?? (() => undefined),
      onUpdate: (u) => {
        if (rec) this.settle(u, rec);
        this.o.onUpdate?.(u);
      },
    });
    this.session.connect(session.token);
    let entered = false;
    await new Promise<void>((resolve, reject) => {
      const check = (s: GameState): void => {
        if (s.site !== null && s.view !== null) {
          if (!entered) rec?.entered(performance.now() - startedAt);
          entered = true;
          resolve();
        }
        else if (this.ended) reject(new Error(`${this.name}: session ended (${this.ended.error?.code ?? 'closed'})`));
      };
      this.store.changed.push(check);
    });
    const rate = this.o.rate ?? 2;
    // Each action at a random point of its period: bots that entered together would otherwise act
    // in step on the Timeslot grid, and a P2P mean delay would hold one draw of the wait for the
    // window's end instead of its mean T_timeslot / 2 (eq. 14; docs/performance.md section 2).
    const period = 1000 / rate;
    if (rate > 0) this.timer = setInterval(this.timed(() => void (this.actTimer = setTimeout(this.timed(() => this.play()), Math.random() * period))), period);
  }

  private socketFactory(): SocketFactory {
    const make = this.o.socketFactory ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    const rec = this.o.recorder;
    if (!rec) return make;
    return (u) => instrumentSocket(make(u), rec, this.timed, this.o.linkSpecs?.cu ?? null);
  }

  private p2pEnv(): P2PEnvironment {
    const base = this.o.p2p ?? nodeP2P();
    const env = this.o.cheat ? { ...base, cheat: this.o.cheat } : base;
    const rec = this.o.recorder;
    if (!rec) return env;
    const specs = this.o.linkSpecs ?? null;
    return { ...env, links: (ice) => instrumentLinks(env.links(ice), rec, this.timed, specs), wakeup: timedWakeup(env.wakeup, this.timed) };
  }

  /** New sends (an action number not seen, or seen with another send time), site changes, arrivals after a portal. */
  private observe(s: GameState, rec: Recorder): void {
    if (s.site !== this.trackedSite) {
      // A site change clears what was in flight (state.ts enterSite): those are neither accepted nor lost.
      this.tracked.clear();
      this.trackedSite = s.site;
    }
    for (const [k, at] of Object.entries(s.inflight)) {
      const no = Number(k);
      if (this.tracked.get(no)?.at === at) continue;
      const mode: Mode = s.mode === 'p2p' ? 'p2p' : 'cs';
      this.tracked.set(no, { at, mode });
      rec.sent(mode);
    }
    const sw = this.switching;
    if (sw && s.site !== null && s.site !== sw.from && s.view !== null) {
      rec.switched(performance.now() - sw.at);
      this.switching = null;
    }
  }

  /**
   * An accepted update: the delay of each of our actions it applied. One it passed is not given up
   * yet (a P2P site may apply a later action of ours first): only the timeout in `sweep` counts it.
   */
  private settle(u: SiteUpdate, rec: Recorder): void {
    const now = performance.now();
    for (const a of u.applied) {
      if (a.user !== this.name) continue;
      const t = this.tracked.get(a.actionNo);
      if (t) rec.delay(t.mode, Math.max(0, now - t.at), this.where(now));
      this.tracked.delete(a.actionNo);
    }
  }

  /** Where an accepted action counts: its site, the bound 2 T_timeslot there, the bot's role, the time. */
  private where(now: number): { site: string; lateMs: number; serving: boolean; at: number } | undefined {
    const site = this.state.site;
    if (site === null) return undefined;
    const T = this.session?.node?.configFor(site)?.T_timeslot ?? DEFAULT_SITE_CONFIG.T_timeslot;
    return { site, lateMs: 2 * T, serving: this.role === 'serving', at: performance.timeOrigin + now };
  }

  /** Counts the actions sent over `UNPROCESSED_AFTER_MS` ago and never accepted; call once a second. */
  sweep(now = performance.now()): void {
    const rec = this.o.recorder;
    if (!rec) return;
    for (const [no, x] of this.tracked) {
      if (now - x.at < UNPROCESSED_AFTER_MS) continue;
      rec.unprocessed(x.mode);
      this.tracked.delete(no);
    }
  }

  /** One move of the bot's own play. */
  play(): void {
    const a = this.choose();
    if (a && this.session?.sendAction(a)) {
      this.actions++;
      if (a.kind === 'portal' && this.state.site !== null) this.switching = { at: performance.now(), from: this.state.site };
    }
  }

  /** Sends one action now (tests drive bots step by step). */
  act(a: PlayerAction): boolean {
    const ok = this.session?.sendAction(a) ?? false;
    if (ok) this.actions++;
    return ok;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.actTimer) clearTimeout(this.actTimer);
    this.timer = null;
    this.actTimer = null;
  }

  /** Closes the session (like closing the tab). */
  close(): void {
    this.stop();
    this.session?.close();
  }

  logout(): void {
    this.stop();
    this.session?.logout();
  }

  private choose(): PlayerAction | null {
    const s = this.state;
    const view = s.view;
    const me = view?.users.find((u) => u.name === this.name);
    if (!view || !me || s.site === null) return null;
    const roam = this.roamStep(s.site, me);
    if (roam) return roam;
    if (view.items.some((i) => i.x === me.x && i.y === me.y)) return { kind: 'pickup' };
    const r = this.random();
    if (r < 0.05) return { kind: 'say', text: `hello from ${this.name}` };
    if (r < 0.6 && view.items.length > 0) {
      if (!this.target || !view.items.some((i) => i.x === this.target?.x && i.y === this.target?.y)) {
        const it = view.items[Math.floor(this.random() * view.items.length)];
        this.target = it ? { x: it.x, y: it.y } : null;
      }
      const path = this.target ? this.pathOrNone(s.site, me, this.target) : [];
      if (path[0]) return { kind: 'move', dir: path[0] };
      if (path.length === 0) this.target = null; // out of reach (or reached): wander this period
    }
    const def = getSite(s.site);
    const dirs = (['up', 'down', 'left', 'right'] as Dir[]).filter((d) => {
      const n = stepFrom(me, d);
      return isWalkable(def, n.x, n.y);
    });
    const d = dirs[Math.floor(this.random() * dirs.length)];
    return d ? { kind: 'move', dir: d } : null;
  }

  /** Roaming: with probability roam per second pick a portal, walk there, take it. */
  private roamStep(site: string, me: { x: number; y: number }): PlayerAction | null {
    const roam = this.o.roam ?? 0;
    // A portal action never applied (lost on a down link) must not stop the roaming for good.
    if (this.switching && performance.now() - this.switching.at > UNPROCESSED_AFTER_MS) this.switching = null;
    if (roam <= 0 || this.switching) return null;
    const def = getSite(site);
    if (!this.portal && this.random() < roam / (this.o.rate ?? 2)) {
      const p = def.portals[Math.floor(this.random() * def.portals.length)];
      this.portal = p ? { x: p.x, y: p.y } : null;
    }
    const p = this.portal;
    if (!p) return null;
    if (!def.portals.some((q) => q.x === p.x && q.y === p.y)) {
      this.portal = null; // a portal of the site we left
      return null;
    }
    if (me.x === p.x && me.y === p.y) {
      this.portal = null;
      return { kind: 'portal' };
    }
    const path = this.pathOrNone(site, me, p);
    if (path.length === 0) this.portal = null;
    return path[0] ? { kind: 'move', dir: path[0] } : null;
  }

  /** The shortest walk to a tile, or none if it is out of reach: an item on a tile the bot cannot walk to must not end its process. */
  private pathOrNone(site: string, me: { x: number; y: number }, to: { x: number; y: number }): Dir[] {
    try {
      return pathTo(site, me, to);
    } catch {
      return [];
    }
  }
}
