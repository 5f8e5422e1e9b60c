/**
 * The admin WebSocket's peer traffic: WebRTC signaling relayed only between peers the admin
 * assigned to each other, and `peer` envelopes (chunked binary peer messages) between a tab and a
 * site's coordinator. The admin stamps who is speaking: a tab can only speak as its own user or
 * its own server id, and only in a role it was given on that site. Site traffic itself never
 * passes here.
 */
import { ChunkAssembler, splitChunks } from '../../src/protocol/chunks.js';
import type { ErrorCode } from '../../src/protocol/errors.js';
import {
  decodePeerMessage,
  encodePeerMessage,
  isReservedName,
  type ClientMessage,
  type PeerMessage,
  type PeerRole,
} from '../../src/protocol/messages.js';
import { KeyedRateLimiter } from '../rateLimit.js';
import type { Peer, PeerRegistry } from './peers.js';

export type Refusal = { code: ErrorCode; message: string } | null;

/** What a site tells the relay about who may talk to whom. */
export interface Assignments {
  /** The site's servers (ids of tabs told to serve it). */
  isServer(site: string, serverId: string): boolean;
  /** Users on the site in P2P mode. */
  isUser(site: string, user: string): boolean;
  /** Sites in P2P mode (where signaling can be allowed). */
  p2pSites(): Iterable<string>;
  /** A past server of the site: it may still send the admin its word on updates (sim/FINDINGS.md 76). */
  wasServer?(site: string, serverId: string): boolean;
  /** A server whose player walked in and its replacement, while it hands its copy over. */
  handingOff?(site: string, a: string, b: string): boolean;
}

/** Peer messages a tab may send the admin, by the role it speaks in. */
const FROM_SERVER: ReadonlySet<PeerMessage['type']> = new Set([
  'membershipRequest',
  'withdrawRequest',
  'cutWait',
  'equivocationProof',
  'update',
  'updateHash',
  'stateChunk',
  'siteInit',
]);
const FROM_USER: ReadonlySet<PeerMessage['type']> = new Set(['flagReport']);

export class PeerRelay {
  private readonly assemblers = new Map<string, ChunkAssembler>();
  private readonly signals: KeyedRateLimiter;
  private nextId = 1;

  constructor(
    private readonly registry: PeerRegistry,
    private readonly assigned: Assignments,
    private readonly now: () => number,
    signalRate = { perSecond: 40, burst: 200 },
  ) {
    this.signals = new KeyedRateLimiter(signalRate);
  }

  /**
   * The end a tab owns: its user name, or its server id. Never a protocol identity, even for a
   * player under such a name from a database older than the name rule.
   */
  private owns(p: Peer, end: string): boolean {
    if (isReservedName(end)) return false;
    return end === p.user || (p.serverId !== null && end === p.serverId);
  }

  /** Whether ends `a` and `b` were assigned to each other on some P2P site. */
  allowed(a: string, b: string): boolean {
    if (a === b) return false;
    for (const site of this.assigned.p2pSites()) {
      const aServer = this.assigned.isServer(site, a);
      const bServer = this.assigned.isServer(site, b);
      if (aServer && bServer) return true;
      if (aServer && this.assigned.isUser(site, b)) return true;
      if (bServer && this.assigned.isUser(site, a)) return true;
      if (this.assigned.handingOff?.(site, a, b)) return true;
    }
    return false;
  }

  /** Relays one signaling message, or says why not. */
  signal(user: string, msg: Extract<ClientMessage, { type: 'signal' }>): Refusal {
    const p = this.registry.get(user);
    if (!p) return { code: 'ERR_NOT_AUTHENTICATED', message: 'say hello first' };
    if (!this.signals.take(user, this.now())) return { code: 'ERR_RATE_LIMITED', message: 'too much signaling' };
    if (!this.owns(p, msg.from)) return { code: 'ERR_UNKNOWN_PEER', message: `this connection cannot speak as ${msg.from}` };
    if (isReservedName(msg.to)) return { code: 'ERR_NAME_RESERVED', message: `${msg.to} is not a peer` };
    if (!this.allowed(msg.from, msg.to)) return { code: 'ERR_NOT_ASSIGNED', message: `${msg.from} and ${msg.to} are not assigned to each other` };
    const target = this.registry.byServerId(msg.to) ?? this.registry.get(msg.to);
    if (!target) return { code: 'ERR_UNKNOWN_PEER', message: `${msg.to} is not connected` };
    target.tab.send({ type: 'signal', from: msg.from, to: msg.to, data: msg.data });
    return null;
  }

  /**
   * One `peer` chunk from a tab. When it completes a message, returns the message with the
   * stamped sender; refuses a sender speaking in a role it was not given.
   */
  receive(
    user: string,
    msg: Extract<ClientMessage, { type: 'peer' }>,
  ): { ok: true; done: { site: string; from: string; msg: PeerMessage } | null } | { ok: false; code: ErrorCode; message: string } {
    const p = this.registry.get(user);
    if (!p) return { ok: false, code: 'ERR_NOT_AUTHENTICATED', message: 'say hello first' };
    const from = msg.as === 'server' ? p.serverId : user;
    if (from !== null && isReservedName(from)) return { ok: false, code: 'ERR_NAME_RESERVED', message: `${from} is a protocol identity` };
    const serving = from !== null && msg.as === 'server' && this.assigned.isServer(msg.site, from);
    // A server that lost its slot may still owe the admin its word on updates it applied while it held
    // it (its outbox resent on its key): only `update`/`updateHash` pass, checked once decoded below.
    const late = from !== null && msg.as === 'server' && !serving && (this.assigned.wasServer?.(msg.site, from) ?? false);
    const given = from !== null && (msg.as === 'server' ? serving || late : this.assigned.isUser(msg.site, from));
    if (!given || from === null) return { ok: false, code: 'ERR_NOT_ASSIGNED', message: `not a ${msg.as} of ${msg.site}` };
    const key = `${user}\u0000${msg.as}`;
    let asm = this.assemblers.get(key);
    if (!asm) this.assemblers.set(key, (asm = new ChunkAssembler()));
    const r = asm.add(msg.site, msg, this.now());
    if (r === null) return { ok: true, done: null };
    if (!r.ok) return r;
    const parsed = decodePeerMessage(r.value);
    if (!parsed.ok) return parsed;
    const m = parsed.value;
    if (late && m.type !== 'update' && m.type !== 'updateHash') {
      return { ok: false, code: 'ERR_NOT_ASSIGNED', message: `a past server of ${msg.site} sends only its word on updates, not ${m.type}` };
    }
    if (!(msg.as === 'server' ? FROM_SERVER : FROM_USER).has(m.type)) {
      return { ok: false, code: 'ERR_NOT_ASSIGNED', message: `a ${msg.as} does not send ${m.type} to the admin` };
    }
    if ('site' in m && m.site !== msg.site) return { ok: false, code: 'ERR_WRONG_SITE', message: `envelope for ${msg.site} carries ${m.site}` };
    return { ok: true, done: { site: msg.site, from, msg: m } };
  }

  /** Sends a peer message to a server id or user name, chunked over that tab's WebSocket. */
  deliver(site: string, to: string, msg: PeerMessage): boolean {
    const server = this.registry.byServerId(to);
    const peer = server ?? this.registry.get(to);
    if (!peer) return false;
    const role: PeerRole = server ? 'server' : 'user';
    const chunks = splitChunks(encodePeerMessage(msg));
    const id = this.nextId++ & 0x7fffffff;
    chunks.forEach((data, index) => peer.tab.send({ type: 'peer', to: role, site, id, index, count: chunks.length, data }));
    return true;
  }

  /** Forgets a closed connection's partial messages. */
  forget(user: string): void {
    this.assemblers.delete(`${user}\u0000server`);
    this.assemblers.delete(`${user}\u0000user`);
  }
}
