/**
 * Hosts the player's side of a P2P site (createSiteUser): actions go to every Site Server over
 * data channels, updates come back from them, and only what N_majority servers agree on reaches
 * `onAccept` (the store, and so the Phaser view). Membership records come from the admin.
 */
import { createSiteUser } from '../../protocol/user.js';
import type { AcceptedUpdate, ServerView, SiteUser } from '../../protocol/api.js';
import type { SiteConfig } from '../../protocol/config.js';
import type { SignatureScheme } from '../../protocol/crypto.js';
import { ADMIN_ID, decodePeerMessage, encodePeerMessage, type PeerMessage } from '../../protocol/messages.js';
import type { PlayerAction, SiteSnapshot } from '../../game/types.js';
import type { Driver } from './driver.js';
import type { Mesh } from './mesh.js';

export interface UserHostOptions {
  config: SiteConfig;
  user: string;
  adminKey: string;
  crypto?: SignatureScheme;
  now: () => number;
  mesh: Mesh;
  driver: Driver;
  servers: string[];
  /** Hand-over seq and hash; null when entering a running P2P site. */
  seq: number | null;
  hash: string | null;
  nextActionNo: number;
  toAdmin(msg: PeerMessage): void;
  onAccept(update: AcceptedUpdate): void;
  onEnter(entered: { seq: number; hash: string; snapshot: SiteSnapshot }): void;
  log(event: string, fields: Record<string, unknown>): void;
}

export class SiteUserHost {
  readonly core: SiteUser;
  readonly site: string;
  private readonly detach: () => void;
  private closed = false;
  private entered: boolean;

  constructor(private readonly o: UserHostOptions) {
    this.site = o.config.site;
    this.entered = o.seq !== null && o.hash !== null;
    this.core = createSiteUser({
      config: o.config,
      user: o.user,
      now: o.now,
      send: (to, msg) => this.send(to, msg),
      servers: o.servers,
      seq: o.seq,
      hash: o.hash,
      nextActionNo: o.nextActionNo,
      adminKey: o.adminKey,
      ...(o.crypto ? { crypto: o.crypto } : {}),
      onAccept: (u) => o.onAccept(u),
      onEnter: (e) => {
        this.entered = true;
        o.onEnter(e);
      },
      observe: (e) => {
        if (e.kind === 'rejected' || e.kind === 'flagged' || e.kind === 'resync')
          o.log('p2p.user', { site: this.site, user: o.user, ...e });
      },
    });
    o.mesh.listen(o.user, (remote, bytes) => this.fromPeer(remote, bytes));
    // Each wake's frames leave as one per server (Mesh.batch).
    this.detach = o.driver.add({ nextWakeAt: () => this.core.nextWakeAt(), tick: () => o.mesh.batch(() => this.core.tick()) }, o.now);
    // Entering a running site, the state transfer starts with the servers' first update (the
    // admin's join of this user): their frames wait in the mesh until our offers connect.
    this.keepLinks();
  }

  /** Whether the user has the site's state (it may act). */
  get ready(): boolean {
    return this.entered && !this.closed;
  }

  act(action: PlayerAction): number {
    const no = this.o.mesh.batch(() => this.core.act(action));
    this.o.driver.poke();
    return no;
  }

  fromAdmin(msg: PeerMessage): void {
    if (this.closed) return;
    this.o.mesh.batch(() => {
      this.core.receive(ADMIN_ID, msg);
      this.keepLinks();
    });
    this.o.driver.poke();
  }

  serverStates(): Array<{ id: string; state: ServerView }> {
    return this.core.serverStates();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.o.mesh.drop(this.o.user);
  }

  private send(to: string, msg: PeerMessage): void {
    if (this.closed) return;
    if (to === ADMIN_ID) {
      this.o.toAdmin(msg);
      return;
    }
    this.o.mesh.send(this.o.user, to, encodePeerMessage(msg));
  }

  private fromPeer(remote: string, bytes: Uint8Array): void {
    if (this.closed) return;
    const parsed = decodePeerMessage(bytes);
    if (!parsed.ok) {
      this.o.log('p2p.reject', { site: this.site, user: this.o.user, from: remote, code: parsed.code, message: parsed.message });
      return;
    }
    this.o.mesh.batch(() => {
      this.core.receive(remote, parsed.value);
      // A link that failed is tried again (after the mesh's pause) even by a player who only watches.
      this.keepLinks();
    });
    this.o.driver.poke();
  }

  /** One link per current server; links to servers that left are closed. */
  private keepLinks(): void {
    const current = this.core.serverStates().filter((s) => s.state !== 'replaced').map((s) => s.id);
    for (const id of current) this.o.mesh.ensure(this.o.user, id);
    this.o.mesh.prune(this.o.user, new Set(current));
  }
}
