/**
 * A run's site before anything happens: its configuration, and its parties: the simulated network with its per-link latencies,
 * the admin, N_server Site Servers, spare peers and bot users (ids s0.., p0.., u0..), and the
 * scripted cheaters among the servers. Every random choice comes from its own fork of the run's
 * Rng, so adding a party does not shift what the others draw.
 */
import {
  DEFAULT_SITE_CONFIG,
  insecureFastScheme,
  makeSiteConfig,
  secretKeyFrom,
  type PeerMessage,
  type SiteConfig,
} from '../src/protocol/index.js';
import { applyAll, createSite, newUser } from '../src/game/rules.js';
import type { SiteSnapshot } from '../src/game/types.js';
import { CollusionGroup, createCheater } from './cheaters.js';
import type { EventQueue } from './eventQueue.js';
import { Network, type Codec } from './network.js';
import { AdminNode, ServerNode, UserNode, type World } from './nodes.js';
import type { CheatKind, ScenarioOptions } from './options.js';
import type { TraceRecorder } from './recorder.js';
import type { Rng } from './rng.js';

export const SITE = 'meadow';

/** The site configuration a run uses (core defaults unless the options set T_*). */
export function siteConfigFor(o: ScenarioOptions): SiteConfig {
  const tTimeout = o.tTimeout ?? Math.max(DEFAULT_SITE_CONFIG.T_timeout, 3 * o.tTimeslot);
  return makeSiteConfig({
    site: SITE,
    N_server: o.servers,
    T_timeslot: o.tTimeslot,
    T_timeout: tTimeout,
    ...(o.tReqTimeout !== undefined ? { T_req_timeout: o.tReqTimeout } : {}),
    ...(o.tIgnore !== undefined ? { T_ignore: o.tIgnore } : {}),
    ...(o.tResend !== undefined ? { T_resend: o.tResend } : {}),
    ...(o.tContent !== undefined ? { T_content: o.tContent } : {}),
  });
}

/** The site handed over at the start: every user joined, nothing else happened. */
export function handOverSnapshot(userIds: readonly string[]): SiteSnapshot {
  return applyAll(
    createSite(SITE),
    userIds.map((u) => ({ actor: u, action: { kind: 'join' as const, user: newUser(u, SITE) } })),
  ).snapshot;
}

export interface Site {
  world: World;
  net: Network<PeerMessage>;
  admin: AdminNode;
  servers: ServerNode[];
  spares: ServerNode[];
  users: UserNode[];
  serverIds: string[];
  spareIds: string[];
  userIds: string[];
  /** Spares the admin may no longer pick (filled in once the run is over). */
  used: Set<string>;
  /** Cheat kinds of each cheating server. */
  cheats: Map<string, CheatKind[]>;
}

export function buildSite(
  o: ScenarioOptions,
  config: SiteConfig,
  rng: Rng,
  queue: EventQueue,
  codec: Codec<PeerMessage>,
  recorder: TraceRecorder,
): Site {
  const crypto = insecureFastScheme;
  const serverIds = Array.from({ length: o.servers }, (_, i) => `s${i}`);
  const spareIds = Array.from({ length: o.spares }, (_, i) => `p${i}`);
  const userIds = Array.from({ length: o.users }, (_, i) => `u${i}`);

  const net = buildNetwork(o, rng, queue, codec, recorder);
  const adminSecret = secretKeyFrom(rng.fork('key:admin').next);
  const world: World = { queue, net, config, crypto, adminKey: crypto.publicKeyOf(adminSecret) };

  const offsetRng = rng.fork('clock');
  const clockOffset = (): number => (o.clockOffset > 0 ? offsetRng.range(-o.clockOffset, o.clockOffset) : 0);
  const makeServer = (id: string): ServerNode => {
    const secretKey = secretKeyFrom(rng.fork(`key:${id}`).next);
    return new ServerNode(world, {
      id,
      secretKey,
      publicKey: crypto.publicKeyOf(secretKey),
      clockOffset: clockOffset(),
      observe: recorder.observe,
      onActionDelivered: recorder.onActionDelivered,
      onUndecodable: recorder.onUndecodable,
    });
  };
  const servers = serverIds.map(makeServer);
  const spares = spareIds.map(makeServer);
  recorder.addServers([...servers, ...spares]);
  const used = new Set<string>();
  const admin = new AdminNode(world, {
    secretKey: adminSecret,
    servers: servers.map((s) => ({ id: s.id, key: s.opts.publicKey })),
    spares: () =>
      spares.filter((s) => !used.has(s.id) && !s.crashed).map((s) => ({ id: s.id, key: s.opts.publicKey })),
    users: () => userIds,
    rng: rng.fork('admin'),
    observe: recorder.observe,
  });
  const users = userIds.map(
    (id) =>
      new UserNode(world, {
        id,
        servers: serverIds,
        rate: o.rate,
        rng: rng.fork(`bot:${id}`),
        clockOffset: clockOffset(),
        onSent: recorder.onSent,
        onAccept: recorder.onAccept,
        observe: recorder.observe,
      }),
  );
  const cheats = assignCheaters(o, world, rng, servers, userIds);
  return { world, net, admin, servers, spares, users, serverIds, spareIds, userIds, used, cheats };
}

/**
 * The network: each directed link keeps its own extra latency for the whole run (drawn from a
 * fork per link, so the draw does not depend on which link is used first).
 */
function buildNetwork(
  o: ScenarioOptions,
  rng: Rng,
  queue: EventQueue,
  codec: Codec<PeerMessage>,
  recorder: TraceRecorder,
): Network<PeerMessage> {
  const isServer = (id: string): boolean => id.startsWith('s') || id.startsWith('p');
  const linkRng = rng.fork('links');
  const linkExtra = new Map<string, number>();
  const extraOf = (from: string, to: string): number => {
    if (!(o.linkSpread > 0)) return 0;
    const k = `${from}>${to}`;
    let x = linkExtra.get(k);
    if (x === undefined) linkExtra.set(k, (x = linkRng.fork(k).range(0, o.linkSpread)));
    return x;
  };
  const net = new Network<PeerMessage>({
    queue,
    rng: rng.fork('net'),
    codec,
    defaults: { latency: o.latencySU, jitter: o.jitter, loss: o.loss },
    linkParams: (from, to) => {
      const ss = isServer(from) && isServer(to);
      const latency = (ss ? o.latencySS : o.latencySU) + extraOf(from, to);
      return { latency, jitter: o.jitter, loss: o.loss };
    },
    observe: recorder.onWire,
  });
  net.attach('void', () => {});
  return net;
}

/** Turns servers into the options' cheaters, in an order drawn from the 'cheat' fork. */
function assignCheaters(
  o: ScenarioOptions,
  world: World,
  rng: Rng,
  servers: readonly ServerNode[],
  userIds: string[],
): Map<string, CheatKind[]> {
  const serverIds = servers.map((s) => s.id);
  const cheatRng = rng.fork('cheat');
  const order = cheatRng.shuffle(serverIds);
  const cheats = new Map<string, CheatKind[]>();
  let group: CollusionGroup | undefined;
  let next = 0;
  for (const spec of o.cheats) {
    for (let i = 0; i < spec.count; i++) {
      const id = order[next++] as string;
      cheats.set(id, [spec.kind]);
      const node = servers.find((s) => s.id === id) as ServerNode;
      if (spec.kind === 'collude') {
        group ??= new CollusionGroup(cheatRng.fork('group'), userIds);
        group.members.push(id);
      }
      node.cheater = createCheater(
        [spec.kind],
        {
          id,
          secretKey: node.opts.secretKey,
          crypto: world.crypto,
          config: world.config,
          queue: world.queue,
          rng: cheatRng.fork(`cheater:${id}`),
          membership: () => node.core?.membership() ?? null,
          peers: () => serverIds.filter((s) => s !== id),
          users: () => userIds,
          now: node.clock.now,
        },
        {
          ...(spec.delta !== undefined ? { delta: spec.delta } : {}),
          ...(spec.kind === 'collude' && group ? { group } : {}),
        },
      );
    }
  }
  return cheats;
}
