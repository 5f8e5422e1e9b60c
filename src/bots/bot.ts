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
import { dataChannelFactory } from '../net/p2p/datachannelLink.js';
import { nodeCryptoChoice, useNodeCrypto } from '../net/crypto/node.js';
import { initialState, type GameState, type StateBox } from '../net/state.js';
import type { SiteUpdate } from '../protocol/messages.js';

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

/** Bots sign and hash with Node's native crypto unless `MMO_CRYPTO=noble` (to compare). */
export function nodeP2P(): P2PEnvironment {
  return {
    links: (iceServers) => dataChannelFactory({ iceServers }),
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
  private readonly random: () => number;
  private target: { x: number; y: number } | null = null;

  constructor(private readonly o: BotOptions) {
    this.random = o.random ?? Math.random;
  }

  get state(): GameState {
    return this.store.getState();
  }

  /** The current attempt's connection; its `node` stays the same object across reconnects. */
  get conn(): GameConnection | null {
    return this.session?.conn ?? null;
  }

  /** Logs in as a guest and connects; resolves once on a site. */
  async start(): Promise<void> {
    const api = new Api({ base: this.o.url.replace(/\/$/, ''), ...(this.o.fetch ? { fetch: this.o.fetch } : {}) });
    const session = await api.guest(this.o.site);
    this.name = session.user;
    this.store.setState({ session: { user: session.user, guest: true }, serveSetting: this.o.serve ?? true });
    const wsUrl = this.o.url.replace(/^http/, 'ws').replace(/\/$/, '') + '/ws';
    this.session = new ReconnectingSession({
      store: this.store,
      url: wsUrl,
      socketFactory: this.o.socketFactory ?? ((u) => new WebSocket(u) as unknown as SocketLike),
      p2p: this.o.p2p ?? nodeP2P(),
      onEnd: (end) => {
        this.ended = end;
        this.stop();
      },
      log: this.o.log ?? (() => undefined),
      ...(this.o.onUpdate ? { onUpdate: this.o.onUpdate } : {}),
    });
    this.session.connect(session.token);
    await new Promise<void>((resolve, reject) => {
      const check = (s: GameState): void => {
        if (s.site !== null && s.view !== null) resolve();
        else if (this.ended) reject(new Error(`${this.name}: session ended (${this.ended.error?.code ?? 'closed'})`));
      };
      this.store.changed.push(check);
    });
    const rate = this.o.rate ?? 2;
    if (rate > 0) this.timer = setInterval(() => this.play(), 1000 / rate);
  }

  /** One move of the bot's own play. */
  play(): void {
    const a = this.choose();
    if (a && this.session?.sendAction(a)) this.actions++;
  }

  /** Sends one action now (tests drive bots step by step). */
  act(a: PlayerAction): boolean {
    const ok = this.session?.sendAction(a) ?? false;
    if (ok) this.actions++;
    return ok;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
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
    if (view.items.some((i) => i.x === me.x && i.y === me.y)) return { kind: 'pickup' };
    const r = this.random();
    if (r < 0.05) return { kind: 'say', text: `hello from ${this.name}` };
    if (r < 0.6 && view.items.length > 0) {
      if (!this.target || !view.items.some((i) => i.x === this.target?.x && i.y === this.target?.y)) {
        const it = view.items[Math.floor(this.random() * view.items.length)];
        this.target = it ? { x: it.x, y: it.y } : null;
      }
      const path = this.target ? pathTo(s.site, me, this.target) : [];
      if (path[0]) return { kind: 'move', dir: path[0] };
    }
    const def = getSite(s.site);
    const dirs = (['up', 'down', 'left', 'right'] as Dir[]).filter((d) => {
      const n = stepFrom(me, d);
      return isWalkable(def, n.x, n.y);
    });
    const d = dirs[Math.floor(this.random() * dirs.length)];
    return d ? { kind: 'move', dir: d } : null;
  }
}
