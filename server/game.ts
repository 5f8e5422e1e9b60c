/**
 * Who is online and where: routes a user's actions to their site, moves users through portals,
 * and saves user states. A client-server site changes only through `applyAction` here (join /
 * leave too, so its users learn arrivals and departures from ordinary updates). A P2P site is
 * run by its Site Servers (p2p/); the game then orders joins and leaves through them and learns
 * departures from the majority of the servers.
 */
import { DEFAULT_SITE, listSites, newUser, viewOf, type PlayerAction, type SiteSnapshot, type UserState } from '../src/game/index.js';
import type { ErrorCode } from '../src/protocol/errors.js';
import type { ServerMessage, SiteListing, SiteUpdate } from '../src/protocol/messages.js';
import type { Logger } from './log.js';
import type { GameHooks, P2PManager } from './p2p/manager.js';
import type { VerifiedSite } from './p2p/types.js';
import { Transit } from './p2p/transit.js';
import type { SiteHost } from './sites.js';
import type { Storage } from './storage/types.js';
import { Driver, type Wakeup } from '../src/net/p2p/driver.js';
import { nodeWakeup } from './p2p/wakeup.js';

/** The game's handle on one connection. */
export interface PlayerLink {
  /** Sends one serialised ServerMessage. */
  send(json: string): void;
  /** Tells the client why (error + bye) and closes; the link must not call back into Game synchronously. */
  kick(code: ErrorCode, message: string): void;
}

interface Player {
  name: string;
  guest: boolean;
  site: string;
  lastActionNo: number;
  link: PlayerLink;
}

export interface ActError {
  code: ErrorCode;
  message: string;
}

export const encode = (m: ServerMessage): string => JSON.stringify(m);

/** A login waits this long for a departing state from a P2P site before using the stored one. */
export const DEPARTURE_WAIT_MS = 5000;

export class Game {
  private readonly players = new Map<string, Player>();
  /** Names of the online users per site, for broadcasting and counting. */
  private readonly bySite = new Map<string, Set<string>>();
  /** Users on their way to or from a P2P site's servers (shared with the P2P sites: p2p/transit.ts). */
  readonly transit = new Transit();
  /** Logins waiting for a departing state, by link: a link that closes meanwhile never enters. */
  private readonly waitingLinks = new Map<PlayerLink, () => void>();
  /** When each waiting login gives up on its departing state (on `now`'s clock). */
  private readonly loginWaits = new Map<() => void, number>();
  /** Runs the login waits, as the admin's P2P code runs its sites: time and wake-ups injected. */
  private readonly driver: Driver;
  private p2p: P2PManager | null = null;
  private closed = false;
  /**
   * The site coming back from its servers now (handedBack): its users' joins do not hand it to
   * servers again in the same step, or the new P2P site's record would be deleted by this step's
   * world save and the old site's disposal; the manager's next check does (sim/FINDINGS.md 56).
   */
  private comingBack: string | null = null;
  /** Actions the admin applied per site (operator page: a P2P site's stay put). */
  readonly actionsApplied = new Map<string, number>();

  constructor(
    private readonly host: SiteHost,
    private readonly storage: Storage,
    private readonly log: Logger,
    private readonly now: () => number,
    /** What wakes the login waits (default: a Node timer; a simulator its own). */
    wakeup: Wakeup = nodeWakeup(),
  ) {
    this.driver = new Driver(wakeup, (err) => log.error('game.tick_failed', { err, stack: (err as Error)?.stack }));
    this.driver.add({ nextWakeAt: () => this.nextLoginWaitAt(), tick: () => this.expireLoginWaits() }, now);
  }

  private nextLoginWaitAt(): number | null {
    let at = Infinity;
    for (const t of this.loginWaits.values()) at = Math.min(at, t);
    return Number.isFinite(at) ? at : null;
  }

  /** Logins whose departing state did not come in time enter with the stored one. */
  private expireLoginWaits(): void {
    const now = this.now();
    for (const [expire, at] of [...this.loginWaits]) {
      if (at > now) continue;
      this.loginWaits.delete(expire);
      expire();
    }
  }

  /** Whether `name` (any case) is online or its state is on its way back from a P2P site. */
  holds(name: string): boolean {
    const n = name.toLowerCase();
    for (const k of this.players.keys()) if (k.toLowerCase() === n) return true;
    return this.transit.departingAnyCase(n);
  }

  get onlineCount(): number {
    return this.players.size;
  }

  attachP2P(p2p: P2PManager): void {
    this.p2p = p2p;
  }

  /**
   * Puts an authenticated user on its site: restored from storage, or new at the default spawn.
   * If the user is online already, the new link takes over and the old one is kicked; the user
   * stays where it is on the map.
   */
  enter(name: string, guest: boolean, link: PlayerLink): void {
    if (this.closed) return;
    const existing = this.players.get(name);
    if (existing) {
      const old = existing.link;
      existing.link = link;
      old.kick('ERR_LOGGED_IN_ELSEWHERE', 'this account connected again elsewhere');
      this.log.info('user.takeover', { user: name, site: existing.site });
      this.sendEnter(existing);
      return;
    }
    const d = this.transit.departing.get(name);
    if (d) {
      // Its state is still on its way back from a P2P site: enter with that state.
      let done = false;
      const expire = (): void => {
        if (done) return;
        this.log.warn('user.departure_timeout', { user: name, site: d.site });
        this.transit.departing.delete(name);
        go();
      };
      const go = (): void => {
        if (done) return;
        done = true;
        this.waitingLinks.delete(link);
        this.loginWaits.delete(expire);
        this.driver.poke();
        this.enter(name, guest, link);
      };
      d.waiting.push(go);
      this.waitingLinks.set(link, () => {
        done = true;
        this.waitingLinks.delete(link);
        this.loginWaits.delete(expire);
        this.driver.poke();
      });
      this.loginWaits.set(expire, this.now() + DEPARTURE_WAIT_MS);
      this.driver.poke();
      return;
    }
    const stored = this.storage.getUser(name);
    let state: UserState = stored?.state ?? newUser(name, DEFAULT_SITE);
    if (!this.host.has(state.site)) {
      this.log.warn('user.unknown_site', { user: name, site: state.site });
      state = { ...newUser(name, DEFAULT_SITE), inventory: state.inventory };
    }
    const player: Player = { name, guest, site: state.site, lastActionNo: stored?.lastActionNo ?? 0, link };
    this.players.set(name, player);
    this.log.info('user.enter', { user: name, guest, site: state.site });
    this.joinSite(player, state);
  }

  /** Applies one numbered player action at once (client-server mode). Null when applied. */
  act(name: string, link: PlayerLink, actionNo: number, action: PlayerAction): ActError | null {
    const p = this.players.get(name);
    if (!p || p.link !== link || this.closed) return { code: 'ERR_OUT_OF_TURN', message: 'not on a site' };
    if (this.p2p?.hosting(p.site).mode === 'p2p') {
      return { code: 'ERR_SITE_P2P', message: `${p.site} is served by peers: send actions to its Site Servers` };
    }
    if (actionNo <= p.lastActionNo) {
      return { code: 'ERR_ACTION_NUMBER', message: `actionNo ${actionNo} is not above ${p.lastActionNo}` };
    }
    if (!this.host.user(p.site, name)) return { code: 'ERR_OUT_OF_TURN', message: 'not on a site' };
    p.lastActionNo = actionNo;
    this.actionsApplied.set(p.site, (this.actionsApplied.get(p.site) ?? 0) + 1);
    const { update } = this.host.apply(p.site, name, action, actionNo);
    this.broadcast(update);
    for (const e of update.events) {
      if (e.kind === 'left' && e.via === 'portal' && e.user.name === name) this.travel(p, e.user);
    }
    return null;
  }

  /**
   * The user leaves its site (logout or disconnect). Its state is saved, or forgotten for a guest
   * who logged out. A link that was taken over leaves nothing.
   */
  leave(name: string, link: PlayerLink, how: { forget: boolean; reason: string }): void {
    // Closed while it waited for its departing state: it never enters (no ghost on the map).
    this.waitingLinks.get(link)?.();
    const p = this.players.get(name);
    if (!p || p.link !== link || this.closed) return;
    this.players.delete(name);
    this.bySite.get(p.site)?.delete(name);
    this.log.info('user.leave', { user: name, site: p.site, reason: how.reason });
    const hosting = this.p2p?.hosting(p.site);
    if (hosting?.mode === 'p2p') {
      // The servers hold its state: it comes back with the departure (or with the hand-back).
      this.transit.departing.set(name, { guest: p.guest, site: p.site, lastActionNo: p.lastActionNo, forget: how.forget, waiting: [] });
      if (!hosting.closing) this.p2p?.leave(p.site, name);
      return;
    }
    const arriving = this.transit.takeArrival(p.site, name);
    if (arriving) {
      this.save(name, p.guest, arriving, p.lastActionNo, how.forget);
      return;
    }
    const before = this.host.user(p.site, name);
    const { update } = this.host.apply(p.site, name, { kind: 'leave' });
    this.broadcast(update);
    if (before) this.save(name, p.guest, before, p.lastActionNo, how.forget);
    else if (how.forget) this.save(name, p.guest, newUser(name, p.site), p.lastActionNo, true);
  }

  /**
   * Stores a user that left the admin's sites (logout, a departure from a P2P site) with the whole
   * world, in one transaction. Alone, its row would be newer than its site's: a crash (kill -9, no
   * final save) would then find a picked item both in its bag and on the map it was picked from
   * (stored at the last periodic save; sim/FINDINGS.md 28).
   */
  private save(name: string, guest: boolean, state: UserState, lastActionNo: number, forget: boolean): void {
    if (forget) this.saveAll([], [name]);
    else this.saveAll([{ name, guest, state, lastActionNo }]);
  }

  /**
   * Saves every online user and every site in one transaction. A P2P site goes in as its last
   * verified state less what left it since, with its users as in that state (or as they joined):
   * the stored world then never holds an item twice, whenever the admin stops. `also`: users no
   * longer online (a logout) stored with it; `forget`: users whose rows go (a guest's logout), and
   * `dropRecords`: P2P sites whose records go (back at the admin), in the same transaction.
   *
   * Besides the periodic save, this runs whenever a user's state crosses between the admin and a
   * P2P site's servers (a transfer, a join, a departure), so that what the admin stored always
   * agrees with the P2P sites' records, which are written on every change: a crash at any moment
   * finds each user where the servers have it or not (docs/hosting.md "After a crash").
   */
  saveAll(
    also: ReadonlyArray<{ name: string; guest: boolean; state: UserState; lastActionNo: number }> = [],
    forget: readonly string[] = [],
    dropRecords: readonly string[] = [],
  ): void {
    let users = [];
    for (const p of this.players.values()) {
      const state = this.host.user(p.site, p.name);
      if (state && !this.isP2P(p.site)) users.push({ name: p.name, guest: p.guest, state, lastActionNo: p.lastActionNo });
    }
    const sites = this.host.siteStates().filter((s) => !this.isP2P(s.site));
    for (const [site, v] of this.p2p?.storableStates() ?? []) {
      sites.push(v.snapshot.site);
      for (const u of v.snapshot.users) {
        const p = this.players.get(u.name);
        const d = this.transit.departing.get(u.name);
        if (p && p.site === site) users.push({ name: p.name, guest: p.guest, state: u, lastActionNo: p.lastActionNo });
        // Gone from the admin, its departure not applied yet: still on the site, so stored with it.
        // A restarted admin's fallback for the site (stored()) and a late departure (departed())
        // read the stored state; a user never stored before would be lost (FINDINGS 21).
        else if (!p && d?.site === site) users.push({ name: u.name, guest: d.guest, state: u, lastActionNo: d.lastActionNo });
      }
    }
    // On their way to a site handing back: stored there, as they arrive (the site they came from
    // let them go).
    for (const [name, state] of this.transit.allArrivals()) {
      const p = this.players.get(name);
      if (p && p.site === state.site) users.push({ name, guest: p.guest, state, lastActionNo: p.lastActionNo });
    }
    if (also.length + forget.length > 0) {
      const named = new Set([...also.map((u) => u.name), ...forget]);
      users = [...users.filter((u) => !named.has(u.name)), ...also];
    }
    try {
      this.storage.saveBatch({ users, sites, ...(forget.length > 0 ? { forget } : {}), ...(dropRecords.length > 0 ? { dropRecords } : {}) }, this.now());
    } catch (err) {
      this.log.error('storage.save_failed', { err });
    }
  }

  /** Final save; afterwards the game ignores everything, so closing sockets changes nothing. */
  shutdown(): void {
    if (this.closed) return;
    this.saveAll();
    this.closed = true;
    this.loginWaits.clear();
    this.driver.poke();
  }

  listing(): SiteListing[] {
    return listSites().map((def) => ({
      id: def.id,
      name: def.name,
      mode: this.isP2P(def.id) ? 'p2p' : 'cs',
      users: this.bySite.get(def.id)?.size ?? 0,
    }));
  }

  /** The game as P2P hosting sees it. */
  hooks(): GameHooks {
    return {
      siteOf: (user) => this.players.get(user)?.site ?? null,
      usersOn: (site) => [...(this.bySite.get(site) ?? [])],
      lastActionNo: (user) => this.players.get(user)?.lastActionNo ?? 0,
      // The world is stored as the site leaves: the hand-over's users are then stored as the
      // servers start from, whatever the next periodic save finds (a crash before it).
      snapshotFor: (site) => {
        this.saveAll();
        return this.host.snapshot(site);
      },
      tell: (user, msg) => this.players.get(user)?.link.send(encode(msg)),
      departed: (site, user, via) => this.departed(site, user, via),
      verified: (site, v) => this.verified(site, v),
      closed: (site, v) => this.handedBack(site, v),
      stored: (site, users) => this.stored(site, users),
      transit: this.transit,
    };
  }

  /** A site as stored, with those of `names` stored on it: where a resumed P2P site falls back to. */
  private stored(site: string, names: readonly string[]): VerifiedSite {
    const users: UserState[] = [];
    const lastActionNo = new Map<string, number>();
    for (const name of names) {
      const u = this.storage.getUser(name);
      if (!u || u.state.site !== site) continue;
      users.push(u.state);
      lastActionNo.set(name, u.lastActionNo);
    }
    const snap = this.host.snapshot(site);
    return { seq: snap.site.step, snapshot: { site: snap.site, users }, lastActionNo };
  }

  private isP2P(site: string): boolean {
    return this.p2p?.hosting(site).mode === 'p2p';
  }

  /** A user left a P2P site, as the majority of its servers applied it. */
  private departed(site: string, user: UserState, via: 'portal' | 'logout'): void {
    const p = this.players.get(user.name);
    const d = this.transit.departing.get(user.name);
    if (d && d.site === site) {
      this.transit.departing.delete(user.name);
      this.save(user.name, d.guest, via === 'portal' ? this.landing(user) : user, d.lastActionNo, d.forget);
      for (const w of d.waiting) w();
      return;
    }
    if (p && p.site === site && via === 'portal') {
      this.bySite.get(site)?.delete(p.name);
      this.travel(p, user);
      // Its servers let it go: stored where it landed (a P2P site's join saved it already).
      if (!this.isP2P(p.site)) this.saveAll();
      return;
    }
    if (p && p.site === site) {
      // The logout of a session before the admin restarted (that admin's wait for it went with
      // it): the user, online here again, was taken as never gone, but its servers let it go.
      // It joins again with the state they gave back (FINDINGS 21).
      this.log.info('user.rejoin', { user: user.name, site });
      this.joinSite(p, user);
      return;
    }
    if (!p && !d) {
      // Not back since the admin restarted (or gone for good): stored as the majority gave it,
      // unless the stored state says the user is elsewhere (this departure was taken already).
      const stored = this.storage.getUser(user.name);
      if (stored?.state.site === site) this.save(user.name, stored.guest, via === 'portal' ? this.landing(user) : user, stored.lastActionNo, false);
      else this.log.info('user.departure_dropped', { user: user.name, site, stored: stored?.state.site ?? null });
    }
  }

  /** A majority-verified copy of a P2P site: store it with the users on it. */
  /**
   * A majority-verified copy of a P2P site: stored with the world, as the site's fallback state
   * (the copy less what left it since: the admin may have applied departures past its seq, whose
   * users are stored with what they carry). The copy alone would put those items on the stored
   * map too, for a crash followed by the site losing its majority to double.
   */
  private verified(site: string, v: VerifiedSite): void {
    for (const u of v.snapshot.users) {
      const p = this.players.get(u.name);
      if (p && p.site === site) p.lastActionNo = Math.max(p.lastActionNo, v.lastActionNo.get(u.name) ?? 0);
    }
    this.saveAll();
  }

  /** The site is back from its Site Servers, as of the cut: its users continue here. */
  private handedBack(site: string, v: VerifiedSite): void {
    this.comingBack = site;
    try {
      this.takeBack(site, v);
    } finally {
      this.comingBack = null;
    }
  }

  private takeBack(site: string, v: VerifiedSite): void {
    this.host.install(site, { site: v.snapshot.site, users: [] });
    const names = this.bySite.get(site) ?? new Set<string>();
    this.bySite.set(site, new Set());
    // Departed users are stored with the world below, in one transaction: a row written alone
    // first would sit beside the site's older row if the admin died between the two (FINDINGS 41).
    const stored: Array<{ name: string; guest: boolean; state: UserState; lastActionNo: number }> = [];
    const forgotten: string[] = [];
    const waiting: Array<() => void> = [];
    // Users whose join the cut has not applied come back as they joined (sim/FINDINGS.md 67).
    for (const u of [...v.snapshot.users, ...(v.joinsNotApplied ?? [])]) {
      const p = this.players.get(u.name);
      const d = this.transit.departing.get(u.name);
      const last = v.lastActionNo.get(u.name) ?? 0;
      if (p && p.site === site && names.has(u.name)) {
        p.lastActionNo = Math.max(p.lastActionNo, last);
        this.joinSite(p, u);
      } else if (d && d.site === site) {
        this.transit.departing.delete(u.name);
        if (d.forget) forgotten.push(u.name);
        else stored.push({ name: u.name, guest: d.guest, state: u, lastActionNo: Math.max(d.lastActionNo, last) });
        waiting.push(...d.waiting);
      }
    }
    for (const [name, state] of this.transit.takeArrivals(site)) {
      const p = this.players.get(name);
      if (p && p.site === site) this.joinSite(p, state);
    }
    // The site's record goes with it: a record left beside this world would make the next process
    // resume a site whose servers are told to stop, or lost (sim/FINDINGS.md 41).
    this.saveAll(stored, forgotten, [site]);
    // Logins that waited for these states read them from storage: after the save.
    for (const w of waiting) w();
  }

  /** Where a user that took a portal lands (a world bug must not lose the user: send it home). */
  private landing(moved: UserState): UserState {
    if (this.host.has(moved.site)) return moved;
    this.log.error('portal.unknown_site', { user: moved.name, to: moved.site });
    return { ...newUser(moved.name, DEFAULT_SITE), inventory: moved.inventory };
  }

  private travel(p: Player, moved: UserState): void {
    this.bySite.get(p.site)?.delete(p.name);
    const state = this.landing(moved);
    this.log.info('user.portal', { user: p.name, from: p.site, to: state.site });
    p.site = state.site;
    this.joinSite(p, state);
  }

  /** Joins through the rules (or the site's servers), tells the site's other users, then gives the newcomer its view. */
  private joinSite(p: Player, state: UserState): void {
    let names = this.bySite.get(p.site);
    if (!names) this.bySite.set(p.site, (names = new Set()));
    names.add(p.name);
    const hosting = this.p2p?.hosting(p.site);
    if (hosting?.mode === 'p2p') {
      if (hosting.closing) {
        // Back at the admin in a moment: join then.
        this.transit.arrive(p.site, p.name, state);
        this.saveAll();
        p.link.send(encode({ type: 'siteStatus', site: p.site, mode: 'p2p', blocked: null, closing: true }));
        return;
      }
      // Stored on the site before its state goes to the servers (the join writes the site's
      // record): a crash between the two writes finds it stored there and not yet joined, and the
      // login joins it.
      this.saveAll([{ name: p.name, guest: p.guest, state, lastActionNo: p.lastActionNo }]);
      const how = this.p2p?.join(p.site, p.name, state);
      this.sendEnter(p, how === 'resumed');
      return;
    }
    const { update } = this.host.apply(p.site, p.name, { kind: 'join', user: state });
    // The newcomer's `enter` already shows this step, so it skips the update.
    this.broadcast(update, p.name);
    this.sendEnter(p);
    if (hosting?.blocked) p.link.send(encode({ type: 'siteStatus', site: p.site, mode: 'cs', blocked: hosting.blocked, closing: false }));
    if (this.comingBack !== p.site) this.p2p?.consider(p.site);
  }

  private sendEnter(p: Player, resumed = false): void {
    const s = this.p2p?.site(p.site);
    if (s) {
      // The user takes the state from the servers (checked against the majority's hash), or,
      // resumed after a restart, plays on with what it has.
      p.link.send(
        encode({
          type: 'enter',
          site: p.site,
          mode: 'p2p',
          seq: 0,
          view: null,
          hash: null,
          lastActionNo: p.lastActionNo,
          servers: s.servers(),
          ...(resumed ? { resumed: true } : {}),
        }),
      );
      return;
    }
    const snap: SiteSnapshot = this.host.snapshot(p.site);
    p.link.send(
      encode({
        type: 'enter',
        site: p.site,
        mode: 'cs',
        seq: snap.site.step,
        view: viewOf(snap),
        hash: null,
        lastActionNo: p.lastActionNo,
        servers: [],
      }),
    );
  }

  private broadcast(update: SiteUpdate, except?: string): void {
    const json = encode({ type: 'update', ...update });
    for (const name of this.bySite.get(update.site) ?? []) {
      if (name !== except) this.players.get(name)?.link.send(json);
    }
  }
}
