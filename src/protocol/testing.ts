/**
 * A tiny deterministic in-memory network for the core's own tests (the simulator in sim/ is the
 * full-featured one). One virtual clock, a message queue with per-link latency and drop rules,
 * and one pending wake-up per node at its `nextWakeAt()`. Optionally sends every message through
 * the binary wire encoding. Also a whole site on it (`setupSite`), the parts tests and
 * bench/serve.ts build alike (a user from the hand-over on, a coordinator resumed from its record),
 * and one Site Server's state set up by hand for the tests of one part (`handMadeServer`).
 */
import type {
  CoordinatorRecord,
  CoreEvent,
  ServerStatus,
  SiteCoordinator,
  SiteCoordinatorOptions,
  SiteServer,
  SiteServerOptions,
  SiteUser,
  SiteUserOptions,
} from './api.js';
import { createSite, newUser } from '../game/rules.js';
import { createSiteCoordinator } from './coordinator.js';
import { createSiteServer } from './server.js';
import { createSiteUser } from './user.js';
import { Chain } from './chain.js';
import {
  ADMIN_ID,
  decodePeerMessage,
  encodePeerMessage,
  type Member,
  type PeerMessage,
  type SiteInit,
  type Stint,
  type TimeslotEntry,
} from './messages.js';
import { createContext, type ServerState } from './serverContext.js';
import { signSiteInit, signTimeslot } from './signed.js';
import { insecureFastScheme, ZERO_HASH, type SignatureScheme } from './crypto.js';
import { makeSiteConfig, type SiteConfig } from './config.js';

export interface Node {
  receive(from: string, msg: PeerMessage): void;
  tick(): void;
  nextWakeAt(): number | null;
}

interface Ev {
  at: number;
  n: number;
  run: () => void;
}

export interface MemNetOptions {
  /** One-way latency of a message from -> to (ms). Default 5. */
  latency?: (from: string, to: string, msg: PeerMessage) => number;
  /** Encode and decode every message (exercises the wire format). Default false. */
  wire?: boolean;
}

export class MemNet {
  time = 0;
  private queue: Ev[] = [];
  private n = 0;
  private readonly nodes = new Map<string, Node>();
  private readonly wakeToken = new Map<string, number>();
  readonly offsets = new Map<string, number>();
  readonly down = new Set<string>();
  /** Drop rule: return true to lose the message. */
  drop: (from: string, to: string, msg: PeerMessage) => boolean = () => false;
  /** Rewrite rule (cheaters): return the message to deliver instead, or null to drop. */
  rewrite: (from: string, to: string, msg: PeerMessage) => PeerMessage | null = (_f, _t, m) => m;
  sent = 0;
  bytes = 0;

  constructor(private readonly opts: MemNetOptions = {}) {}

  /** The clock a node sees (true time + its offset). */
  clock(id: string): () => number {
    return () => this.time + (this.offsets.get(id) ?? 0);
  }

  sender(from: string): (to: string, msg: PeerMessage) => void {
    return (to, msg) => {
      if (this.down.has(from)) return;
      const m = this.rewrite(from, to, msg);
      if (m === null || this.drop(from, to, m)) return;
      let deliver: PeerMessage = m;
      this.sent++;
      if (this.opts.wire) {
        const bytes = encodePeerMessage(m);
        this.bytes += bytes.byteLength;
        const back = decodePeerMessage(bytes);
        if (!back.ok) throw new Error(`wire round trip failed: ${back.message}`);
        deliver = back.value;
      }
      const lat = this.opts.latency ? this.opts.latency(from, to, m) : 5;
      this.schedule(this.time + lat, () => {
        const node = this.nodes.get(to);
        if (!node || this.down.has(to)) return;
        node.receive(from, deliver);
        this.rewake(to);
      });
    };
  }

  add(id: string, node: Node): void {
    this.nodes.set(id, node);
    this.rewake(id);
  }

  get(id: string): Node | undefined {
    return this.nodes.get(id);
  }

  /** Runs `fn` on a node now (e.g. a user's action) and reschedules it. */
  poke(id: string, fn: () => void): void {
    fn();
    this.rewake(id);
  }

  schedule(at: number, run: () => void): void {
    const ev = { at, n: this.n++, run };
    // Keep sorted (small queues in tests).
    let i = this.queue.length;
    while (i > 0) {
      const prev = this.queue[i - 1];
      if (!prev || prev.at < at || (prev.at === at && prev.n < ev.n)) break;
      i--;
    }
    this.queue.splice(i, 0, ev);
  }

  rewake(id: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    const token = (this.wakeToken.get(id) ?? 0) + 1;
    this.wakeToken.set(id, token);
    const w = node.nextWakeAt();
    if (w === null || !Number.isFinite(w)) return;
    const at = Math.max(this.time, this.time + (w - this.clock(id)()));
    this.schedule(at, () => {
      if (this.wakeToken.get(id) !== token || this.down.has(id)) return;
      node.tick();
      this.rewake(id);
    });
  }

  /** Processes events up to and including time `until`. */
  runUntil(until: number): void {
    for (;;) {
      const ev = this.queue[0];
      if (!ev || ev.at > until) break;
      this.queue.shift();
      this.time = ev.at;
      ev.run();
    }
    this.time = until;
  }

  run(ms: number): void {
    this.runUntil(this.time + ms);
  }
}

// ---------------------------------------------------------------------------------------------
// A whole P2P site on a MemNet: coordinator, N servers, spare candidates, users.
// ---------------------------------------------------------------------------------------------


export interface SiteSetup {
  net: MemNet;
  config: SiteConfig;
  crypto: SignatureScheme;
  adminSecret: string;
  coordinator: SiteCoordinator;
  servers: Map<string, SiteServer>;
  users: Map<string, SiteUser>;
  events: Array<{ node: string; e: CoreEvent }>;
  secrets: Map<string, string>;
  /** Creates (and registers on the net) a Site Server object for `id` (a spare or a restart). */
  makeServer(id: string, extra?: Partial<SiteServerOptions>): SiteServer;
}

export function setupSite(o: {
  nServer?: number;
  users?: string[];
  spares?: number;
  crypto?: SignatureScheme;
  wire?: boolean;
  latency?: MemNetOptions['latency'];
  config?: Partial<SiteConfig>;
  site?: string;
  /** Passed to the coordinator: users leaving the site, as the majority applied it. */
  onLeft?: SiteCoordinatorOptions['onLeft'];
  /** Changes the hand-over a server gets (re-signed with the admin key): a faulty start. */
  rewriteInit?: (to: string, init: SiteInit) => SiteInit;
}): SiteSetup {
  const site = o.site ?? 'meadow';
  const config = makeSiteConfig({ site, N_server: o.nServer ?? 5, ...o.config });
  const crypto = o.crypto ?? insecureFastScheme;
  const net = new MemNet({ wire: o.wire ?? false, ...(o.latency ? { latency: o.latency } : {}) });
  const adminSecret = 'ad'.repeat(32);
  const rewriteInit = o.rewriteInit;
  if (rewriteInit) {
    net.rewrite = (from, to, m) => {
      if (from !== ADMIN_ID || m.type !== 'siteInit') return m;
      const { type: _t, sig: _s, ...body } = rewriteInit(to, m);
      return signSiteInit(body, adminSecret, crypto);
    };
  }
  const secrets = new Map<string, string>();
  const keyOf = (id: string): string => {
    let s = secrets.get(id);
    if (!s) {
      let h = 0;
      for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
      s = (h.toString(16).padStart(8, '0') + '5a').repeat(7).slice(0, 64);
      secrets.set(id, s);
    }
    return s;
  };
  const events: SiteSetup['events'] = [];
  const serverIds = Array.from({ length: config.N_server }, (_, i) => `s${i}`);
  const spareIds = Array.from({ length: o.spares ?? 2 }, (_, i) => `c${i}`);
  const userNames = o.users ?? ['alice', 'bob', 'carol'];
  const servers = new Map<string, SiteServer>();
  const users = new Map<string, SiteUser>();
  let rng = 12345;
  const random = (): number => {
    rng = (rng * 1103515245 + 12345) >>> 0;
    return rng / 2 ** 32;
  };
  const coordinator = createSiteCoordinator({
    config,
    secretKey: adminSecret,
    crypto,
    now: net.clock(ADMIN_ID),
    random,
    send: net.sender(ADMIN_ID),
    servers: serverIds.map((id) => ({ id, key: crypto.publicKeyOf(keyOf(id)) })),
    candidates: () =>
      spareIds.filter((id) => !net.down.has(id)).map((id) => ({ id, key: crypto.publicKeyOf(keyOf(id)) })),
    users: () => [...users.keys()],
    observe: (e) => events.push({ node: ADMIN_ID, e }),
    ...(o.onLeft ? { onLeft: o.onLeft } : {}),
  });
  net.add(ADMIN_ID, coordinator);
  const adminKey = crypto.publicKeyOf(adminSecret);
  const makeServer = (id: string, extra: Partial<SiteServerOptions> = {}): SiteServer => {
    const s = createSiteServer({
      ...extra,
      config,
      id,
      secretKey: keyOf(id),
      adminKey,
      crypto,
      now: net.clock(id),
      send: net.sender(id),
      observe: (e) => events.push({ node: id, e }),
    });
    servers.set(id, s);
    net.add(id, s);
    return s;
  };
  for (const id of [...serverIds, ...spareIds]) makeServer(id);
  let snapshot = createSite(site);
  snapshot = { ...snapshot, users: userNames.map((u) => newUser(u, site)).sort((a, b) => (a.name < b.name ? -1 : 1)) };
  for (const u of userNames) {
    const user = createHandOverUser({
      config,
      user: u,
      now: net.clock(u),
      send: net.sender(u),
      servers: serverIds,
      adminKey,
      crypto,
      observe: (e) => events.push({ node: u, e }),
    });
    users.set(u, user);
    net.add(u, user);
  }
  coordinator.handOver({ snapshot, seq: 0, prev: ZERO_HASH, start: 0, lastActionNo: userNames.map((u) => [u, 0]) });
  return { net, config, crypto, adminSecret, coordinator, servers, users, events, secrets, makeServer };
}

/** A Site User there from the hand-over on: it has update 0 and has sent no action yet. */
export function createHandOverUser(o: Omit<SiteUserOptions, 'seq' | 'hash' | 'nextActionNo'>): SiteUser {
  return createSiteUser({ ...o, seq: 0, hash: ZERO_HASH, nextActionNo: 1 });
}

/**
 * The admin after a restart: a new coordinator of `s`'s site from its stored record (through JSON,
 * as stored), with no servers or candidates of its own, in the old one's place on the net.
 */
export function resumeCoordinator(
  s: SiteSetup,
  record: CoordinatorRecord,
  onLeft?: SiteCoordinatorOptions['onLeft'],
): SiteCoordinator {
  const resumed = createSiteCoordinator({
    config: s.config,
    secretKey: s.adminSecret,
    crypto: s.crypto,
    now: s.net.clock(ADMIN_ID),
    random: () => 0.5,
    send: s.net.sender(ADMIN_ID),
    servers: [],
    candidates: () => [],
    users: () => [...s.users.keys()],
    ...(onLeft ? { onLeft } : {}),
    resume: JSON.parse(JSON.stringify(record)) as CoordinatorRecord,
  });
  s.net.add(ADMIN_ID, resumed);
  return resumed;
}

const DIRS = ['up', 'down', 'left', 'right'] as const;

/** Every user moves once per round, then the net runs `gap` ms: steady load for multi-server tests. */
export function playMoves(s: SiteSetup, rounds: number, gap = 50): void {
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    for (const [name, u] of s.users) s.net.poke(name, () => u.act({ kind: 'move', dir: DIRS[k++ % 4] ?? 'up' }));
    s.net.run(gap);
  }
}

/** A server's applied updates as `seq:hash`, for prefix comparisons. */
export function appliedHashes(s: SiteSetup, id: string): string[] {
  return (s.servers.get(id)?.appliedLog() ?? []).map((u) => `${u.seq}:${u.hash}`);
}

// ---------------------------------------------------------------------------------------------
// One Site Server's state set up by hand, with no network: the tests of one part of the core
// (finality, applying, out of step) drive its functions on it directly.
// ---------------------------------------------------------------------------------------------

/** A member with a placeholder key: a hand-made state checks no member's signature. */
export function handMember(id: string, slot: number | null, stints: Stint[] = [{ admit: 0, cut: null }]): Member {
  return { id, key: '00'.repeat(16), slot, stints };
}

/** The stay of a hand-made state's records and chains. */
export const HAND_STAY = '5a'.repeat(16);

/** Puts `members` in a hand-made state as an (unsigned) epoch-1 record. */
export function setMembers(ctx: ServerState, members: Member[]): void {
  ctx.roster.membership = { site: ctx.site, stay: HAND_STAY, epoch: 1, members, change: { kind: 'init', target: null }, sig: '00'.repeat(64) };
  ctx.roster.members = new Map(members.map((m) => [m.id, m]));
}

/**
 * Server s0 of a meadow site of `nServer` servers, set up by hand: `status` (default waiting, as
 * created), the clock stopped at `now`, `members` set when given. What it sends and the events
 * it observes are kept.
 */
export function handMadeServer(o: { nServer: number; now?: number | (() => number); status?: ServerStatus; members?: Member[] }): {
  ctx: ServerState;
  sent: Array<{ to: string; m: PeerMessage }>;
  events: CoreEvent[];
} {
  const sent: Array<{ to: string; m: PeerMessage }> = [];
  const events: CoreEvent[] = [];
  const now = typeof o.now === 'function' ? o.now : ((t) => () => t)(o.now ?? 0);
  const ctx = createContext({
    config: makeSiteConfig({ site: 'meadow', N_server: o.nServer }),
    id: 's0',
    secretKey: 'ab'.repeat(32),
    adminKey: '00'.repeat(16),
    crypto: insecureFastScheme,
    now,
    send: (to, m) => void sent.push({ to, m }),
    observe: (e) => void events.push(e),
  });
  if (o.status) ctx.lifecycle.status = o.status;
  if (o.members) setMembers(ctx, o.members);
  return { ctx, sent, events };
}

/** How a hand-made chain's Timeslots look, by seq. */
export interface ChainShape {
  /** Stamp of each seq (default seq × 100). */
  stamp?: (seq: number) => number;
  /** Epoch each declares (default 1). */
  epoch?: (seq: number) => number;
  entries?: (seq: number) => TimeslotEntry[];
}

/** Gives `ctx` a chain of `server`'s Timeslots 1..n, anchored at seq 0, stamp 0 (as a hand-over does). */
export function growChain(ctx: ServerState, server: string, n: number, o: ChainShape = {}): Chain {
  const ch = new Chain(server, { seq: 0, hash: ZERO_HASH, stamp: 0 }, 256, 256, ctx.roster.membership?.stay ?? HAND_STAY);
  ctx.timeslots.chains.set(server, ch);
  extendChain(ch, n, o);
  return ch;
}

/** Adds `ch.server`'s signed Timeslots after its top up to `upTo`. */
export function extendChain(ch: Chain, upTo: number, o: ChainShape = {}): void {
  const stamp = o.stamp ?? ((s: number) => s * 100);
  for (let seq = ch.top.seq + 1; seq <= upTo; seq++) {
    const ts = signTimeslot(
      {
        site: 'meadow',
        server: ch.server,
        seq,
        stamp: stamp(seq),
        prevHash: ch.top.hash,
        epoch: o.epoch?.(seq) ?? 1,
        entries: o.entries?.(seq) ?? [],
        heads: [],
        update: null,
      },
      `${ch.server}key`.padEnd(64, '0'),
      insecureFastScheme,
      ch.stay,
    );
    const r = ch.offer(ts, 0, true);
    if (r.kind !== 'added') throw new Error(`hand-made chain: ${ch.server}#${seq} ${r.kind}`);
  }
}

/** A user entering the running site of `s` (no hand-over state: seq and hash null), as a login does. */
export function enteringUser(s: SiteSetup, user: string, nextActionNo = 1, onEnter?: SiteUserOptions['onEnter']): SiteUser {
  return createSiteUser({
    config: s.config,
    user,
    now: s.net.clock(user),
    send: s.net.sender(user),
    servers: s.coordinator.activeServers(),
    seq: null,
    hash: null,
    nextActionNo,
    crypto: s.crypto,
    ...(onEnter ? { onEnter } : {}),
  });
}
