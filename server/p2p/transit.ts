/**
 * Users on their way between the admin and a P2P site's servers, in one place (the game and the
 * P2P sites both read and change it): a user whose state the servers still have to give back, a
 * user waiting for a site on its way back to the admin, departures the servers applied during
 * a hand-back before its cut is known, and the portals of an update being carried out. The
 * manager asks it which players are about to enter a site (`enRoute`): never that site's picks.
 * (A lost site's fallback keeps the departures since its last good state too, fallback.ts: those
 * users arrived, their states are stored; it is history.)
 */
import type { GameEvent, UserState } from '../../src/game/types.js';

/** A user that left a P2P site (logout, disconnect) whose state the servers still have to give back. */
export interface Departing {
  guest: boolean;
  site: string;
  lastActionNo: number;
  forget: boolean;
  /** A login of the same user waits for the state. */
  waiting: Array<() => void>;
}

/** A departure the majority applied in update `seq`. */
export interface HeldDeparture {
  user: UserState;
  via: 'portal' | 'logout';
  seq: number;
}

export class Transit {
  /** By user name: left a P2P site, state still with its servers. */
  readonly departing = new Map<string, Departing>();
  /** By site, then user: arriving at a site that is handing back; they join once it is back. */
  private readonly arriving = new Map<string, Map<string, UserState>>();
  /** By site: departures applied during its hand-back, held until the cut's seq is known. */
  private readonly held = new Map<string, HeldDeparture[]>();
  /**
   * By user: the site a portal accepted in this input takes it to, known from the whole update
   * before its departures are carried out one by one (`expect`).
   */
  private readonly moving = new Map<string, string>();

  /**
   * Whether `user` is on its way into `site` or waits to enter a site: a departure under way in
   * this input or held for a hand-back's cut lands it there, or it is arriving there, or a login
   * waits for its state from a P2P site (it lands where that state says, perhaps `site`). Such a
   * player is never picked to serve `site` (sim/FINDINGS.md 32, 33).
   */
  enRoute(user: string, site: string): boolean {
    if (this.departing.has(user) || this.arriving.get(site)?.has(user)) return true;
    if (this.moving.get(user) === site) return true;
    for (const h of this.held.values()) if (h.some((d) => d.via === 'portal' && d.user.name === user && d.user.site === site)) return true;
    return false;
  }

  /**
   * The departures of an update one site's majority just accepted, before they are carried out
   * one after the other in this input (each may move a player, and a move may start a transfer
   * whose picks must not include the next ones): known until `defer` runs, at the input's end.
   */
  expect(events: readonly GameEvent[], defer: (fn: () => void) => void): void {
    const names: string[] = [];
    for (const e of events) {
      if (e.kind !== 'left' || e.via !== 'portal') continue;
      this.moving.set(e.user.name, e.user.site);
      names.push(e.user.name);
    }
    if (names.length > 0) defer(() => names.forEach((n) => this.moving.delete(n)));
  }

  /** Whether `name` (any case) has its state on the way back from a P2P site. */
  departingAnyCase(name: string): boolean {
    const n = name.toLowerCase();
    for (const k of this.departing.keys()) if (k.toLowerCase() === n) return true;
    return false;
  }

  arrive(site: string, user: string, state: UserState): void {
    let a = this.arriving.get(site);
    if (!a) this.arriving.set(site, (a = new Map()));
    a.set(user, state);
  }

  /** The arriving user's state, taken out (it left before the site came back), or undefined. */
  takeArrival(site: string, user: string): UserState | undefined {
    const a = this.arriving.get(site);
    const state = a?.get(user);
    a?.delete(user);
    return state;
  }

  /** Everyone arriving anywhere, left in place (a world save stores them where they are going). */
  allArrivals(): Array<[string, UserState]> {
    return [...this.arriving.values()].flatMap((a) => [...a]);
  }

  /** Everyone arriving at `site`, taken out (the site is back at the admin). */
  takeArrivals(site: string): Array<[string, UserState]> {
    const a = this.arriving.get(site);
    this.arriving.delete(site);
    return [...(a ?? [])];
  }

  hold(site: string, d: HeldDeparture): void {
    let h = this.held.get(site);
    if (!h) this.held.set(site, (h = []));
    h.push(d);
  }

  /** The departures held for `site`, taken out. */
  takeHeld(site: string): HeldDeparture[] {
    const h = this.held.get(site) ?? [];
    this.held.delete(site);
    return h;
  }
}
