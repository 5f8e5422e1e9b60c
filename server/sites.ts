/**
 * Client-server hosting of sites: one SiteSnapshot per site in memory, changed only by the game's
 * `applyAction`. The update sequence number of a site is its step (one per applied action), so it
 * survives restarts with the site state and never repeats.
 */
import {
  applyAction,
  createSite,
  listSites,
  type SiteAction,
  type SiteSnapshot,
  type SiteState,
  type UserState,
  withItemsInReach,
} from '../src/game/index.js';
import type { SiteUpdate } from '../src/protocol/messages.js';

export interface Applied {
  update: SiteUpdate;
  snapshot: SiteSnapshot;
}

export class SiteHost {
  private readonly sites = new Map<string, SiteSnapshot>();

  /**
   * `load` returns a stored site state or undefined; missing sites start fresh. Users start empty:
   * everyone is offline at startup. A stored item out of reach (spawned on the lake's island before
   * items kept in reach) is moved ashore (`withItemsInReach`).
   */
  constructor(load: (siteId: string) => SiteState | undefined) {
    for (const def of listSites()) {
      const stored = load(def.id);
      this.sites.set(def.id, stored ? { site: withItemsInReach(stored), users: [] } : createSite(def.id));
    }
  }

  has(siteId: string): boolean {
    return this.sites.has(siteId);
  }

  snapshot(siteId: string): SiteSnapshot {
    const s = this.sites.get(siteId);
    if (!s) throw new Error(`unknown site ${siteId}`);
    return s;
  }

  seq(siteId: string): number {
    return this.snapshot(siteId).site.step;
  }

  user(siteId: string, name: string): UserState | undefined {
    return this.snapshot(siteId).users.find((u) => u.name === name);
  }

  /**
   * Applies one action. `actionNo` is the user's number for player actions; arrivals and departures
   * the admin orders carry none and list nothing in `applied`.
   */
  apply(siteId: string, actor: string, action: SiteAction, actionNo?: number): Applied {
    const r = applyAction(this.snapshot(siteId), actor, action);
    this.sites.set(siteId, r.snapshot);
    const update: SiteUpdate = {
      site: siteId,
      seq: r.snapshot.site.step,
      applied: actionNo === undefined ? [] : [{ user: actor, actionNo }],
      events: r.events,
    };
    return { update, snapshot: r.snapshot };
  }

  /** Takes a site back from its Site Servers (the majority-verified state as of the cut). */
  install(siteId: string, snapshot: SiteSnapshot): void {
    if (!this.sites.has(siteId)) throw new Error(`unknown site ${siteId}`);
    this.sites.set(siteId, snapshot);
  }

  siteStates(): SiteState[] {
    return [...this.sites.values()].map((s) => s.site);
  }

  /** Every user on every site (the online users' current states). */
  users(): UserState[] {
    return [...this.sites.values()].flatMap((s) => s.users);
  }
}
