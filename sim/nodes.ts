/**
 * Hosts of the simulated parties, each on its own machine clock:
 * - ServerNode: a Site Server core (createSiteServer) on the clock createClockSync gives it,
 *   optionally wrapped by a cheater; crash (freeze: no receiving, sending or ticking) and resume.
 * - UserNode: a bot driving createSiteUser, sending random moves, pick-ups and says at a rate.
 * - AdminNode: the Administration Server's side of the site, createSiteCoordinator, with a pool of
 *   spare peers for replacements; it also answers clock-sync requests.
 */
import {
  ADMIN_ID,
  createClockSync,
  createSiteCoordinator,
  createSiteServer,
  createSiteUser,
  type AcceptedUpdate,
  type ClockSync,
  type CoreEvent,
  type PeerMessage,
  type SignatureScheme,
  type SiteConfig,
  type SiteCoordinator,
  type SiteServer,
  type SiteUser,
} from '../src/protocol/index.js';
import type { PlayerAction } from '../src/game/types.js';
import type { Cheater } from './cheaters.js';
import { machineClock, monotonic, type MachineClock } from './clock.js';
import type { EventQueue } from './eventQueue.js';
import { Host } from './host.js';
import type { Network } from './network.js';
import type { Rng } from './rng.js';

/** What every node needs from the run. */
export interface World {
  queue: EventQueue;
  net: Network<PeerMessage>;
  config: SiteConfig;
  crypto: SignatureScheme;
  adminKey: string;
}

/** A machine clock plus the protocol's clock sync against the admin, driven in virtual time. */
export class SyncedClock {
  readonly local: () => number;
  readonly sync: ClockSync;
  private readonly driver: Host<never>;

  constructor(
    private readonly world: World,
    readonly id: string,
    readonly machine: MachineClock,
  ) {
    this.local = monotonic(() => machine.read());
    this.sync = createClockSync({
      now: this.local,
      send: (req) => this.request(req),
    });
    this.driver = new Host<never>({ queue: world.queue, id: `${id}/clock`, coreNow: this.local });
    const sync = this.sync;
    this.driver.install({ receive: () => {}, tick: () => sync.tick(), nextWakeAt: () => sync.nextWakeAt() });
  }

  /** The synced clock (call only once the first sync round has an offset, or it slews slowly). */
  now = (): number => this.sync.now();

  pause(): void {
    this.driver.crash();
  }

  resume(): void {
    this.driver.resume();
  }

  private request(req: { id: number; t0: number }): void {
    const { net, queue } = this.world;
    const up = net.transit(this.id, ADMIN_ID);
    if (up === null) return;
    queue.after(up, () => {
      const t = queue.now; // the admin's clock is the reference: true time
      const down = net.transit(ADMIN_ID, this.id);
      if (down === null) return;
      queue.after(down, () => {
        if (this.driver.crashed) return;
        this.sync.receive({ id: req.id, t1: t, t2: t });
        this.driver.reschedule();
      });
    });
  }
}

export interface ServerNodeOptions {
  id: string;
  secretKey: string;
  publicKey: string;
  clockOffset: number;
  observe: (node: string, ev: CoreEvent) => void;
  /** Called with every action message delivered to a running server. */
  onActionDelivered?: (server: string, msg: PeerMessage & { type: 'action' }, from: string) => void;
  /** Called with bytes that arrived but are no peer message (decodePeerMessage's reason). */
  onUndecodable?: (server: string, from: string, reason: string) => void;
}

export class ServerNode {
  readonly id: string;
  readonly clock: SyncedClock;
  readonly host: Host<PeerMessage, SiteServer>;
  cheater: Cheater | undefined;
  /** True while frozen by a crash. */
  get crashed(): boolean {
    return this.host.crashed;
  }

  constructor(
    private readonly world: World,
    readonly opts: ServerNodeOptions,
  ) {
    this.id = opts.id;
    this.clock = new SyncedClock(world, opts.id, machineClock(world.queue, opts.clockOffset));
    this.host = new Host<PeerMessage, SiteServer>({
      queue: world.queue,
      id: opts.id,
      coreNow: this.clock.now,
    });
    world.net.attach(
      opts.id,
      (from, msg) => {
        if (msg.type === 'action' && from === msg.user && !this.host.crashed && this.host.core) {
          opts.onActionDelivered?.(this.id, msg, from);
        }
        if (this.cheater && !this.host.crashed) this.cheater.incoming(from, msg);
        this.host.deliver(from, msg);
      },
      (from, _bytes, reason) => {
        if (!this.host.crashed) opts.onUndecodable?.(this.id, from, reason);
      },
    );
  }

  get core(): SiteServer | undefined {
    return this.host.core;
  }

  /** Creates the core (call once the clock is synced). Without `init` it waits for the admin. */
  start(): void {
    const { world, opts } = this;
    const core = createSiteServer({
      config: world.config,
      id: opts.id,
      secretKey: opts.secretKey,
      adminKey: world.adminKey,
      crypto: world.crypto,
      now: this.clock.now,
      send: (to, msg) => this.send(to, msg),
      observe: (ev) => opts.observe(opts.id, ev),
    });
    this.host.install(core);
  }

  private send(to: string, msg: PeerMessage): void {
    if (this.host.crashed) return;
    const emit = (t: string, m: PeerMessage): void => {
      if (!this.host.crashed) this.world.net.send(this.id, t, m);
    };
    if (this.cheater) this.cheater.outgoing(to, msg, emit);
    else emit(to, msg);
  }

  crash(): void {
    this.host.crash();
    this.clock.pause();
  }

  resume(): void {
    this.clock.resume();
    this.host.resume();
  }
}

export interface UserNodeOptions {
  id: string;
  servers: string[];
  rate: number;
  rng: Rng;
  clockOffset: number;
  onSent: (user: string, actionNo: number, action: PlayerAction) => void;
  onAccept: (user: string, update: AcceptedUpdate) => void;
  observe: (node: string, ev: CoreEvent) => void;
}

const DIRS = ['up', 'down', 'left', 'right'] as const;
const WORDS = ['hi', 'hello', 'gg', 'over here', 'nice', 'brb', 'lol'];

export class UserNode {
  readonly id: string;
  readonly host: Host<PeerMessage, SiteUser>;
  private readonly local: () => number;

  constructor(
    private readonly world: World,
    readonly opts: UserNodeOptions,
  ) {
    this.id = opts.id;
    const machine = machineClock(world.queue, opts.clockOffset);
    this.local = monotonic(() => machine.read());
    this.host = new Host<PeerMessage, SiteUser>({ queue: world.queue, id: opts.id, coreNow: this.local });
    world.net.attach(opts.id, (from, msg) => this.host.deliver(from, msg));
  }

  get core(): SiteUser | undefined {
    return this.host.core;
  }

  start(seq: number, hash: string): void {
    const { world, opts } = this;
    this.host.install(
      createSiteUser({
        config: world.config,
        user: opts.id,
        now: this.local,
        send: (to, msg) => world.net.send(opts.id, to, msg),
        servers: opts.servers,
        seq,
        hash,
        nextActionNo: 1,
        adminKey: world.adminKey,
        crypto: world.crypto,
        onAccept: (u) => opts.onAccept(opts.id, u),
        observe: (ev) => opts.observe(opts.id, ev),
      }),
    );
  }

  /** Sends actions as a Poisson process of `rate` per second during [from, to) true time. */
  actBetween(from: number, to: number): void {
    const { rate, rng } = this.opts;
    if (!(rate > 0)) return;
    const q = this.world.queue;
    const next = (t: number): void => {
      const at = t + -Math.log(1 - rng.next()) * (1000 / rate);
      if (at >= to) return;
      q.schedule(at, () => {
        this.act(this.randomAction());
        next(at);
      });
    };
    next(from);
  }

  act(action: PlayerAction): void {
    this.host.poke((core) => {
      const no = core.act(action);
      this.opts.onSent(this.id, no, action);
    });
  }

  private randomAction(): PlayerAction {
    const r = this.opts.rng;
    const x = r.next();
    if (x < 0.7) return { kind: 'move', dir: r.pick(DIRS) };
    if (x < 0.85) return { kind: 'pickup' };
    return { kind: 'say', text: r.pick(WORDS) };
  }
}

export interface AdminNodeOptions {
  secretKey: string;
  servers: Array<{ id: string; key: string }>;
  spares: () => Array<{ id: string; key: string }>;
  users: () => string[];
  rng: Rng;
  observe: (node: string, ev: CoreEvent) => void;
}

export class AdminNode {
  readonly host: Host<PeerMessage, SiteCoordinator>;

  constructor(
    private readonly world: World,
    opts: AdminNodeOptions,
  ) {
    const q = world.queue;
    this.host = new Host<PeerMessage, SiteCoordinator>({ queue: q, id: ADMIN_ID, coreNow: () => q.now });
    world.net.attach(ADMIN_ID, (from, msg) => this.host.deliver(from, msg));
    this.host.install(
      createSiteCoordinator({
        config: world.config,
        secretKey: opts.secretKey,
        crypto: world.crypto,
        now: () => q.now,
        random: () => opts.rng.next(),
        send: (to, msg) => world.net.send(ADMIN_ID, to, msg),
        servers: opts.servers,
        candidates: opts.spares,
        users: opts.users,
        observe: (ev) => opts.observe(ADMIN_ID, ev),
      }),
    );
  }

  get core(): SiteCoordinator {
    const c = this.host.core;
    if (!c) throw new Error('coordinator not started');
    return c;
  }
}
