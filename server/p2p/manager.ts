/**
 * P2P hosting on the admin (paper 4.2): runs one P2PSite per P2P site, moving a site to Site
 * Servers and back as hostingChecks.ts decides (it chooses the servers at random among eligible
 * peers), and takes the peers' connections and their peer-related client messages (keys, settings,
 * signaling, peer envelopes, link failures, server stats: peerMessages.ts). Game (game.ts) keeps
 * who is where; this keeps how each site is hosted.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { hashOf } from '../../src/protocol/crypto.js';
import type { SignatureScheme } from '../../src/protocol/crypto.js';
import type { ServerMessage } from '../../src/protocol/messages.js';
import type { SiteSnapshot, UserState } from '../../src/game/types.js';
import type { Logger } from '../log.js';
import type { StoredP2PSite } from '../storage/types.js';
import { PeerRegistry, type ConnectionInfo, type Peer, type Tab } from './peers.js';
import { convict, SuspectBook } from './suspects.js';
import { PeerRelay, type Refusal } from './relay.js';
import { siteConfigFor, type P2POptions } from './settings.js';
import { refuse, resumableRecord } from './resume.js';
import { P2PSite } from './site.js';
import type { SiteDeps } from './siteDeps.js';
import type { ResumedFrom, VerifiedSite } from './types.js';
import { Driver, type Wakeup } from '../../src/net/p2p/driver.js';
import { statsFresh } from './unreachable.js';
import { nodeWakeup } from './wakeup.js';
import type { Transit } from './transit.js';
import { SiteLifecycle, type SiteState } from './lifecycle.js';
import { HostingChecks } from './hostingChecks.js';
import { PeerMessages, type PeerClientMessage } from './peerMessages.js';

/** What the manager needs from the game. */
export interface GameHooks {
  siteOf(user: string): string | null;
  usersOn(site: string): string[];
  lastActionNo(user: string): number;
  snapshotFor(site: string): SiteSnapshot;
  tell(user: string, msg: ServerMessage): void;
  departed(site: string, user: UserState, via: 'portal' | 'logout', seq: number): void;
  verified(site: string, v: VerifiedSite): void;
  closed(site: string, v: VerifiedSite): void;
  /** The site as last stored, with those of `users` stored on it (a resumed site's fallback). */
  stored(site: string, users: readonly string[]): VerifiedSite;
  /** Users on their way to or from P2P sites, in one place. */
  transit: Transit;
}

/** Where the records of P2P sites go, so that a restarted admin can go on with them. */
export interface P2PRecords {
  put(record: StoredP2PSite): void;
  delete(site: string): void;
}

export interface ManagerDeps {
  options: P2POptions;
  adminSecret: string;
  crypto: SignatureScheme;
  /** Admin clock on the peers' synced timeline (ms). */
  now: () => number;
  /** Injected randomness in [0, 1): server choice. */
  random?: () => number;
  log: Logger;
  game: GameHooks;
  /** How often sites are checked for transfer and hand-back. */
  checkEveryMs?: number;
  records?: P2PRecords;
  /** After a restart: how long resumed sites wait for their peers (default RESUME_GRACE_MS). */
  resumeGraceMs?: number;
  /** What wakes the Driver of the sites and the checks (default: a Node timer; a simulator its own). */
  wakeup?: Wakeup;
  /** Runs `fn` once the current input is handled (default queueMicrotask; a simulator its own). */
  defer?: (fn: () => void) => void;
}

export interface SiteHosting {
  mode: 'cs' | 'p2p';
  /** Why a site at the threshold is not P2P, or null. */
  blocked: string | null;
  closing: boolean;
  /** Where the site is in its lifecycle (lifecycle.ts). */
  state: SiteState;
}

export class P2PManager {
  readonly registry: PeerRegistry;
  readonly relay: PeerRelay;
  /** Servers flagged by users or caught by the admin's own tallies (the operator page). */
  readonly suspects = new SuspectBook();
  private readonly sites = new Map<string, P2PSite>();
  /** Every site's lifecycle at the admin (client-server until first handed to servers). */
  private readonly lifecycles = new Map<string, SiteLifecycle>();
  /** When sites move to peers and back (hostingChecks.ts). */
  private readonly checks: HostingChecks;
  /** The peer-related client messages (peerMessages.ts). */
  private readonly peerMessages: PeerMessages;
  /** Runs every P2P site and the periodic check, as the hosts' Driver runs their core objects. */
  private readonly driver: Driver;
  private readonly wakeup: Wakeup;
  private readonly undrive = new Map<string, () => void>();
  private nextCheckAt: number;
  private readonly random: () => number;
  /** Shut down: the sites are suspended, and closing sockets must not evict their servers. */
  private closedDown = false;

  constructor(private readonly deps: ManagerDeps) {
    this.random = deps.random ?? (() => randomInt(0, 2 ** 32) / 2 ** 32);
    this.registry = new PeerRegistry(deps.crypto, deps.options, deps.now);
    this.relay = new PeerRelay(this.registry, {
      isServer: (site, id) => this.sites.get(site)?.isServer(id) ?? false,
      wasServer: (site, id) => this.sites.get(site)?.membership()?.members.some((m) => m.id === id) ?? false,
      handingOff: (site, a, b) => this.sites.get(site)?.handingOff(a, b) ?? false,
      isUser: (site, user) => this.sites.get(site)?.users.has(user) ?? false,
      p2pSites: () => this.sites.keys(),
    }, deps.now);
    this.checks = new HostingChecks({
      options: deps.options,
      now: () => deps.now(),
      random: () => this.random(),
      log: deps.log,
      game: deps.game,
      registry: this.registry,
      sites: this.sites,
      transfer: (site, users, picks) => this.transfer(site, users, picks),
    });
    this.peerMessages = new PeerMessages({
      registry: this.registry,
      relay: this.relay,
      sites: this.sites,
      log: deps.log,
      now: () => deps.now(),
      siteOf: (user) => deps.game.siteOf(user),
      refillShort: () => this.checks.refillShort(),
    });
    this.wakeup = deps.wakeup ?? nodeWakeup();
    this.driver = new Driver(this.wakeup, (err) => deps.log.error('p2p.tick_failed', { err, stack: (err as Error)?.stack }));
    this.nextCheckAt = deps.now() + this.checkEveryMs;
    this.driver.add({ nextWakeAt: () => (this.closedDown ? null : this.nextCheckAt), tick: () => this.checkNow() }, deps.now);
  }

  private get checkEveryMs(): number {
    return this.deps.checkEveryMs ?? 1000;
  }

  /** The periodic check, run by the Driver. */
  private checkNow(): void {
    this.nextCheckAt = this.deps.now() + this.checkEveryMs;
    this.checks.check();
  }

  /** Starts driving a P2P site (it stops being driven once closed or suspended). */
  private drive(site: string, s: P2PSite): void {
    this.sites.set(site, s);
    this.undrive.set(site, this.driver.add(s, this.deps.now));
  }

  /** Stops driving a site that is no longer P2P here. */
  private drop(site: string): void {
    this.sites.delete(site);
    this.undrive.get(site)?.();
    this.undrive.delete(site);
  }

  get enabled(): boolean {
    return this.deps.options.transferThreshold > 0;
  }

  /** Every P2P site as it may be stored now (P2PSite.fallbackState). */
  storableStates(): Array<[string, VerifiedSite]> {
    const out: Array<[string, VerifiedSite]> = [];
    for (const [site, s] of this.sites) {
      const v = s.fallbackState();
      if (v) out.push([site, v]);
    }
    return out;
  }

  hosting(site: string): SiteHosting {
    const state = this.lifecycles.get(site)?.state ?? 'client-server';
    const atServers = this.lifecycles.get(site)?.atServers ?? false;
    return { mode: atServers ? 'p2p' : 'cs', blocked: atServers ? null : this.checks.blockedWhy(site), closing: state === 'handing-back', state };
  }

  /** A site's lifecycle (created client-server on first use). */
  lifecycle(site: string): SiteLifecycle {
    let l = this.lifecycles.get(site);
    if (!l) this.lifecycles.set(site, (l = new SiteLifecycle(site, { now: this.deps.now, log: this.deps.log })));
    return l;
  }

  site(site: string): P2PSite | undefined {
    return this.sites.get(site);
  }

  allSites(): P2PSite[] {
    return [...this.sites.values()];
  }

  // --- connections ----------------------------------------------------------------------------

  /**
   * A tab said hello: returns its key challenge. A previous connection of the user that is still
   * open (its close not seen yet: a reconnect, a login elsewhere) is replaced: its server, if it
   * serves, is evicted now, as if its tab had left (the registry forgets its server id).
   */
  connect(user: string, tab: Tab, info?: ConnectionInfo): string {
    const old = this.registry.get(user);
    if (old && !this.closedDown) this.gone(old, 'its tab was replaced');
    return this.registry.open(user, tab, info);
  }

  /** A connection closed. With `tab`: only if it is still the user's (a replaced one's late close changes nothing). */
  disconnect(user: string, tab?: Tab): void {
    if (this.closedDown) return;
    if (tab !== undefined && this.registry.get(user)?.tab !== tab) return;
    const p = this.registry.close(user);
    this.relay.forget(user);
    if (p) this.gone(p, 'its tab left');
  }

  private gone(p: Peer, why: string): void {
    if (!p.serverId || !p.serving) return;
    // Its tab is gone (closed, reloaded, logged out, replaced): replace it now rather than after
    // the servers' TRM, ignore and T_ignore. Its Timeslots up to the cut the others decide still count.
    this.deps.log.info('p2p.server_gone', { site: p.serving, server: p.serverId });
    this.sites.get(p.serving)?.evict(p.serverId, why);
  }

  /** Measured at the admin (WebSocket ping). */
  setRtt(user: string, rtt: number): void {
    const p = this.registry.get(user);
    if (p) p.rtt = rtt;
  }

  /** One peer-related client message. Null when handled; a refusal to answer with otherwise (peerMessages.ts). */
  onMessage(user: string, msg: PeerClientMessage): Refusal {
    return this.peerMessages.onMessage(user, msg);
  }

  // --- users ----------------------------------------------------------------------------------

  /**
   * A user arrives on a P2P site (login, portal). A Site Server is never a user of its own site:
   * if this user's tab serves it, that server is evicted first (a fresh peer takes its slot and
   * the state from the majority), then the user joins as an ordinary player.
   */
  join(site: string, user: string, state: UserState): 'joined' | 'resumed' | 'leaving' | null {
    const s = this.sites.get(site);
    if (!s) return null;
    // After a restart: still a user there (its servers never let it go), so no join.
    if (s.userBack(user)) {
      this.deps.log.info('p2p.user_back', { site, user });
      return 'resumed';
    }
    // Still a user there, made to leave (not back in time after a restart): a join now, of the
    // state stored before the servers had it, could be applied after that leave and lose what the
    // user picked up there. Its departure brings the state back and it joins with that (Game
    // `departed`, rejoin; sim/FINDINGS.md 64).
    if (s.users.has(user)) {
      this.deps.log.info('p2p.user_leaving', { site, user });
      return 'leaving';
    }
    const p = this.registry.get(user);
    if (p?.serverId && p.serving === site) s.walkIn(p.serverId);
    s.join(user, state);
    return 'joined';
  }

  leave(site: string, user: string): void {
    this.sites.get(site)?.leave(user);
  }

  // --- transfer and hand-back -----------------------------------------------------------------

  /** Moves a client-server site at the threshold to peers, or records why it cannot (hostingChecks.ts). */
  consider(site: string): void {
    this.checks.consider(site);
  }

  private transfer(site: string, users: string[], picks: Peer[]): void {
    const { game, log } = this.deps;
    // The picks are taken by the site's first record (P2PSite `claim`), before this check goes on.
    const snapshot = game.snapshotFor(site);
    const seq = snapshot.site.step;
    const prev = hashOf({ handOver: site, seq, snapshot });
    const p2p = new P2PSite(
      this.siteDeps(site),
      picks.map((p) => ({ id: p.serverId ?? '', key: p.key ?? '' })),
      users,
    );
    this.drive(site, p2p);
    p2p.start({ snapshot, seq, prev, lastActionNo: users.map((u) => [u, game.lastActionNo(u)]) });
    const servers = p2p.servers();
    log.info('p2p.transfer', { site, users: users.length, servers });
    for (const u of users) {
      game.tell(u, { type: 'handOver', site, servers, seq, hash: prev, lastActionNo: game.lastActionNo(u) });
      game.tell(u, { type: 'siteStatus', site, mode: 'p2p', blocked: null, closing: false });
    }
  }

  private siteDeps(site: string): SiteDeps {
    const { game, log } = this.deps;
    const records = this.deps.records;
    return {
      config: siteConfigFor(this.deps.options, site),
      secretKey: this.deps.adminSecret,
      crypto: this.deps.crypto,
      now: this.deps.now,
      random: this.random,
      log,
      life: this.lifecycle(site),
      transit: game.transit,
      deliver: (to, msg) => void this.relay.deliver(site, to, msg),
      startServing: (id, stateFrom) => this.startServing(site, id, stateFrom),
      claim: (id) => {
        const p = this.registry.byServerId(id);
        if (p && p.serving === null) p.serving = site;
      },
      stopServing: (id, reason, handOff) => this.stopServing(site, id, reason, handOff),
      connected: (id) => this.registry.byServerId(id) !== undefined,
      candidates: () => {
        const s = this.sites.get(site);
        const taken = this.registry.addressesOf(s?.users ?? [], s?.servers() ?? []);
        return this.registry
          .preferred(this.checks.eligible(site), taken)
          .map((p) => ({ id: p.serverId ?? '', key: p.key ?? '' }));
      },
      onLeft: (user, via, s) => game.departed(site, user, via, s),
      onVerified: (v) => game.verified(site, v),
      onClosed: (v) => this.closed(site, v),
      onMinority: (id, what) => {
        // The admin's own tally: a verdict. Replaced now, and its player not chosen again.
        const evict = (server: string, why: string): void => void this.sites.get(site)?.evict(server, why);
        const r = convict({ suspects: this.suspects, registry: this.registry, now: this.deps.now(), evict }, site, id, what);
        log.warn('p2p.minority', { site, server: id, what, user: r.user, times: r.times });
      },
      onEquivocation: (id, seq) => {
        // Proof, not a vote: its player is not chosen again for as long as a minority verdict bars.
        const user = this.registry.byServerId(id)?.user ?? null;
        if (user !== null) this.registry.bar(user, 'equivocated');
        this.suspects.flag(site, id, user, { at: this.deps.now(), by: 'admin', seq, kind: 'equivocation', evidence: null });
        log.warn('p2p.equivocated', { site, server: id, seq, user });
      },
      onFlag: (e) =>
        this.suspects.flag(site, e.server, this.registry.byServerId(e.server)?.user ?? null, {
          at: this.deps.now(),
          by: e.by,
          seq: e.seq,
          kind: e.reason,
          evidence: e.evidence ?? null,
        }),
      answers: (id) => {
        const p = this.registry.byServerId(id);
        return p !== undefined && statsFresh(p.stats?.at ?? null, this.deps.now());
      },
      saveEveryMs: this.deps.options.p2pSaveMs,
      wake: () => this.driver.poke(),
      defer: this.deps.defer ?? ((fn) => queueMicrotask(fn)),
      ...(this.deps.resumeGraceMs !== undefined ? { resumeGraceMs: this.deps.resumeGraceMs } : {}),
      persist: (r) => {
        try {
          if (r) records?.put(r);
          else records?.delete(site);
        } catch (err) {
          log.error('p2p.persist_failed', { site, err });
        }
      },
    };
  }

  // --- admin restart --------------------------------------------------------------------------

  /**
   * Takes up the P2P sites that were running when the admin stopped (their records from storage):
   * each goes on with its membership, and waits for its servers and users to reconnect. A record
   * that does not check out (signature, shape, settings) is dropped: that site is client-server
   * from its stored state, and its servers, told nothing, are stopped when they reconnect.
   */
  resume(records: readonly StoredP2PSite[]): void {
    const o = { adminKey: this.deps.crypto.publicKeyOf(this.deps.adminSecret), crypto: this.deps.crypto, options: this.deps.options, log: this.deps.log };
    for (const r of records) {
      const coordinator = this.enabled ? resumableRecord(r, o, this.sites.has(r.site)) : refuse(r, 'P2P hosting is off', o.log);
      if (!coordinator) {
        this.deps.records?.delete(r.site);
        continue;
      }
      const from: ResumedFrom = { coordinator, holders: r.holders, base: this.deps.game.stored(r.site, r.users) };
      this.drive(r.site, new P2PSite(this.siteDeps(r.site), [], r.users, from));
    }
  }

  private startServing(site: string, serverId: string, stateFrom?: string): boolean {
    const p = this.registry.byServerId(serverId);
    if (!p || (p.serving !== null && p.serving !== site)) return false;
    p.serving = site;
    p.stats = null;
    p.tab.send({ type: 'serve', site, serverId, ...(stateFrom !== undefined ? { stateFrom } : {}) });
    return true;
  }

  private stopServing(site: string, serverId: string, reason: string, handOff = false): void {
    const p = this.registry.byServerId(serverId);
    if (!p || p.serving !== site) return;
    p.serving = null;
    p.stats = null;
    p.tab.send({ type: 'serveEnd', site, reason, ...(handOff ? { handOff } : {}) });
  }

  private closed(site: string, v: VerifiedSite): void {
    this.drop(site);
    this.checks.forget(site);
    this.deps.log.info('p2p.closed', { site, seq: v.seq, users: v.snapshot.users.length });
    this.deps.game.closed(site, v);
  }

  /** Starts the hand-back of a P2P site. */
  handBack(site: string, reason: string): void {
    this.checks.handBack(site, reason);
  }

  /** Shutdown: the P2P sites go on at their servers; their records stay for the next start. */
  close(): void {
    this.closedDown = true;
    for (const [site, s] of [...this.sites]) {
      s.suspend();
      this.drop(site);
    }
    this.wakeup.clear();
  }
}

/** A fresh admin signing key (kept in storage so peers keep trusting it across restarts). */
export function newAdminSecret(): string {
  return randomBytes(32).toString('hex');
}
