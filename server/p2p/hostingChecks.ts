/**
 * When a site moves to Site Servers and back (paper 4.2), for the manager (manager.ts): a
 * client-server site at the threshold goes to `nServer` peers chosen at random among the eligible
 * ones, or records why it cannot (`blocked`); the periodic check hands back a P2P site that emptied,
 * stayed well below the threshold or short of servers, and gives empty slots to candidates free now.
 */
import type { ServerMessage } from '../../src/protocol/messages.js';
import type { Logger } from '../log.js';
import type { Peer, PeerRegistry } from './peers.js';
import type { P2POptions } from './settings.js';
import type { P2PSite } from './site.js';
import type { Transit } from './transit.js';

export interface HostingChecksDeps {
  options: P2POptions;
  now(): number;
  /** Injected randomness in [0, 1): server choice. */
  random(): number;
  log: Logger;
  /** What the checks read from the game (manager.ts `GameHooks`). */
  game: {
    siteOf(user: string): string | null;
    usersOn(site: string): string[];
    tell(user: string, msg: ServerMessage): void;
    transit: Pick<Transit, 'enRoute'>;
  };
  registry: PeerRegistry;
  /** The P2P sites run here (the manager's). */
  sites: ReadonlyMap<string, P2PSite>;
  /** Hands `site` to the chosen servers (the manager builds and drives its P2PSite). */
  transfer(site: string, users: string[], picks: Peer[]): void;
}

export class HostingChecks {
  private readonly blocked = new Map<string, string>();
  /** Since when a P2P site has been well below the threshold, or lacked servers. */
  private readonly lowSince = new Map<string, number>();
  private readonly shortSince = new Map<string, number>();

  constructor(private readonly d: HostingChecksDeps) {}

  /** Why a client-server site at the threshold is not P2P, or null. */
  blockedWhy(site: string): string | null {
    return this.blocked.get(site) ?? null;
  }

  /** A site is back at the admin: its timers start over. */
  forget(site: string): void {
    this.lowSince.delete(site);
    this.shortSince.delete(site);
  }

  /** Moves a client-server site at the threshold to peers, or records why it cannot. */
  consider(site: string): void {
    if (!(this.d.options.transferThreshold > 0) || this.d.sites.has(site)) return;
    const users = this.d.game.usersOn(site);
    if (users.length < this.d.options.transferThreshold) {
      this.setBlocked(site, null);
      return;
    }
    const n = this.d.options.nServer;
    const eligible = this.eligible(site);
    if (eligible.length < n) {
      this.setBlocked(site, `needs ${n} eligible peers, ${eligible.length} free`);
      return;
    }
    const picks = this.pick(eligible, n, this.d.registry.addressesOf(users, []));
    this.setBlocked(site, null);
    this.d.transfer(site, users, picks);
  }

  /** Peers that may serve `site`: not on it, nor on their way into it (the game's transit). */
  eligible(site: string): Peer[] {
    const { game } = this.d;
    return this.d.registry.eligible(site, (u) => game.siteOf(u), (u, s) => game.transit.enRoute(u, s));
  }

  /** `n` servers at random, each from the best tier left (peers.ts `preferred`; `taken`: the site's addresses). */
  private pick(from: Peer[], n: number, taken: Set<string>): Peer[] {
    const pool = [...from];
    const out: Peer[] = [];
    while (out.length < n && pool.length > 0) {
      const best = this.d.registry.preferred(pool, taken);
      const p = best[Math.min(best.length - 1, Math.floor(this.d.random() * best.length))];
      if (!p) break;
      pool.splice(pool.indexOf(p), 1);
      out.push(p);
      if (p.address) taken.add(p.address);
    }
    return out;
  }

  /** Starts the hand-back of a P2P site. */
  handBack(site: string, reason: string): void {
    const s = this.d.sites.get(site);
    if (!s?.running) return;
    s.close(reason);
    for (const u of s.users) this.d.game.tell(u, { type: 'siteStatus', site, mode: 'p2p', blocked: null, closing: true });
  }

  private setBlocked(site: string, why: string | null): void {
    const before = this.blocked.get(site) ?? null;
    if (why === null) this.blocked.delete(site);
    else this.blocked.set(site, why);
    if (before === why) return;
    if (why) this.d.log.info('p2p.blocked', { site, why });
    for (const u of this.d.game.usersOn(site)) this.d.game.tell(u, { type: 'siteStatus', site, mode: 'cs', blocked: why, closing: false });
  }

  /** Periodic: sites at the threshold (peers may have come), P2P sites that emptied or lack servers. */
  check(): void {
    try {
      const now = this.d.now();
      const { transferThreshold, handBackAfterMs, nServer, T_ignore } = this.d.options;
      for (const [site, s] of this.d.sites) {
        if (!s.running) continue;
        if (s.users.size === 0) {
          this.handBack(site, 'empty');
          continue;
        }
        if (s.users.size * 2 < transferThreshold) {
          const since = this.lowSince.get(site) ?? now;
          this.lowSince.set(site, since);
          if (now - since >= handBackAfterMs) this.handBack(site, 'well below the threshold');
        } else this.lowSince.delete(site);
        if (this.fill(s) < nServer) {
          const since = this.shortSince.get(site) ?? now;
          this.shortSince.set(site, since);
          if (now - since >= 2 * T_ignore) this.handBack(site, 'not enough servers');
        } else this.shortSince.delete(site);
      }
      for (const site of new Set([...this.blocked.keys(), ...this.sitesWithUsers()])) this.consider(site);
    } catch (err) {
      this.d.log.error('p2p.check_failed', { err, stack: (err as Error)?.stack });
    }
  }

  /**
   * Sites left short of servers (a replacement found no candidate then) take candidates free now:
   * on a peer's login, and at every check (a peer left a site, or stopped serving one).
   */
  refillShort(): void {
    for (const s of this.d.sites.values()) if (s.running) this.fill(s);
  }

  /** Empty slots of `s` to candidates while there are both; how many servers it has then. */
  private fill(s: P2PSite): number {
    let n = s.servers().length;
    while (n < this.d.options.nServer) {
      // The pick is taken by the site's record (P2PSite `claim`): the next round picks another peer.
      if (s.refill() === null) break;
      n = s.servers().length;
    }
    return n;
  }

  private sitesWithUsers(): string[] {
    const out = new Set<string>();
    for (const p of this.d.registry.all()) {
      const s = this.d.game.siteOf(p.user);
      if (s && !this.d.sites.has(s)) out.add(s);
    }
    return [...out];
  }
}
