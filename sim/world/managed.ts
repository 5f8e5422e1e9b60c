/**
 * The whole world with the admin's real site manager (issue 18): the admin's `Game` and
 * `P2PManager` (server/), on an in-memory SQLite store, with time and wake-ups injected from the
 * simulator's clock, and every player a tab (tab.ts) that plays through the admin or through its
 * own Site User core, and serves other sites when the manager chooses it. Sites start
 * client-server; the manager transfers one at the threshold to servers it picks among peers not
 * on it, replaces servers whose tabs crash, and hands a site back when it empties or stays well
 * below the threshold; at the end every site is handed back.
 *
 * Faults: peer links lose messages in some runs, a player's tab is cut off from the others for a
 * while (a partition, then it heals), some tabs are slow (a loaded machine: each input waits for
 * its one core), tabs crash (the admin notices its socket close a little later), and players log
 * out and in again (their previous session's channels linger at the servers: tab.ts). In some
 * runs the admin restarts (adminProcess.ts: the process stops as on SIGTERM, or with `crashes`
 * dies as on kill -9 with nothing saved at the stop; every tab's socket drops, a new process on
 * the same database resumes the P2P sites and the tabs reconnect), and in
 * some the tabs' clocks are off and drift, synced by the protocol's clock sync (tab.ts).
 *
 * What the run saw is a `WorldTrace` (the fields of world.ts plus the managed ones), judged by
 * `checkWorld` like the P2P-only world's.
 */
import { pathTo } from '../../src/game/path.js';
import type { PlayerAction, SiteSnapshot } from '../../src/game/types.js';
import { getSite, listSites } from '../../src/game/world.js';
import { insecureFastScheme } from '../../src/protocol/crypto.js';
import type { ClientMessage, PeerMessage, ServerMessage } from '../../src/protocol/messages.js';
import type { SiteServer, SiteUser } from '../../src/protocol/api.js';
import { DEPARTURE_WAIT_MS, type PlayerLink } from '../../server/game.js';
import type { Logger } from '../../server/log.js';
import { LOST_AFTER_MS } from '../../server/p2p/reads.js';
import { DEFAULT_P2P, siteConfigFor, type P2POptions } from '../../server/p2p/settings.js';
import { SqliteStorage, SYNCHRONOUS, type Synchronous } from '../../server/storage/sqlite.js';
import type { Storage } from '../../server/storage/types.js';
import { decodePeerMessage } from '../../src/protocol/messages.js';
import { fromBase64 } from '../../src/protocol/chunks.js';
import {
  ADMIN_SECRET,
  crashAdmin,
  crashBetween,
  cutPower,
  startAdmin,
  stopAdmin,
  type AdminProcess,
} from './adminProcess.js';
import { DiskLog, NORMAL_LOSS_MAX_MS } from './powerCut.js';
import type { Between, CrashActs } from './stepActs.js';
import { peerCodec } from '../core.js';
import { EventQueue } from '../eventQueue.js';
import { Network } from '../network.js';
import { createRng } from '../rng.js';
import { Channels, SimTab, type TabSkew, type TabWorld } from './tab.js';
import type { WorldEntry, WorldOptions, WorldTrace } from './world.js';
import { emptyTrace } from './trace.js';

const crypto = insecureFastScheme;

/**
 * A login or portal entry has the site's state within this, once the last fault healed: a login
 * may wait DEPARTURE_WAIT_MS for its state to come back from a P2P site, then 2 s to take it.
 */
export const ENTRY_BOUND_MS = DEPARTURE_WAIT_MS + 2000;

/** Settings of the managed world: the defaults, with a low threshold and a quick hand-back. */
const OPTIONS: Readonly<P2POptions> = {
  ...DEFAULT_P2P,
  transferThreshold: 3,
  handBackAfterMs: 4000,
  p2pSaveMs: 2000,
};

/** Runs with an admin restart, and with skewed clocks, when each is drawn ('sometimes'). */
export const RESTART_CHANCE = 0.3;
export const SKEW_CHANCE = 0.5;
/** Runs whose admin crashes (kill -9) rather than stopping, when drawn ('sometimes'; the default is never). */
export const CRASH_CHANCE = 0.5;
/**
 * A skewed tab's clock: behind the admin's by up to this (a tab's clock is its page's
 * performance.now, far behind the admin's wall clock: its first offset is a jump forward), and
 * drifting up to this either way (within the 100 ppm the sync assumes).
 */
const SKEW_MAX_MS = 5000;
const DRIFT_MAX_PPM = 80;
/** A resumed site waits this long for its servers and users (the admin's default is 30 s). */
const RESUME_GRACE_MS = 3000;

/** A fault of the managed world: drawn per run with its chance (default), in every run, or never. */
export type FaultDraw = NonNullable<WorldOptions['restarts']>;

/** `restarts`: an admin restart during play (RESTART_CHANCE); `skew`: tabs' clocks off and drifting (SKEW_CHANCE). */
export interface ManagedOptions extends WorldOptions {
  /** Tests only: every player logs out and in again on its P2P site this many times (the stall). */
  relogins?: number;
  /**
   * Tests only: a drawn crash falls inside a step, between two of its writes (the first step
   * after the drawn time that writes twice: adminProcess.ts `crashBetween`); a string: only
   * before a write whose name has it (e.g. 'deleted': a P2P site's record deleted); a `Between`:
   * between two acts of those kinds, a write or a send (stepActs.ts: e.g. a message sent and the
   * write that follows it).
   */
  crashInside?: boolean | string | Between;
  /**
   * Tests only: a drawn crash is a power cut of the admin's machine, its disk keeping a prefix of
   * the commits (powerCut.ts): `true` with SQLite's `synchronous` as the admin sets it
   * (server/storage/sqlite.ts `SYNCHRONOUS`), or the one given.
   */
  powerCut?: boolean | Synchronous;
}

/** The managed world's trace: the world's, and what its own faults did. */
export interface ManagedTrace extends WorldTrace {
  /** Sites left short of servers that took a free peer later (P2PManager: `p2p.refilled`). */
  refills: number;
  /** Tabs with a skewed clock, and the largest error of their synced clocks in play (ms, after their first sync). */
  skewed: number;
  clockErrorMax: number;
  /** With `crashInside`: the two writes the crash fell between (unset: no step wrote twice after the drawn time). */
  crashWrites?: [string, string];
  /** With `crashInside` between a send and a write: the two acts (unset: no such step after the drawn time). */
  crashActs?: { between: Between; acts: CrashActs };
  /** With `powerCut`: the commits the disk lost (0 with FULL: a kill -9). */
  lostCommits?: number;
}

const drawn = (d: FaultDraw | undefined, chance: number, rng: { chance(p: number): boolean }): boolean =>
  d === 'always' || (d !== 'never' && rng.chance(chance));

/** Stable JSON (sorted keys) to compare states however they were stored. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}

/** A message from the admin to a tab, named for a crash that falls at it ('serve meadow to p3', 'peer membership to p3'). */
function sendName(to: string, m: ServerMessage): string {
  let what: string = m.type;
  if (m.type === 'peer') {
    const bytes = m.count === 1 ? fromBase64(m.data) : null;
    const msg = bytes ? decodePeerMessage(bytes) : null;
    what = `peer ${msg?.ok ? msg.value.type : `(${m.count} chunks)`}`;
  }
  if ('site' in m && typeof m.site === 'string') what += ` ${m.site}`;
  return `${what} to ${to}`;
}

export function runManagedWorld(o: ManagedOptions): ManagedTrace {
  const rng = createRng(o.seed);
  const queue = new EventQueue();
  const now = (): number => queue.now;
  const links = rng.fork('links');
  const baseLatency = 5 + links.int(30);
  const loss = links.chance(0.5) ? 0.01 + links.next() * 0.04 : 0;
  const net = new Network<PeerMessage>({
    queue,
    rng: rng.fork('net'),
    codec: peerCodec,
    defaults: { latency: baseLatency, jitter: 10, loss },
  });
  const siteIds = listSites().map((s) => s.id);
  const players = Array.from({ length: o.players ?? 14 }, (_, i) => `p${i}`);
  const trace: ManagedTrace = {
    ...emptyTrace(o.seed, players, siteIds),
    refills: 0,
    skewed: 0,
    clockErrorMax: 0,
    entries: [],
    views: [],
    storedChecks: [],
    faults: [],
    transfers: 0,
    lingered: 0,
    serves: [],
  };
  const debug = process.env.WORLD_DEBUG === '1';
  const say = (level: string) => (event: string, fields?: Record<string, unknown>) =>
    debug ? console.log(queue.now.toFixed(0), level, event, JSON.stringify(fields ?? {})) : undefined;
  const log: Logger = {
    info: (event, fields) => {
      if (event === 'p2p.refilled') trace.refills++;
      say('info')(event, fields);
    },
    warn: say('warn'),
    error: (event, fields) => void trace.errors.push(`${event} ${JSON.stringify(fields ?? {})}`),
  };
  // Read by the manager at every check: the end of the run raises the threshold (no new transfers).
  const options: P2POptions = { ...OPTIONS };
  // The database outlives the admin process (a restart keeps it, as the real one keeps its file);
  // with power cuts, as the disk holds it.
  const disk = o.powerCut ? new DiskLog(() => new SqliteStorage(':memory:'), now) : null;
  const storage: Storage = disk ?? new SqliteStorage(':memory:');
  /** Server cores per site and period (a period: one stay at Site Servers). */
  const period = new Map<string, number>();
  const periodKey = (site: string): string => `${site}#${period.get(site) ?? 0}`;
  const cores = new Map<string, Map<string, SiteServer>>();
  const coreById = new Map<string, SiteServer>();
  const userCores: Array<{ user: string; key: string; core: SiteUser }> = [];
  const startProcess = (): AdminProcess =>
    startAdmin({
      queue,
      storage,
      log,
      options,
      random: () => rng.next(),
      resumeGraceMs: RESUME_GRACE_MS,
      onTransfer: (site) => void period.set(site, (period.get(site) ?? 0) + 1),
      onClosed: (site, v, lost) => {
        // What the admin takes back and stores (before its own joins of the users coming back,
        // which advance it), against the majority of the site's servers, stopped at the cut.
        const votes = new Map<string, number>();
        for (const core of cores.get(periodKey(site))?.values() ?? []) {
          const s = core.snapshot();
          if (!s || core.appliedLog().at(-1)?.seq !== v.seq) continue;
          const c = canonical(s);
          votes.set(c, (votes.get(c) ?? 0) + 1);
        }
        const majority = [...votes].find(([, n]) => n * 2 > options.nServer)?.[0] ?? null;
        trace.storedChecks?.push({
          site,
          seq: v.seq,
          stored: canonical(v.snapshot),
          majority: lost ? null : majority,
        });
      },
    });
  /** The admin process now (a restart replaces it), every one the run had, and whether one is up. */
  let admin = startProcess();
  const admins = [admin];
  let adminUp = true;
  for (const s of siteIds) trace.itemsAtStart.push(...admin.sites.snapshot(s).site.items.map((i) => i.id));

  // --- tabs -----------------------------------------------------------------------------------
  const channels = new Channels();
  const tabs = new Map<string, SimTab>();
  const latencyOf = new Map<string, number>();
  const links_ = new Map<string, PlayerLink>();
  /** Each tab's current WebSocket as the manager knows it (a late close of an older one changes nothing). */
  const wsTabs = new Map<string, { send: (m: ServerMessage) => void }>();
  /** The admin process each tab's socket is connected to (a restart drops them all). */
  const sockets = new Map<string, AdminProcess>();
  const entryOpen = new Map<string, WorldEntry>();
  const world: TabWorld = {
    queue,
    net,
    crypto,
    adminKey: crypto.publicKeyOf(ADMIN_SECRET),
    configFor: (site) => siteConfigFor(OPTIONS, site),
    toAdmin: (tab, msg) => {
      const session = tab.session;
      const to = sockets.get(tab.name);
      queue.after(latencyOf.get(tab.name) ?? 10, () => {
        // Lost with its socket when the admin process went away meanwhile.
        if (tab.session === session && to === admin && adminUp) fromTab(tab, msg);
      });
    },
    ready: (tab, site) => {
      const e = entryOpen.get(tab.name);
      if (e && e.readyAt === null && (e.site === null || e.site === site)) {
        e.site = site;
        e.readyAt = now();
        entryOpen.delete(tab.name);
      }
    },
    served: (_tab, site, id, core) => {
      const k = periodKey(site);
      if (!cores.has(k)) cores.set(k, new Map());
      cores.get(k)!.set(id, core);
      coreById.set(id, core);
    },
    playing: (tab, site, core) => void userCores.push({ user: tab.name, key: periodKey(site), core }),
  };
  const fromTab = (tab: SimTab, msg: ClientMessage): void => {
    const link = links_.get(tab.name);
    if (!link) return;
    if (msg.type === 'ping') {
      // The admin's clock answers (ws.ts): the tabs' clock sync.
      wsTabs.get(tab.name)?.send({ type: 'pong', id: msg.id, t: msg.t, serverTime: now() });
      return;
    }
    if (msg.type === 'action') {
      admin.game.act(tab.name, link, msg.actionNo, msg.action);
      return;
    }
    if (msg.type === 'key' || msg.type === 'peer' || msg.type === 'linkFailed' || msg.type === 'prefs') {
      admin.manager.onMessage(tab.name, msg);
    }
  };
  const toTab = (tab: SimTab, session: number, m: ServerMessage, from: AdminProcess): void => {
    // A process that died inside a step sends nothing after the crash (which may fall here, at
    // a message's first chunk: the rest of it goes with it).
    const whole = m.type !== 'peer' || m.index === 0;
    if (whole ? !from.acts.act('send', () => sendName(tab.name, m)) : !from.alive.up) return;
    // Whom the manager picks to serve, and where the game has that player then.
    if (m.type === 'serve')
      trace.serves?.push({ user: tab.name, site: m.site, playingOn: from.hooks.siteOf(tab.name), at: now() });
    if (m.type === 'enter' && tab.session === session) {
      // The admin puts the player on a site: a portal's landing opens an entry (a login has one,
      // which follows the player if the game moves it before it had the state: seeds 74 with restarts, 3798).
      const open = entryOpen.get(tab.name);
      if (open) open.site = m.site;
      else if (tab.site !== null && tab.site !== m.site) {
        const e: WorldEntry = { user: tab.name, site: m.site, via: 'portal', at: now(), readyAt: null };
        trace.entries?.push(e);
        entryOpen.set(tab.name, e);
      }
    }
    queue.after(latencyOf.get(tab.name) ?? 10, () => {
      if (tab.session === session) tab.fromAdmin(m);
    });
  };

  const faults = rng.fork('faults');
  // Skewed clocks, in some runs: each tab's machine clock off and drifting (its own stream of draws).
  const clocks = rng.fork('clocks');
  const skewed = drawn(o.skew, SKEW_CHANCE, clocks);
  players.forEach((name, i) => {
    // A loaded machine: a few ms per input (some tens of inputs per Timeslot make that a busy core).
    const cpuMs = faults.chance(0.15) ? 0.5 + faults.next() * 3 : 0;
    const skew: TabSkew | null = skewed
      ? { offsetMs: -clocks.next() * SKEW_MAX_MS, driftPpm: (clocks.next() * 2 - 1) * DRIFT_MAX_PPM }
      : null;
    if (skew) trace.skewed++;
    tabs.set(name, new SimTab(name, world, channels, cpuMs, i, skew));
    latencyOf.set(name, 3 + links.int(20));
  });

  /**
   * The tab's socket to the admin process up now: a login (a new session of the tab), or a
   * reconnect after an admin restart (the same session: its cores and channels go on).
   */
  const connect = (tab: SimTab, how: 'login' | 'reconnect'): void => {
    const proc = admin;
    let session = tab.session;
    const link: PlayerLink = {
      send: (json) => toTab(tab, session, JSON.parse(json) as ServerMessage, proc),
      kick: () => undefined,
    };
    const wsTab = { send: (m: ServerMessage) => toTab(tab, session, m, proc) };
    wsTabs.set(tab.name, wsTab);
    sockets.set(tab.name, proc);
    const challenge = proc.manager.connect(tab.name, wsTab, {
      ip: `10.0.${tabs.size}.${players.indexOf(tab.name)}`,
      guest: false,
    });
    if (how === 'login') tab.login(challenge);
    else tab.reconnect(challenge);
    session = tab.session;
    links_.set(tab.name, link);
    const open = entryOpen.get(tab.name);
    // An entry the restart interrupted goes on: wherever the new admin puts the player, in the bound.
    if (open) open.site = null;
    else {
      const e: WorldEntry = { user: tab.name, site: null, via: 'login', at: now(), readyAt: null };
      trace.entries?.push(e);
      entryOpen.set(tab.name, e);
    }
    proc.manager.setRtt(tab.name, 2 * (latencyOf.get(tab.name) ?? 10));
    proc.game.enter(tab.name, false, link);
    tab.sendKey();
  };
  const login = (tab: SimTab): void => connect(tab, 'login');
  /** The tab goes: a logout (the admin hears it after the tab's latency) or a crash (later still). */
  const close = (tab: SimTab, how: 'logout' | 'crash'): void => {
    const link = links_.get(tab.name);
    const ws = wsTabs.get(tab.name);
    const proc = sockets.get(tab.name);
    const e = entryOpen.get(tab.name);
    if (e) {
      e.abandoned = now();
      entryOpen.delete(tab.name);
    }
    tab.close();
    links_.delete(tab.name);
    if (how === 'crash') trace.crashed.push(tab.name);
    const delay = (latencyOf.get(tab.name) ?? 10) + (how === 'crash' ? 500 + faults.int(2500) : 0);
    queue.after(delay, () => {
      // An admin process that went away meanwhile never hears it (the next never had this socket).
      if (!adminUp || proc !== admin) return;
      if (link) admin.game.leave(tab.name, link, { forget: false, reason: how });
      // A new session may have connected meanwhile: its peer entry is not this one's.
      admin.manager.disconnect(tab.name, ws);
    });
  };

  // Partitions: a player's tab (its user and its server) cut off from every peer for a while.
  const partitions = faults.int(3);
  for (let k = 0; k < partitions; k++) {
    const start = 1000 + faults.int((o.rounds ?? 6) * 700);
    const end = start + 300 + faults.int(2500);
    const who = faults.pick(players);
    trace.faults?.push({ start, end, what: `partition of ${who}` });
    queue.schedule(start, () => {
      const t = tabs.get(who)!;
      net.addPartition({ start, end, side: [who, ...(t.serverId ? [t.serverId] : [])] });
    });
  }

  // --- play -----------------------------------------------------------------------------------
  const runFor = (ms: number): void => void queue.runUntil(queue.now + ms);
  const viewOf = (tab: SimTab): SiteSnapshot | null => {
    if (!tab.site) return null;
    if (tab.mode === 'cs')
      return adminUp && admin.manager.hosting(tab.site).mode === 'cs' ? admin.sites.snapshot(tab.site) : null;
    if (!tab.user?.ready) return null;
    // While the admin is down the player still knows its site's servers.
    const servers = adminUp
      ? (admin.manager.site(tab.site)?.servers() ?? [])
      : tab.user.core.serverStates().map((x) => x.id);
    for (const id of servers) {
      const s = coreById.get(id)?.snapshot();
      if (s) return s;
    }
    return null;
  };
  const play = (tab: SimTab, r: ReturnType<typeof rng.fork>, round: number): void => {
    const v = viewOf(tab);
    const me = v?.users.find((u) => u.name === tab.name);
    // A view from a server of another site (one the player just left) is not this site's map.
    if (!v || !me || !tab.site || v.site.site !== tab.site) return;
    const site = tab.site;
    const send = (a: PlayerAction): boolean => tab.act(a);
    const x = r.next();
    if (x < 0.5 && v.site.items.length > 0) {
      const item = r.pick(v.site.items);
      for (const dir of pathTo(site, me, item)) send({ kind: 'move', dir });
      send({ kind: 'pickup' });
    } else if (x < 0.68 && getSite(site).portals.length > 0) {
      const p = r.pick(getSite(site).portals);
      for (const dir of pathTo(site, me, p)) send({ kind: 'move', dir });
      send({ kind: 'portal' });
    } else if (x < 0.73) close(tab, 'logout');
    else if (x < 0.745) close(tab, 'crash');
    else send({ kind: 'say', text: `round ${round}` });
  };

  const rounds = o.rounds ?? 6;
  let inPlay = true;
  const lifeAtDeath = new Map<AdminProcess, Map<string, number>>();
  // The admin restarts in some runs, during play: it stops as on SIGTERM (saved, its P2P sites
  // suspended, every socket dropped), P2P sites play on without it, and a new process on the same
  // database resumes them; the tabs still open reconnect, each after a back-off.
  // A crash (kill -9: nothing saved at the stop) takes the restart's place, at any ms of play.
  const restart = rng.fork('restart');
  const crashes = rng.fork('crash');
  const crash = drawn(o.crashes ?? 'never', CRASH_CHANCE, crashes);
  if (drawn(o.restarts, RESTART_CHANCE, restart) || crash) {
    const downAt = crash ? 1000 + crashes.int(rounds * 900) : 1500 + restart.int(rounds * 700);
    const upAt = downAt + 300 + restart.int(1500);
    const down = { at: downAt, crash, atServers: [] as string[], resumed: [] as string[] };
    const power = o.powerCut === true ? SYNCHRONOUS : o.powerCut;
    const goDown = (): void => {
      adminUp = false;
      trace.restarts++;
      down.atServers = siteIds.filter((s) => admin.manager.hosting(s).mode === 'p2p');
      if (crash && disk && power)
        trace.lostCommits = cutPower(admin, disk, power, rng.fork('power').int(NORMAL_LOSS_MAX_MS + 1));
      else if (crash) crashAdmin(admin);
      else stopAdmin(admin);
      sockets.clear();
    };
    const goUp = (): void => {
      admin = startProcess();
      admins.push(admin);
      adminUp = true;
      down.resumed = siteIds.filter((s) => admin.manager.hosting(s).state === 'resuming');
      trace.downs = [...(trace.downs ?? []), down];
      for (const tab of tabs.values()) {
        if (!tab.online) continue;
        const session = tab.session;
        queue.after(1 + restart.int(300), () => {
          if (tab.session === session && adminUp) connect(tab, 'reconnect');
        });
      }
    };
    if (crash && o.crashInside) {
      /** A process that died inside a step runs the rest of that step (writing and sending nothing): its lifecycles as they were. */
      const dying = admin;
      const between: Between =
        typeof o.crashInside === 'object'
          ? o.crashInside
          : {
              first: 'write',
              then: 'write',
              ...(typeof o.crashInside === 'string' ? { only: o.crashInside } : {}),
            };
      // Armed in play only (a drawn time past it: no crash): the end's hand-backs run on one process.
      queue.schedule(downAt, () => {
        if (!inPlay) return;
        crashBetween(admin, between, (acts) => {
          if (between.first === 'write' && between.then === 'write') trace.crashWrites = acts;
          else trace.crashActs = { between, acts };
          lifeAtDeath.set(dying, new Map(siteIds.map((s) => [s, dying.manager.lifecycle(s).history.length])));
          down.at = now();
          trace.faults?.push({ start: now(), end: now() + upAt - downAt, what: 'admin crash' });
          goDown();
          // Mid-step, the admin's own view is half updated: a site was at its servers if a tab
          // served it too (a transfer whose record was never written had sent nothing).
          down.atServers = down.atServers.filter((s) =>
            [...tabs.values()].some((t) => t.online && t.server?.site === s),
          );
          queue.after(upAt - downAt, goUp);
        });
      });
    } else {
      trace.faults?.push({ start: downAt, end: upAt, what: crash ? 'admin crash' : 'admin restart' });
      queue.schedule(downAt, goDown);
      queue.schedule(upAt, goUp);
    }
  }
  /** The largest error of a synced clock the players see (after its first sync). */
  const sampleClocks = (): void => {
    for (const tab of tabs.values()) {
      const e = tab.online ? tab.clockError() : null;
      if (e !== null) trace.clockErrorMax = Math.max(trace.clockErrorMax, Math.abs(e));
    }
  };

  for (const tab of tabs.values()) login(tab);
  runFor(1500);
  const r = rng.fork('players');
  for (let round = 0; round < rounds; round++) {
    sampleClocks();
    for (const tab of tabs.values()) {
      if (!tab.online) {
        // Logins wait for the admin.
        if (adminUp && r.chance(0.5)) login(tab);
        continue;
      }
      play(tab, r, round);
    }
    runFor(600 + r.int(500));
  }
  // A crash inside a step falls in play or not at all: the end's hand-backs run on one process.
  inPlay = false;
  admin.acts.disarm();
  while (!adminUp) runFor(100);
  // Tests (the re-login stall as a seed): on each P2P site, quiet now, one player logs out and in
  // again while the others stay (a site left empty or nearly would be handed back).
  for (let k = 0; k < (o.relogins ?? 0); k++) {
    const picked = new Set<string>();
    for (const tab of tabs.values()) {
      if (!tab.online || tab.mode !== 'p2p' || !tab.site || picked.has(tab.site)) continue;
      picked.add(tab.site);
      close(tab, 'logout');
      queue.after(2 * (latencyOf.get(tab.name) ?? 10) + 50, () => login(tab));
    }
    runFor(ENTRY_BOUND_MS + 1000);
  }
  // The end: everyone still away logs in, play stops, and every P2P site is handed back.
  for (const tab of tabs.values()) if (!tab.online) login(tab);
  runFor(3000);
  sampleClocks();
  options.transferThreshold = Number.MAX_SAFE_INTEGER;
  const { manager, game, sites } = admin;
  for (const site of siteIds)
    if (manager.hosting(site).mode === 'p2p') manager.handBack(site, 'end of the run');
  for (let t = 0; t < 30_000 && siteIds.some((s) => manager.hosting(s).mode === 'p2p'); t += 200) runFor(200);
  runFor(500);
  // An entry still open has the rest of its bound: a slow tab far behind on its inputs handles
  // its `enter` late, and stopping here would call a login that is in time one that never was (seed 9353).
  for (let t = 0; t < ENTRY_BOUND_MS && entryOpen.size > 0; t += 200) runFor(200);
  game.saveAll();
  // WORLD_DEBUG=1: where each server core stands at the end (a stalled site shows why).
  if (debug)
    for (const [k, byId] of cores)
      for (const [id, c] of byId) {
        const tb = tabs.get(id.split('~')[0]!);
        console.log(
          'core',
          k,
          id,
          'last',
          c.appliedLog().at(-1)?.seq,
          'serving',
          tb?.server?.id === id,
          c.status(),
          c.blockedReason(),
        );
      }

  // --- the trace ------------------------------------------------------------------------------
  for (const site of siteIds) {
    const snap = sites.snapshot(site);
    if (manager.hosting(site).mode === 'cs')
      trace.closed.set(site, { seq: snap.site.step, snapshot: snap, lastActionNo: new Map() });
    // Every admin process's lifecycle of the site, one after the other (suspended, then resumed).
    const lives = admins.map((a) =>
      a.manager.lifecycle(site).history.slice(0, lifeAtDeath.get(a)?.get(site)),
    );
    for (const life of lives) {
      // A site that lost its majority was down from the fetch that found it out until it fell back.
      const lose = life.find((h) => h.event === 'lose');
      const fell = life.find((h) => h.event === 'fellBack');
      if (lose && fell)
        trace.faults?.push({
          start: lose.at - LOST_AFTER_MS,
          end: fell.at,
          what: `${site} lost its majority`,
          site,
        });
    }
    const history = lives.flat().map((h) => h.event);
    trace.lifecycles.set(site, history);
    trace.transfers = (trace.transfers ?? 0) + history.filter((e) => e === 'transfer').length;
  }
  for (const tab of tabs.values()) {
    if (tab.online) continue;
    const st = storage.getUser(tab.name);
    if (st) trace.stored.set(tab.name, st.state);
  }
  for (const [key, byId] of cores) {
    const logs = new Map<string, Array<[number, string]>>();
    for (const [id, c] of byId)
      logs.set(
        id,
        c.appliedLog().map((u) => [u.seq, u.hash] as [number, string]),
      );
    trace.logs.set(key, logs);
  }
  for (const u of userCores)
    trace.views?.push({
      user: u.user,
      key: u.key,
      accepted: u.core.acceptedLog().map((a) => [a.seq, a.hash] as [number, string]),
    });
  trace.lingered = channels.lost;
  manager.close();
  storage.close();
  return trace;
}
