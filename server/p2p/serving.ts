/**
 * Which peers serve one P2P site at the admin (site.ts owns the rest of the site): a server is
 * enlisted when the first record slotting it goes out to it (its `serve` before its first peer
 * message), claimed as soon as the coordinator slots it (no other site picks it meanwhile), and told
 * to stop once it holds no slot. Servers whose player walked in (walkIns.ts) are never enlisted
 * again by a record sent late, and count as gone for the lost rule, as ignored ones do.
 */
import type { Member, Membership, PeerMessage } from '../../src/protocol/messages.js';
import { latestStintOf, WalkIns } from './walkIns.js';

/** What the serving set needs from the admin (part of the site's deps, site.ts). */
export interface ServingDeps {
  /** The admin's clock on the peers' synced timeline. */
  now: () => number;
  /** Tells a chosen peer to serve this site; false when it is gone. */
  /** `stateFrom`: the replacement takes the state from that server first (its player walked in). */
  startServing(serverId: string, stateFrom?: string): boolean;
  /** A peer the coordinator just slotted is this site's now, before its `serve` goes out (no other site picks it). */
  claim?(serverId: string): void;
  /** `handOff`: the server keeps answering state requests a while (its player walked in). */
  stopServing(serverId: string, reason: string, handOff?: boolean): void;
  /** Whether a server's tab is connected to the admin (a lost site has fewer than N_majority). */
  connected(serverId: string): boolean;
}

/** The site's coordinator as far as the serving set reads it: its latest record and slotted servers. */
export interface ServedSite {
  membership(): Membership | null;
  /** Server ids holding a slot, in slot order. */
  activeServers(): string[];
}

export class SiteServing {
  /** Servers told to serve (their `serve` went out) and not told to stop since. */
  private readonly serving = new Set<string>();
  /** Servers whose player walked in (walkIns.ts). */
  private readonly walkedIn = new WalkIns();

  constructor(
    private readonly d: ServingDeps,
    private readonly site: ServedSite,
  ) {}

  has(id: string): boolean {
    return this.serving.has(id);
  }

  /** After a restart: a server of the site is back and serves on. */
  back(id: string): void {
    this.serving.add(id);
  }

  /** Its player walked in and no record since picked it again (`members`: the record at hand, else the latest). */
  walked(id: string, members: readonly Member[] | undefined = this.site.membership()?.members): boolean {
    return this.walkedIn.has(id, latestStintOf(members, id)?.admit);
  }

  /** Counts toward the lost rule's majority: connected, not walked in (FINDINGS 32), not ignored (40). */
  counts(id: string): boolean {
    return this.d.connected(id) && !this.walked(id) && this.mayOrder(id);
  }

  /** Slotted servers that may still order (`mayOrder`): fewer than N_majority, and no window or record can be decided. */
  orderable(): number {
    return this.site.activeServers().filter((id) => this.mayOrder(id)).length;
  }

  /**
   * May still take part in ordering: its latest stint is not cut. Whatever the admin knows of its
   * tab: one not connected runs on detached and orders with the others over their channels
   * (src/net/connection.ts), and a walked-in one serves until the record that cuts it (FINDINGS 62).
   */
  mayOrder(id: string): boolean {
    return latestStintOf(this.site.membership()?.members, id)?.cut === null;
  }

  /** Server `id`'s player walked in and it was evicted; `copy`: it was serving then (it holds the state). */
  walkedInto(id: string, copy: boolean): void {
    this.walkedIn.add(id, this.d.now(), copy, this.site.membership()?.epoch ?? 0);
  }

  /** Servers `a` and `b` are a walked-in server and its replacement, during the hand-off (signaling). */
  handingOff(a: string, b: string): boolean {
    return this.walkedIn.handingOff(a, b, this.site.activeServers(), this.d.now());
  }

  /**
   * Before `msg` goes to `to`: a record that slots a server not serving yet enlists it. False when
   * the message must not go out (the peer is gone).
   */
  enlist(to: string, msg: PeerMessage): boolean {
    if ((msg.type !== 'siteInit' && msg.type !== 'membership') || this.serving.has(to) || !slotted(msg, to)) return true;
    // A record sent late (deferred, or again) may still slot a server whose player walked in
    // since: it is not enlisted again (it plays there now), and the manager's claim on it is let go.
    if (this.walked(to, msg.type === 'siteInit' ? msg.membership.members : msg.members)) {
      this.d.stopServing(to, 'its player walked in');
      return true;
    }
    const target = msg.type === 'membership' ? msg.change.target : null;
    const from = target !== null && this.walkedIn.handsOff(target) ? target : undefined;
    if (!this.d.startServing(to, from)) return false;
    this.serving.add(to);
    return true;
  }

  /** Slotted servers are taken now: this input may still move one's player here, a walk-in then (FINDINGS 24). */
  claimSlotted(): void {
    for (const id of this.site.activeServers()) if (!this.serving.has(id) && !this.walked(id)) this.d.claim?.(id);
  }

  /** Servers that lost their slot stop serving. */
  sync(): void {
    const slotted = new Set(this.site.activeServers());
    for (const id of [...this.serving]) {
      if (!slotted.has(id)) {
        this.serving.delete(id);
        this.d.stopServing(id, 'left the server set', this.walkedIn.handsOff(id));
      }
    }
  }

  /** The site is the admin's again: every server stops, slotted ones not told yet let their claim go too. */
  stopAll(reason: string): void {
    for (const id of new Set([...this.serving, ...this.site.activeServers()])) this.d.stopServing(id, reason);
    this.serving.clear();
  }
}

function slotted(msg: PeerMessage, id: string): boolean {
  const members = msg.type === 'siteInit' ? msg.membership.members : msg.type === 'membership' ? msg.members : [];
  return members.some((m) => m.id === id && m.slot !== null);
}
