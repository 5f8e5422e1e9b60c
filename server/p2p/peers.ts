/**
 * Every connected tab as a possible Site Server: its session key (registered with proof of
 * possession), its server id, the player's "may serve" setting, its measured round trip, the
 * channels others could not open to it, and the site it serves. The admin chooses servers only
 * from here, only among eligible peers.
 */
import { randomBytes } from 'node:crypto';
import type { SignatureScheme } from '../../src/protocol/crypto.js';
import type { ErrorCode } from '../../src/protocol/errors.js';
import { keyProofBytes, serverIdOf, userOfServerId } from '../../src/protocol/keys.js';
import type { ClientMessage, ServerMessage } from '../../src/protocol/messages.js';
import type { P2POptions } from './settings.js';

/** What the admin holds of one tab's connection. */
export interface Tab {
  send(msg: ServerMessage): void;
}

export type ServerStats = Omit<Extract<ClientMessage, { type: 'serverStats' }>, 'type'> & { at: number };

export interface Peer {
  user: string;
  tab: Tab;
  /** One-time challenge this connection must sign to register a key. */
  challenge: string;
  key: string | null;
  serverId: string | null;
  /** The player allows this tab to serve sites (on by default). */
  serve: boolean;
  /** Round trip admin <-> tab of the latest WebSocket ping, ms. */
  rtt: number | null;
  /** Distinct peers that reported they could not open a channel to this one. */
  unreachableBy: Set<string>;
  /** Site this tab serves, or null. */
  serving: string | null;
  stats: ServerStats | null;
  /** Times this peer's state or update was in a minority (disagreement is evidence). */
  minority: number;
}

export type Registration = { ok: true; serverId: string } | { ok: false; code: ErrorCode; message: string };

export class PeerRegistry {
  private readonly peers = new Map<string, Peer>();
  private readonly byServer = new Map<string, Peer>();

  constructor(
    private readonly crypto: SignatureScheme,
    private readonly opts: Pick<P2POptions, 'maxServerRttMs' | 'maxLinkFailures'>,
  ) {}

  /** A new authenticated connection; returns its challenge. Replaces what an older link had. */
  open(user: string, tab: Tab): string {
    this.close(user);
    const challenge = randomBytes(32).toString('hex');
    this.peers.set(user, {
      user,
      tab,
      challenge,
      key: null,
      serverId: null,
      serve: true,
      rtt: null,
      unreachableBy: new Set(),
      serving: null,
      stats: null,
      minority: 0,
    });
    return challenge;
  }

  close(user: string): Peer | undefined {
    const p = this.peers.get(user);
    if (!p) return undefined;
    this.peers.delete(user);
    if (p.serverId) this.byServer.delete(p.serverId);
    return p;
  }

  get(user: string): Peer | undefined {
    return this.peers.get(user);
  }

  byServerId(id: string): Peer | undefined {
    return this.byServer.get(id);
  }

  all(): Peer[] {
    return [...this.peers.values()];
  }

  /**
   * Registers the tab's session key: `sig` must be the key's signature over this connection's
   * challenge. One key per connection; the challenge is spent either way. `resumeAs` names the
   * server id this key held before an admin restart (it must be this user's).
   */
  registerKey(user: string, key: string, sig: string, resumeAs?: (key: string) => string | null): Registration {
    const p = this.peers.get(user);
    if (!p) return { ok: false, code: 'ERR_NOT_AUTHENTICATED', message: 'say hello first' };
    if (p.key !== null) return { ok: false, code: 'ERR_ALREADY_AUTHENTICATED', message: 'this connection registered a key already' };
    const challenge = p.challenge;
    p.challenge = '';
    if (challenge === '' || !this.crypto.verify(key, keyProofBytes(challenge, user, key), sig)) {
      return { ok: false, code: 'ERR_BAD_PROOF', message: 'the signature does not prove possession of the key' };
    }
    p.key = key;
    // A server of a site the admin took up again after a restart keeps its id (proven by its key).
    const again = resumeAs?.(key) ?? null;
    p.serverId = again && userOfServerId(again) === user && !this.byServer.has(again) ? again : serverIdOf(user, randomBytes(4).toString('hex'));
    this.byServer.set(p.serverId, p);
    return { ok: true, serverId: p.serverId };
  }

  /**
   * Peers the admin may choose as Site Servers of `site`: key registered, willing, serving nothing,
   * not on that site, a measured round trip within bounds, reachable by others.
   */
  eligible(site: string, siteOf: (user: string) => string | null): Peer[] {
    return this.all().filter((p) => this.whyNot(p, site, siteOf) === null);
  }

  /** Why `p` cannot serve `site` now, or null when it can. */
  whyNot(p: Peer, site: string, siteOf: (user: string) => string | null): string | null {
    if (p.key === null || p.serverId === null) return 'no key';
    if (!p.serve) return 'declined';
    if (p.serving !== null) return 'serving';
    if (siteOf(p.user) === site) return 'on the site';
    if (p.rtt === null) return 'round trip not measured';
    if (p.rtt > this.opts.maxServerRttMs) return 'slow link';
    if (p.unreachableBy.size >= this.opts.maxLinkFailures) return 'unreachable';
    if (p.minority >= 3) return 'often in the minority';
    return null;
  }
}
