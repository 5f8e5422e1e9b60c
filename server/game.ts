/**
 * Who is online and where: routes a user's actions to their site, moves users through portals,
 * and saves user states. Every site change goes through `applyAction` (join / leave), so the users
 * of a site learn about arrivals and departures from ordinary updates.
 */
import { DEFAULT_SITE, newUser, viewOf, type PlayerAction, type UserState } from '../src/game/index.js';
import type { ErrorCode } from '../src/protocol/errors.js';
import type { ServerMessage, SiteUpdate } from '../src/protocol/messages.js';
import type { Logger } from './log.js';
import type { SiteHost } from './sites.js';
import type { Storage } from './storage/types.js';

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

export class Game {
  private readonly players = new Map<string, Player>();
  /** Names of the online users per site, for broadcasting. */
  private readonly bySite = new Map<string, Set<string>>();
  private closed = false;

  constructor(
    private readonly host: SiteHost,
    private readonly storage: Storage,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  get onlineCount(): number {
    return this.players.size;
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
    if (actionNo <= p.lastActionNo) {
      return { code: 'ERR_ACTION_NUMBER', message: `actionNo ${actionNo} is not above ${p.lastActionNo}` };
    }
    if (!this.host.user(p.site, name)) return { code: 'ERR_OUT_OF_TURN', message: 'not on a site' };
    p.lastActionNo = actionNo;
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
    const p = this.players.get(name);
    if (!p || p.link !== link || this.closed) return;
    const before = this.host.user(p.site, name);
    const { update } = this.host.apply(p.site, name, { kind: 'leave' });
    this.players.delete(name);
    this.bySite.get(p.site)?.delete(name);
    this.broadcast(update);
    this.log.info('user.leave', { user: name, site: p.site, reason: how.reason });
    try {
      if (how.forget) this.storage.deleteUser(name);
      else if (before) {
        this.storage.saveBatch(
          { users: [{ name, guest: p.guest, state: before, lastActionNo: p.lastActionNo }], sites: [] },
          this.now(),
        );
      }
    } catch (err) {
      this.log.error('storage.save_failed', { user: name, err });
    }
  }

  /** Saves every online user and every site in one transaction. */
  saveAll(): void {
    const users = [];
    for (const p of this.players.values()) {
      const state = this.host.user(p.site, p.name);
      if (state) users.push({ name: p.name, guest: p.guest, state, lastActionNo: p.lastActionNo });
    }
    try {
      this.storage.saveBatch({ users, sites: this.host.siteStates() }, this.now());
    } catch (err) {
      this.log.error('storage.save_failed', { err });
    }
  }

  /** Final save; afterwards the game ignores everything, so closing sockets changes nothing. */
  shutdown(): void {
    if (this.closed) return;
    this.saveAll();
    this.closed = true;
  }

  private travel(p: Player, moved: UserState): void {
    this.bySite.get(p.site)?.delete(p.name);
    let state = moved;
    if (!this.host.has(state.site)) {
      // A world bug must not lose the user: send it home.
      this.log.error('portal.unknown_site', { user: p.name, from: p.site, to: state.site });
      state = { ...newUser(p.name, DEFAULT_SITE), inventory: state.inventory };
    }
    this.log.info('user.portal', { user: p.name, from: p.site, to: state.site });
    p.site = state.site;
    this.joinSite(p, state);
  }

  /** Joins through the rules, tells the site's other users, then gives the newcomer its view. */
  private joinSite(p: Player, state: UserState): void {
    const { update } = this.host.apply(p.site, p.name, { kind: 'join', user: state });
    let names = this.bySite.get(p.site);
    if (!names) {
      names = new Set();
      this.bySite.set(p.site, names);
    }
    names.add(p.name);
    // The newcomer's `enter` already shows this step, so it skips the update.
    this.broadcast(update, p.name);
    this.sendEnter(p);
  }

  private sendEnter(p: Player): void {
    const snap = this.host.snapshot(p.site);
    p.link.send(
      encode({
        type: 'enter',
        site: p.site,
        mode: 'cs',
        seq: snap.site.step,
        view: viewOf(snap),
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
