/**
 * Hosts one Site Server core (createSiteServer) in a tab or bot: peer frames from the mesh and
 * peer messages from the admin go in, the core's sends go out over the mesh (servers, users) or
 * the admin WebSocket (ADMIN_ID); what one wake of the core sends a peer leaves as one frame
 * (Mesh.batch). It keeps links to every other server of the site and counts
 * what the operator page shows. No protocol logic here: it only drives the core.
 *
 * The updates it sends the admin (those with departures, which the admin learns by majority) are
 * kept, so that after an admin restart `resendToAdmin` can pass on those sent while it was down.
 */
import { createSiteServer } from '../../protocol/server.js';
import type { SiteServer } from '../../protocol/api.js';
import type { SiteConfig } from '../../protocol/config.js';
import type { SignatureScheme } from '../../protocol/crypto.js';
import { ADMIN_ID, decodePeerMessage, encodePeerMessage, type PeerMessage, type SiteInit } from '../../protocol/messages.js';
import type { Cheater } from './cheat.js';
import type { Driver } from './driver.js';
import type { Mesh } from './mesh.js';

/** Frames kept while a hand-over waits for its links (a few users' first actions and Timeslots). */
const MAX_EARLY = 2000;
/** How often a held hand-over checks whether its links are open. */
const WARMUP_POLL_MS = 20;
/** Updates to the admin kept for `resendToAdmin` (departures are rare: this spans a long outage). */
export const ADMIN_OUTBOX = 128;
/** Users' actions whose arrival is remembered until an update applies them (oldest forgotten first). */
const ARRIVALS_KEPT = 4096;

export interface ServerHostOptions {
  config: SiteConfig;
  serverId: string;
  secretKey: string;
  adminKey: string;
  crypto?: SignatureScheme;
  /** Synced clock. */
  now: () => number;
  mesh: Mesh;
  driver: Driver;
  toAdmin(msg: PeerMessage): void;
  log(event: string, fields: Record<string, unknown>): void;
  /** How long a hand-over waits for the links to the other servers before starting anyway. */
  warmupMs?: number;
  /** A replacement: the server to take the state from first (SiteServerOptions.stateFrom). */
  stateFrom?: string;
  /** Tests only (cheat modes): rewrites what the core sends, and sees what it receives. */
  cheater?: Pick<Cheater, 'outgoing' | 'incoming'>;
}

export interface ServerStats {
  status: 'starting' | 'waiting' | 'running' | 'syncing' | 'evicted';
  lag: number | null;
  timeslotSeq: number;
  trmSent: number;
  trmReceived: number;
  bytesIn: number;
  bytesOut: number;
  links: number;
  /** Mean and max ms from a user's action reaching this server to this server sending the update that applies it, since the last stats; null: none applied. */
  actionDelayMs: number | null;
  actionDelayMaxMs: number | null;
}

export class SiteServerHost {
  readonly core: SiteServer;
  readonly site: string;
  readonly serverId: string;
  private readonly detach: () => void;
  private held: { init: SiteInit; since: number } | null = null;
  /** What came while the hand-over was held (users' first actions, admin records): replayed in order after it. */
  private early: Array<{ remote: string; msg: PeerMessage }> = [];
  private closed = false;
  private trmSent = 0;
  private trmReceived = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  /** Frames refused by the wire schema, by code (logged once a second at most). */
  rejected = 0;
  private lastRejectLog = -Infinity;
  private readonly outbox: PeerMessage[] = [];
  /** `user actionNo` -> arrival (synced clock), for the operator page's action delay. */
  private readonly arrivals = new Map<string, number>();
  private delays = { n: 0, sum: 0, max: 0, lastSeq: 0 };

  constructor(private readonly o: ServerHostOptions) {
    this.site = o.config.site;
    this.serverId = o.serverId;
    this.core = createSiteServer({
      config: o.config,
      id: o.serverId,
      secretKey: o.secretKey,
      adminKey: o.adminKey,
      ...(o.crypto ? { crypto: o.crypto } : {}),
      now: o.now,
      ...(o.stateFrom ? { stateFrom: o.stateFrom } : {}),
      send: o.cheater ? (to, msg) => o.cheater?.outgoing(to, msg, (t, m) => this.send(t, m)) : (to, msg) => this.send(to, msg),
      observe: (e) => {
        if (e.kind === 'rejected' || e.kind === 'ignored' || e.kind === 'admitted' || e.kind === 'equivocation' || e.kind === 'resync' || e.kind === 'resynced')
          o.log('p2p.server', { site: this.site, server: o.serverId, ...e });
      },
    });
    o.mesh.listen(o.serverId, (remote, bytes) => this.fromPeer(remote, bytes));
    this.detach = o.driver.add(
      {
        nextWakeAt: () => {
          const w = this.core.nextWakeAt();
          // While the hand-over waits for links, look again shortly (links open on their own).
          const h = this.held ? Math.min(this.held.since + (this.o.warmupMs ?? 3000), this.o.now() + WARMUP_POLL_MS) : null;
          return w === null ? h : h === null ? w : Math.min(w, h);
        },
        tick: () =>
          o.mesh.batch(() => {
            this.releaseInit(false);
            this.core.tick();
            this.keepLinks();
          }),
      },
      o.now,
    );
  }

  /** A peer message from the admin (siteInit, membership, ignoreCall, requestDeclined, ...). */
  fromAdmin(msg: PeerMessage): void {
    if (this.closed) return;
    if (msg.type === 'siteInit' && this.core.status() === 'waiting' && !this.held) {
      // Links first: servers that start Timeslots before their channels are open get asked about
      // and ignored for lag they do not have.
      this.held = { init: msg, since: this.o.now() };
      for (const m of msg.membership.members) if (m.id !== this.o.serverId && m.slot !== null) this.o.mesh.ensure(this.o.serverId, m.id);
      this.releaseInit(false);
      this.o.driver.poke();
      return;
    }
    if (this.held) {
      // The core has not started yet: a record or an ignoreCall now would be lost on it.
      if (this.early.length < MAX_EARLY) this.early.push({ remote: ADMIN_ID, msg });
      return;
    }
    this.step(() => this.core.receive(ADMIN_ID, msg));
  }

  stats(): ServerStats {
    const status = this.held ? 'starting' : this.core.status();
    const f = this.core.frontier();
    return {
      status,
      lag: Number.isFinite(f) ? Math.max(0, this.o.now() - f) : null,
      timeslotSeq: this.core.timeslotSeq(),
      trmSent: this.trmSent,
      trmReceived: this.trmReceived,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      links: this.o.mesh.openCount(this.o.serverId),
      ...this.takeDelays(),
    };
  }

  private takeDelays(): Pick<ServerStats, 'actionDelayMs' | 'actionDelayMaxMs'> {
    const d = this.delays;
    this.delays = { n: 0, sum: 0, max: 0, lastSeq: d.lastSeq };
    return d.n > 0 ? { actionDelayMs: d.sum / d.n, actionDelayMaxMs: d.max } : { actionDelayMs: null, actionDelayMaxMs: null };
  }

  /** An update leaves (once per seq, whoever it goes to): the delay of each action it applies that came here. */
  private measureUpdate(msg: Extract<PeerMessage, { type: 'update' }>): void {
    if (msg.seq <= this.delays.lastSeq) return;
    this.delays.lastSeq = msg.seq;
    const now = this.o.now();
    for (const [user, no] of msg.applied) {
      const k = `${user} ${no}`;
      const at = this.arrivals.get(k);
      if (at === undefined) continue;
      this.arrivals.delete(k);
      const d = Math.max(0, now - at);
      this.delays.n++;
      this.delays.sum += d;
      this.delays.max = Math.max(this.delays.max, d);
    }
  }

  /** Sends the kept updates to the admin again, oldest first (the admin drops those it has). */
  resendToAdmin(): void {
    if (this.closed) return;
    for (const m of [...this.outbox]) this.o.toAdmin(m);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.o.mesh.drop(this.o.serverId);
  }

  private releaseInit(force: boolean): void {
    const h = this.held;
    if (!h) return;
    const others = h.init.membership.members.filter((m) => m.id !== this.o.serverId && m.slot !== null);
    const allOpen = others.every((m) => this.o.mesh.isOpen(this.o.serverId, m.id));
    if (!force && !allOpen && this.o.now() < h.since + (this.o.warmupMs ?? 3000)) return;
    this.held = null;
    this.o.log('p2p.serving', { site: this.site, server: this.o.serverId, linksOpen: allOpen, waitedMs: Math.round(this.o.now() - h.since) });
    const early = this.early;
    this.early = [];
    this.step(() => {
      this.core.receive(ADMIN_ID, h.init);
      for (const e of early) this.core.receive(e.remote, e.msg);
    });
  }

  private send(to: string, msg: PeerMessage): void {
    if (this.closed) return;
    if (msg.type === 'timeslotRequest') this.trmSent++;
    if (msg.type === 'update') this.measureUpdate(msg);
    if (to === ADMIN_ID) {
      if (msg.type === 'update' || msg.type === 'updateHash') {
        this.outbox.push(msg);
        if (this.outbox.length > ADMIN_OUTBOX) this.outbox.shift();
      }
      this.o.toAdmin(msg);
      return;
    }
    const bytes = encodePeerMessage(msg);
    this.bytesOut += bytes.byteLength;
    this.o.mesh.send(this.o.serverId, to, bytes);
  }

  private fromPeer(remote: string, bytes: Uint8Array): void {
    if (this.closed) return;
    this.bytesIn += bytes.byteLength;
    const parsed = decodePeerMessage(bytes);
    if (!parsed.ok) {
      this.rejected++;
      const now = this.o.now();
      if (now - this.lastRejectLog >= 1000) {
        this.lastRejectLog = now;
        this.o.log('p2p.reject', { site: this.site, server: this.o.serverId, from: remote, code: parsed.code, message: parsed.message });
      }
      return;
    }
    if (parsed.value.type === 'timeslotRequest') this.trmReceived++;
    this.o.cheater?.incoming(remote, parsed.value);
    if (parsed.value.type === 'action' && parsed.value.user === remote) {
      const k = `${remote} ${parsed.value.actionNo}`;
      if (!this.arrivals.has(k)) this.arrivals.set(k, this.o.now());
      if (this.arrivals.size > ARRIVALS_KEPT) this.arrivals.delete(this.arrivals.keys().next().value ?? k);
    }
    // A held hand-over waits for links, but not once another server has started: from then on it
    // would count us as silent (servers whose links open at different times would start seconds
    // apart, and the early ones would ask to ignore the late ones).
    if (this.held) this.releaseInit(parsed.value.type === 'timeslot');
    if (this.held) {
      if (this.early.length < MAX_EARLY) this.early.push({ remote, msg: parsed.value });
      return;
    }
    this.step(() => this.core.receive(remote, parsed.value));
  }

  /** One wake of the core: what it sends leaves as one frame per peer (Mesh.batch). */
  private step(fn: () => void): void {
    this.o.mesh.batch(() => {
      fn();
      this.keepLinks();
    });
    this.o.driver.poke();
  }

  /** Keeps a link to every other server in the record; the smaller id offers (mesh.offers). */
  private keepLinks(): void {
    const rec = this.core.membership();
    if (!rec) return;
    for (const m of rec.members) if (m.id !== this.o.serverId && m.slot !== null) this.o.mesh.ensure(this.o.serverId, m.id);
  }
}
