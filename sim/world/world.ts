/**
 * The whole world under the simulator, first version: every site of the world is P2P, each hosted
 * by the admin's real site code (server/p2p: P2PSite with its lifecycle, reads, fallback, transit)
 * and three real Site Servers (createSiteServer), all on one simulated network (sim/network.ts,
 * real codec) and clock (sim/eventQueue.ts), driven like the hosts (sim/host.ts). Players walk to
 * items and pick them, take portals (their departure, accepted by majority, lands them on the next
 * site as a join, as the admin's game does), log out and log in again; then every site is handed
 * back. Links have a latency drawn per run and a few slow peers (those the admin would choose); in
 * half the runs a serving tab crashes and a spare replaces it; in some the admin restarts (its
 * sites suspended, then resumed from their records; servers resend the updates they kept for it).
 * What the run saw is a
 * `WorldTrace`, which `checkWorld` (properties.ts) judges.
 *
 * With `managed: true` the run is the managed world instead (managed.ts): the admin's real Game
 * and P2PManager, users' own cores, loss and partitions; same trace, more fields.
 */
import { pathTo } from '../../src/game/path.js';
import { createSite, newUser } from '../../src/game/rules.js';
import type { PlayerAction, SiteSnapshot, UserState } from '../../src/game/types.js';
import { getSite, listSites } from '../../src/game/world.js';
import { makeSiteConfig } from '../../src/protocol/config.js';
import { insecureFastScheme, ZERO_HASH } from '../../src/protocol/crypto.js';
import { ADMIN_ID, type PeerMessage } from '../../src/protocol/messages.js';
import { createSiteServer } from '../../src/protocol/server.js';
import type { CoordinatorServer, SiteServer } from '../../src/protocol/api.js';
import { SiteLifecycle } from '../../server/p2p/lifecycle.js';
import { DEFAULT_P2P } from '../../server/p2p/settings.js';
import { P2PSite } from '../../server/p2p/site.js';
import { ADMIN_OUTBOX } from '../../src/net/p2p/serverHost.js';
import { Transit } from '../../server/p2p/transit.js';
import type { ResumedFrom, VerifiedSite } from '../../server/p2p/types.js';
import type { StoredP2PSite } from '../../server/storage/types.js';
import { peerCodec } from '../core.js';
import { EventQueue } from '../eventQueue.js';
import { Host } from '../host.js';
import { Network } from '../network.js';
import { createRng } from '../rng.js';
import { runManagedWorld } from './managed.js';
import { emptyTrace } from './trace.js';

const crypto = insecureFastScheme;
const ADMIN_SECRET = 'ad'.repeat(32);
const N_SERVER = 3;
/** A join (portal landing, login) must show on the majority's copy of its site within this. */
export const JOIN_BOUND_MS = 3000;

export interface WorldOptions {
  seed: number;
  players?: number;
  rounds?: number;
  /** Run the admin's real Game and P2PManager, with users' own cores (managed.ts). */
  managed?: boolean;
  /** Managed world only: admin restarts and skewed clocks drawn per run (default), in every run, or never. */
  restarts?: 'sometimes' | 'always' | 'never';
  skew?: 'sometimes' | 'always' | 'never';
  /** Managed world only: the admin's restart is a crash (kill -9) in some runs, every run, or none (default). */
  crashes?: 'sometimes' | 'always' | 'never';
  /** Slow peers with a longer round trip to the admin are not chosen (default: MMO_MAX_SERVER_RTT_MS's). */
  maxServerRttMs?: number;
}

/** A departure or a join as the admin's side saw it. */
export interface WorldJoin {
  user: string;
  site: string;
  at: number;
  /** When the majority of the site's servers first had the user (null: never seen). */
  seenAt: number | null;
}

export interface WorldTrace {
  seed: number;
  players: string[];
  /** Items on the map at the start, per site (ids). */
  itemsAtStart: string[];
  /** Each site as the hand-back gave it back (missing: it never came back). */
  closed: Map<string, VerifiedSite>;
  sites: string[];
  /** Logged-out players' stored states. */
  stored: Map<string, UserState>;
  /** Players that landed on a site already on its way back (they join the admin's copy). */
  arrivedAtAdmin: Map<string, UserState>;
  /** Every server's accepted log: site -> server -> [seq, hash]. */
  logs: Map<string, Map<string, Array<[number, string]>>>;
  joins: WorldJoin[];
  /** Lifecycle paths taken per site (events). */
  lifecycles: Map<string, string[]>;
  /** Errors the admin's code logged (ERR_INTERNAL: an illegal transition, a failed tick). */
  errors: string[];
  /** Servers whose tab crashed. */
  crashed: string[];
  /** Admin restarts during the run. */
  restarts: number;
  /** Departure updates the servers resent to a restarted admin (applied while it was down). */
  resentDepartures: number;
  // The managed world's (managed.ts); absent from a P2P-only run.
  /** Logins and portal landings, and when the user had the site's state (null: never). */
  entries?: WorldEntry[];
  /** What each user core accepted, with the key of its site's period in `logs`. */
  views?: Array<{ user: string; key: string; accepted: Array<[number, string]> }>;
  /** At each hand-back: the site as the admin took it back and as the majority of its servers had it at the cut (canonical JSON; majority null when it was lost). */
  storedChecks?: Array<{ site: string; seq: number; stored: string | null; majority: string | null }>;
  /** Faults with an end (partitions; a site's lost majority, until it fell back): the entry bound counts from the last one's healing. */
  faults?: Array<{ start: number; end: number; what: string; site?: string }>;
  /** Transfers of a site from the admin to Site Servers the manager chose. */
  transfers?: number;
  /** Each time the admin process went down: a crash or not, the sites then at their servers, and those the next process resumed. */
  downs?: Array<{ at: number; crash: boolean; atServers: string[]; resumed: string[] }>;
  /** Messages from servers lost down a user's previous session's channel (tab.ts). */
  lingered?: number;
  /** Each `serve` the manager sent: the player picked, and the site the game had it on then. */
  serves?: Array<{ user: string; site: string; playingOn: string | null; at: number }>;
}

/** A login or a portal landing as the user saw it. */
export interface WorldEntry {
  user: string;
  /** Null until the admin said where (a login). */
  site: string | null;
  via: 'login' | 'portal';
  at: number;
  readyAt: number | null;
  /** When the tab closed before it had the state (a logout or crash). */
  abandoned?: number;
}

interface SiteRig {
  p2p: P2PSite;
  admin: Host<PeerMessage>;
  /** Every Site Server core of the site: the first three, then spares that may replace them. */
  cores: Map<string, SiteServer>;
  hosts: Map<string, Host<PeerMessage>>;
  life: SiteLifecycle;
  /** Builds the admin's side again (a restarted admin resuming the site). */
  restart: (servers: CoordinatorServer[], onSite: string[], resumed: ResumedFrom) => SiteRig;
}

/** Spare peers per site (tabs that may replace a crashed server). */
const SPARES = 2;

/** A server's secret key, fixed by its id (the simulator's own keys need no secrecy). */
function secret(id: string): string {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return (h.toString(16).padStart(8, '0') + '5a').repeat(7).slice(0, 64);
}

export function runWorld(o: WorldOptions): WorldTrace {
  if (o.managed) return runManagedWorld(o);
  const rng = createRng(o.seed);
  const queue = new EventQueue();
  // Links: a base latency per run, and a few slow peers (a loaded machine, a far tab) slower still.
  const links = rng.fork('links');
  const baseLatency = 5 + links.int(35);
  const slow = new Map<string, number>();
  const maxRtt = o.maxServerRttMs ?? DEFAULT_P2P.maxServerRttMs;
  const latencyOf = (id: string): number => slow.get(id) ?? 0;
  const net = new Network<PeerMessage>({
    queue,
    rng: rng.fork('net'),
    codec: peerCodec,
    defaults: { latency: baseLatency, jitter: 10, loss: 0 },
    linkParams: (from, to) => ({
      latency: baseLatency + latencyOf(from) + latencyOf(to),
      jitter: 10,
      loss: 0,
    }),
  });
  const now = (): number => queue.now;
  const siteIds = listSites().map((s) => s.id);
  const players = Array.from({ length: o.players ?? 8 }, (_, i) => `p${i}`);
  const trace = emptyTrace(o.seed, players, siteIds);
  const log = {
    info: () => undefined,
    warn: () => undefined,
    error: (event: string, fields?: Record<string, unknown>) =>
      void trace.errors.push(`${event} ${JSON.stringify(fields ?? {})}`),
  };
  const transit = new Transit();
  /** The run is over and every site is being handed back (a restarted admin hands them back too). */
  let handingBack = false;
  /** What each P2P site persisted for a restarted admin (the p2p_sites table). */
  const records = new Map<string, StoredP2PSite>();
  /** The admin is down: what servers send it is lost. */
  let adminDown = false;
  /**
   * The last ADMIN_OUTBOX updates (and hashes) each server sent the admin, whether it was up or
   * not, resent whole after a restart, as SiteServerHost's outbox is: a vote that reached the
   * stopping admin before it had a majority for that update is lost with it, and counts again.
   */
  const outbox = new Map<string, Array<{ m: PeerMessage; whileDown: boolean }>>();
  const toAdmin = (id: string, m: PeerMessage): void => {
    if (m.type !== 'update' && m.type !== 'updateHash') return;
    const kept = outbox.get(id) ?? [];
    kept.push({ m, whileDown: adminDown });
    if (kept.length > ADMIN_OUTBOX) kept.shift();
    outbox.set(id, kept);
  };
  const rigs = new Map<string, SiteRig>();
  const where = new Map<string, string>();
  for (const name of players) where.set(name, rng.pick(siteIds));

  const join = (site: string, user: UserState): void => {
    const rig = rigs.get(site);
    if (!rig || !rig.p2p.running) {
      trace.arrivedAtAdmin.set(user.name, user);
      where.delete(user.name);
      return;
    }
    where.set(user.name, site);
    trace.joins.push({ user: user.name, site, at: now(), seenAt: null });
    rig.p2p.join(user.name, user);
  };
  const departed = (site: string, user: UserState, via: 'portal' | 'logout'): void => {
    // The majority applied its departure, so its join had shown by now: a join and a leave in
    // one update (or between two looks of noteJoins) show in no snapshot.
    for (const j of trace.joins)
      if (j.user === user.name && j.site === site && j.seenAt === null) j.seenAt = now();
    where.delete(user.name);
    if (via === 'logout') trace.stored.set(user.name, user);
    // A portal lands the user on its destination after the admin's own handling.
    else queue.after(1, () => join(user.site, user));
  };

  for (const site of siteIds) {
    const config = makeSiteConfig({ site, N_server: N_SERVER });
    const cores = new Map<string, SiteServer>();
    const hosts = new Map<string, Host<PeerMessage>>();
    const ids = Array.from({ length: N_SERVER }, (_, i) => `${site}-s${i}`);
    const spares = Array.from({ length: SPARES }, (_, i) => `${site}-c${i}`);
    for (const id of [...ids, ...spares]) {
      const host = new Host<PeerMessage>({ queue, id, coreNow: now });
      const s = createSiteServer({
        config,
        id,
        secretKey: secret(id),
        adminKey: crypto.publicKeyOf(ADMIN_SECRET),
        crypto,
        now,
        send: (to, m) => {
          if (to === ADMIN_ID) toAdmin(id, m);
          net.send(id, to, m);
        },
      });
      cores.set(id, s);
      hosts.set(id, host);
      net.attach(id, (from, m) => host.deliver(from, m));
      host.install(s);
      if (links.chance(0.05)) {
        // A slow peer serves only if the admin would choose it: its round trip to the admin (the
        // admin's own link is not slow) within MMO_MAX_SERVER_RTT_MS. Otherwise another peer holds
        // that id, at the base latency.
        const extra = 40 + links.int(110);
        if (2 * (baseLatency + extra) <= maxRtt) slow.set(id, extra);
      }
    }
    const serving = new Set(ids);
    const users = players.filter((p) => where.get(p) === site);
    /** The admin's side of the site: at the start, or (resumed) in a restarted admin. */
    const adminSide = (servers: CoordinatorServer[], onSite: string[], resumed?: ResumedFrom): SiteRig => {
      const life = new SiteLifecycle(site, { now, log });
      const adminHost = new Host<PeerMessage>({ queue, id: `${ADMIN_ID}/${site}`, coreNow: now });
      const p2p = new P2PSite(
        {
          config,
          secretKey: ADMIN_SECRET,
          crypto,
          now,
          random: () => rng.next(),
          log,
          deliver: (to, m) => net.send(ADMIN_ID, to, m),
          startServing: (id) => (hosts.get(id)?.crashed ? false : (serving.add(id), true)),
          stopServing: (id) => void serving.delete(id),
          connected: (id) => hosts.get(id)?.crashed === false,
          candidates: () =>
            spares
              .filter((id) => !serving.has(id) && !hosts.get(id)?.crashed)
              .map((id) => ({ id, key: crypto.publicKeyOf(secret(id)) })),
          onLeft: (user, via) => departed(site, user, via),
          onVerified: () => undefined,
          onClosed: (v) => void trace.closed.set(site, v),
          onMinority: () => undefined,
          saveEveryMs: 2000,
          persist: (rec) => void (rec ? records.set(site, rec) : records.delete(site)),
          resumeGraceMs: 2000,
          life,
          transit,
          wake: () => adminHost.reschedule(),
          defer: (fn) =>
            void queue.schedule(queue.now, () => {
              fn();
              adminHost.reschedule();
            }),
        },
        servers,
        onSite,
        resumed,
      );
      adminHost.install({
        receive: (f, m) => p2p.receive(f, m),
        tick: () => p2p.tick(),
        nextWakeAt: () => p2p.nextWakeAt(),
      });
      return { p2p, admin: adminHost, cores, hosts, life, restart: adminSide };
    };
    const rig = adminSide(
      ids.map((id) => ({ id, key: crypto.publicKeyOf(secret(id)) })),
      users,
    );
    rigs.set(site, rig);
    const p2p = rig.p2p;
    const start = createSite(site);
    trace.itemsAtStart.push(...start.site.items.map((i) => i.id));
    const snapshot: SiteSnapshot = { ...start, users: users.map((u) => newUser(u, site)) };
    p2p.start({ snapshot, seq: 0, prev: ZERO_HASH, lastActionNo: users.map((u) => [u, 0]) });
  }
  // The admin's one endpoint: each message goes to the site it names.
  net.attach(ADMIN_ID, (from, m) => {
    const site = 'site' in m && typeof m.site === 'string' ? m.site : null;
    if (adminDown) return;
    if (site) rigs.get(site)?.admin.deliver(from, m);
  });
  for (const name of players) net.attach(name, () => undefined);

  const nextNo = new Map<string, number>();
  const act = (name: string, site: string, action: PlayerAction): void => {
    const no = (nextNo.get(name) ?? 0) + 1;
    nextNo.set(name, no);
    for (const id of rigs.get(site)?.p2p.servers() ?? [])
      net.send(name, id, { type: 'action', site, user: name, actionNo: no, action });
  };
  /** The site's servers now (slot holders whose tab is up). */
  const upServers = (site: string): SiteServer[] => {
    const rig = rigs.get(site);
    return (rig?.p2p.servers() ?? []).flatMap((id) =>
      rig?.hosts.get(id)?.crashed === false ? [rig.cores.get(id)!] : [],
    );
  };
  const view = (site: string): SiteSnapshot | null =>
    upServers(site)
      .find((s) => s.snapshot() !== null)
      ?.snapshot() ?? null;
  const noteJoins = (): void => {
    for (const j of trace.joins) {
      if (j.seenAt !== null) continue;
      const have = upServers(j.site).filter((s) => s.snapshot()?.users.some((u) => u.name === j.user)).length;
      if (have * 2 > N_SERVER) j.seenAt = now();
    }
  };
  const runFor = (ms: number): void => {
    const end = queue.now + ms;
    while (queue.now < end) {
      queue.runUntil(Math.min(end, queue.now + 50));
      noteJoins();
    }
  };

  runFor(400);
  const rounds = o.rounds ?? 6;
  const r = rng.fork('players');
  // The admin restarts in some runs: every site is suspended (its record kept), the sites play on
  // without it, then a new admin resumes each from its record and last stored state; servers and
  // users come back, and servers resend what they told the admin about departures meanwhile.
  const restart = rng.fork('restart');
  if (restart.chance(0.3)) {
    const downAt = 400 + restart.int(rounds * 600);
    const upAt = downAt + 300 + restart.int(1200);
    const bases = new Map<string, VerifiedSite>();
    queue.schedule(downAt, () => {
      adminDown = true;
      trace.restarts++;
      for (const [site, rig] of rigs) {
        const base = rig.p2p.fallbackState();
        if (base) bases.set(site, base);
        rig.p2p.suspend();
      }
    });
    queue.schedule(upAt, () => {
      adminDown = false;
      for (const [site, rig] of rigs) {
        const rec = records.get(site);
        const base = bases.get(site);
        if (!rec || !base) continue;
        const again = rig.restart([], rec.users, {
          coordinator: rec.coordinator as ResumedFrom['coordinator'],
          holders: rec.holders,
          base,
        });
        rigs.set(site, again);
        for (const id of again.p2p.servers()) {
          if (again.hosts.get(id)?.crashed !== false) continue;
          again.admin.poke(() => void again.p2p.serverBack(id));
          for (const { m, whileDown } of outbox.get(id) ?? []) {
            if (whileDown && m.type === 'update' && m.events.some((e) => e.kind === 'left'))
              trace.resentDepartures++;
            again.admin.deliver(id, m);
          }
        }
        for (const name of rec.users)
          if (where.get(name) === site) again.admin.poke(() => void again.p2p.userBack(name));
        // Stopped during the hand-back: the new admin starts it again (the site is as quiet as before).
        if (handingBack) again.admin.poke(() => again.p2p.close('end of the run'));
      }
    });
  }
  // A serving tab crashes in half the runs: the admin sees its socket close and replaces it
  // (as P2PManager.disconnect does), a spare takes its slot and the state from the others.
  const faults = rng.fork('faults');
  if (faults.chance(0.5)) {
    const site = faults.pick(siteIds);
    const victim = faults.pick(rigs.get(site)!.p2p.servers());
    queue.after(faults.int(rounds * 600), () => {
      // The admin's side as it is then (a restarted admin has a new one).
      const rig = rigs.get(site)!;
      rig.hosts.get(victim)?.crash();
      trace.crashed.push(victim);
      rig.admin.poke(() => void rig.p2p.evict(victim, 'its tab left'));
    });
  }
  for (let round = 0; round < rounds; round++) {
    for (const name of players) {
      const site = where.get(name);
      if (adminDown) {
        // Only play goes on: logins, logouts and portal landings wait for the admin.
        if (site !== undefined) act(name, site, { kind: 'say', text: `round ${round}` });
        continue;
      }
      if (site === undefined) {
        // Logged out: logs in again now and then, where it was stored.
        const st = trace.stored.get(name);
        if (st && r.chance(0.5)) {
          trace.stored.delete(name);
          join(st.site, st);
        }
        continue;
      }
      const v = view(site);
      const me = v?.users.find((u) => u.name === name);
      if (!v || !me) continue;
      const x = r.next();
      if (x < 0.5 && v.site.items.length > 0) {
        const item = r.pick(v.site.items);
        for (const dir of pathTo(site, me, item)) act(name, site, { kind: 'move', dir });
        act(name, site, { kind: 'pickup' });
      } else if (x < 0.75 && getSite(site).portals.length > 0) {
        const p = r.pick(getSite(site).portals);
        for (const dir of pathTo(site, me, p)) act(name, site, { kind: 'move', dir });
        act(name, site, { kind: 'portal' });
      } else if (x < 0.85) rigs.get(site)?.p2p.leave(name);
      else act(name, site, { kind: 'say', text: `round ${round}` });
    }
    runFor(500 + r.int(400));
  }
  while (adminDown) runFor(100);
  handingBack = true;
  for (const rig of rigs.values()) rig.p2p.close('end of the run');
  // Some players log out during the hand-back: their departures are ordered before or after its cut.
  for (const name of players) {
    const site = where.get(name);
    if (site !== undefined && r.chance(0.3)) queue.after(r.int(800), () => rigs.get(site)?.p2p.leave(name));
  }
  for (let t = 0; t < 30_000 && trace.closed.size < rigs.size; t += 100) runFor(100);
  for (const [site, rig] of rigs) {
    trace.lifecycles.set(
      site,
      rig.life.history.map((h) => h.event),
    );
    const logs = new Map<string, Array<[number, string]>>();
    for (const [id, s] of rig.cores)
      logs.set(
        id,
        s.appliedLog().map((u) => [u.seq, u.hash] as [number, string]),
      );
    trace.logs.set(site, logs);
  }
  return trace;
}
