/**
 * Every connected tab as a possible Site Server: its session key (registered with proof of
 * possession), its server id, the player's "may serve" setting, its measured round trip, the
 * channels others could not open to it, and the site it serves. The admin chooses servers only
 * from here, only among eligible peers, and among those prefers (`preferred`) peers whose address
 * is not already on the site, then accounts over guests, then sessions older than a minute: one
 * person with many tabs should not pick a site's servers (docs/security.md).
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
  /** Peers that reported they could not open a channel to this one, and when (they expire). */
  unreachableBy: Map<string, number>;
  /** Site this tab serves, or null. */
  serving: string | null;
  stats: ServerStats | null;
  /** Times this peer's state or update was in a minority (disagreement is evidence). */
  minority: number;
  /** Its address group (IPv4 address, IPv6 /64), null when unknown. */
  address: string | null;
  guest: boolean;
  /** When this connection opened (the admin's clock). */
  since: number;
}

/** What the admin knows of a connection besides its user. */
export interface ConnectionInfo {
  ip?: string;
  guest?: boolean;
}

/** Link-failure reports count this long: being unreachable once does not bar a peer for good. */
export const LINK_FAILURE_MEMORY_MS = 10 * 60_000;
/** Reporters remembered per peer. */
const MAX_LINK_REPORTERS = 64;
/** A player whose server was caught in the minority is not chosen again for this long. */
export const MINORITY_BAR_MS = 24 * 3600_000;
const MAX_BARS = 10_000;
/** Sessions younger than this are chosen only when no older one will do. */
export const MIN_SESSION_AGE_MS = 60_000;

/** The address a person is likely to hold several of: an IPv4 address, an IPv6 /64. */
export function addressGroup(ip: string | undefined): string | null {
  if (!ip || ip === '?') return null;
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4?.[1]) return v4[1];
  return ip.toLowerCase().split(':').slice(0, 4).join(':');
}

export type Registration = { ok: true; serverId: string } | { ok: false; code: ErrorCode; message: string };

export class PeerRegistry {
  private readonly peers = new Map<string, Peer>();
  private readonly byServer = new Map<string, Peer>();
  /** Player -> until when it is not chosen, and why. */
  private readonly bars = new Map<string, { until: number; why: string }>();

  constructor(
    private readonly crypto: SignatureScheme,
    private readonly opts: Pick<P2POptions, 'maxServerRttMs' | 'maxLinkFailures'>,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** A new authenticated connection; returns its challenge. Replaces what an older link had. */
  open(user: string, tab: Tab, info: ConnectionInfo = {}): string {
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
      unreachableBy: new Map(),
      serving: null,
      stats: null,
      minority: 0,
      address: addressGroup(info.ip),
      guest: info.guest ?? false,
      since: this.now(),
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
   * not on that site nor on its way there (`enRoute`), a measured round trip within bounds,
   * reachable by others.
   */
  eligible(site: string, siteOf: (user: string) => string | null, enRoute?: (user: string, site: string) => boolean): Peer[] {
    return this.all().filter((p) => this.whyNot(p, site, siteOf, enRoute) === null);
  }

  /** Why `p` cannot serve `site` now, or null when it can. */
  whyNot(p: Peer, site: string, siteOf: (user: string) => string | null, enRoute?: (user: string, site: string) => boolean): string | null {
    if (p.key === null || p.serverId === null) return 'no key';
    if (!p.serve) return 'declined';
    if (p.serving !== null) return 'serving';
    if (siteOf(p.user) === site) return 'on the site';
    // Its player would walk in as soon as it served (transit.ts `enRoute`; FINDINGS 32, 33).
    if (enRoute?.(p.user, site)) return 'on its way';
    if (p.rtt === null) return 'round trip not measured';
    if (p.rtt > this.opts.maxServerRttMs) return 'slow link';
    if (this.unreachableCount(p) >= this.opts.maxLinkFailures) return 'unreachable';
    const bar = this.bars.get(p.user);
    if (bar && bar.until > this.now()) return bar.why;
    return null;
  }

  /** `reporter` could not open a channel to `p` (counts for LINK_FAILURE_MEMORY_MS). */
  reportUnreachable(p: Peer, reporter: string): void {
    p.unreachableBy.delete(reporter);
    p.unreachableBy.set(reporter, this.now());
    for (const old of p.unreachableBy.keys()) {
      if (p.unreachableBy.size <= MAX_LINK_REPORTERS) break;
      p.unreachableBy.delete(old);
    }
  }

  /** Distinct peers that could not reach `p` lately. */
  unreachableCount(p: Peer): number {
    const since = this.now() - LINK_FAILURE_MEMORY_MS;
    let n = 0;
    for (const at of p.unreachableBy.values()) if (at > since) n++;
    return n;
  }

  /** `user`'s tabs are not chosen to serve for `forMs` (e.g. its server was caught in the minority). */
  bar(user: string, why: string, forMs = MINORITY_BAR_MS): void {
    this.bars.delete(user);
    this.bars.set(user, { until: this.now() + forMs, why });
    if (this.bars.size <= MAX_BARS) return;
    for (const [u, b] of this.bars) if (b.until <= this.now()) this.bars.delete(u);
    // Still full: the oldest bar goes.
    const oldest = this.bars.keys().next().value;
    if (this.bars.size > MAX_BARS && oldest !== undefined) this.bars.delete(oldest);
  }

  /** Address groups of the given users' and servers' tabs (a site's people, for `preferred`). */
  addressesOf(users: Iterable<string>, serverIds: Iterable<string>): Set<string> {
    const out = new Set<string>();
    for (const u of users) {
      const a = this.peers.get(u)?.address;
      if (a) out.add(a);
    }
    for (const id of serverIds) {
      const a = this.byServer.get(id)?.address;
      if (a) out.add(a);
    }
    return out;
  }

  /**
   * The best of `cands` to choose from: an address not in `taken` first, then accounts before
   * guests, then sessions at least MIN_SESSION_AGE_MS old. Only the best nonempty tier is
   * returned (the caller draws at random within it), so no preference ever leaves a site short.
   */
  preferred(cands: readonly Peer[], taken: ReadonlySet<string>): Peer[] {
    const now = this.now();
    const score = (p: Peer): number =>
      (p.address === null || !taken.has(p.address) ? 4 : 0) + (p.guest ? 0 : 2) + (now - p.since >= MIN_SESSION_AGE_MS ? 1 : 0);
    let best = -1;
    for (const p of cands) best = Math.max(best, score(p));
    return cands.filter((p) => score(p) === best);
  }
}
