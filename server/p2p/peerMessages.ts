/**
 * The peer-related client messages, for the manager (manager.ts): a tab's key (and, after a
 * restart, a resumed site's server coming back with it), its settings, signaling, peer envelopes,
 * link failures and server stats.
 */
import type { ClientMessage } from '../../src/protocol/messages.js';
import type { Logger } from '../log.js';
import type { Peer, PeerRegistry } from './peers.js';
import type { PeerRelay, Refusal } from './relay.js';
import type { P2PSite } from './site.js';

/** Distinct peers of a site that cannot reach one of its servers before the admin replaces it. */
const UNREACHABLE_EVICT = 2;

export type PeerClientMessage = Extract<ClientMessage, { type: 'key' | 'prefs' | 'signal' | 'peer' | 'linkFailed' | 'serverStats' }>;

export interface PeerMessagesDeps {
  registry: PeerRegistry;
  relay: PeerRelay;
  /** The P2P sites run here (the manager's). */
  sites: ReadonlyMap<string, P2PSite>;
  log: Logger;
  now(): number;
  /** What the game says of where the user is. */
  siteOf(user: string): string | null;
  /** A peer came: sites left short of servers may take it now (hostingChecks.ts). */
  refillShort(): void;
}

export class PeerMessages {
  constructor(private readonly d: PeerMessagesDeps) {}

  /** One peer-related client message. Null when handled; a refusal to answer with otherwise. */
  onMessage(user: string, msg: PeerClientMessage): Refusal {
    const { registry, relay, sites, log } = this.d;
    const p = registry.get(user);
    if (!p) return { code: 'ERR_NOT_AUTHENTICATED', message: 'say hello first' };
    switch (msg.type) {
      case 'key': {
        const r = registry.registerKey(user, msg.key, msg.sig, (key) => this.awaitedServer(key));
        if (!r.ok) return r;
        p.tab.send({ type: 'keyOk', serverId: r.serverId });
        log.info('p2p.key', { user, server: r.serverId });
        this.serverBack(p, r.serverId);
        // A peer came: a site left short of servers may take it now.
        this.d.refillShort();
        return null;
      }
      case 'prefs':
        p.serve = msg.serve;
        return null;
      case 'signal':
        return relay.signal(user, msg);
      case 'peer': {
        const r = relay.receive(user, msg);
        if (!r.ok) return r;
        if (r.done) sites.get(r.done.site)?.receive(r.done.from, r.done.msg);
        return null;
      }
      case 'linkFailed': {
        const target = registry.byServerId(msg.peer);
        if (!relay.allowed(msg.as === 'server' ? (p.serverId ?? '') : user, msg.peer)) {
          return { code: 'ERR_NOT_ASSIGNED', message: `${msg.peer} is not assigned to you` };
        }
        if (target) registry.reportUnreachable(target, user);
        log.warn('p2p.link_failed', { site: msg.site, from: user, as: msg.as, peer: msg.peer });
        sites.get(msg.site)?.unreachableBy(msg.peer, user, UNREACHABLE_EVICT, msg.as);
        return null;
      }
      case 'serverStats': {
        if (p.serving !== msg.site) return { code: 'ERR_NOT_ASSIGNED', message: `not serving ${msg.site}` };
        const { type: _t, ...stats } = msg;
        void _t;
        p.stats = { ...stats, at: this.d.now() };
        return null;
      }
    }
  }

  /** The server id `key` held on a resumed site that waits for it, or null. */
  private awaitedServer(key: string): string | null {
    for (const s of this.d.sites.values()) {
      const id = s.awaitsServerWithKey(key);
      if (id) return id;
    }
    return null;
  }

  /** A server of a resumed site is back: it serves on (it never stopped) and resends what the admin missed. */
  private serverBack(p: Peer, serverId: string): void {
    for (const [site, s] of this.d.sites) {
      if (!s.awaitsServerWithKey(p.key ?? '') || !s.serverBack(serverId)) continue;
      p.serving = site;
      p.stats = null;
      this.d.log.info('p2p.server_back', { site, server: serverId });
      if (this.d.siteOf(p.user) === site) {
        // Its player landed on this site before its key came back (a portal taken while the admin
        // was down): not told to serve on, it walks in as `join` does for a server it knows, and
        // hands its copy to its replacement (found by the managed world).
        s.walkIn(serverId);
        return;
      }
      p.tab.send({ type: 'serve', site, serverId });
      return;
    }
  }
}
