/**
 * What a P2P site comes back to if it loses its majority (servers gone at once, faster than they
 * can be replaced, so no state fetch gets a majority answer): its last good state (the hand-over,
 * then each verified save) and what the admin knows happened since. Users who left since (their
 * states came by majority and are stored) are not on it, and the items they carry are off its
 * map; users who joined since are on it as they came; the others are as in the base. Actions
 * applied since the base are lost. No item is doubled: every item is on the map or in exactly one
 * inventory, as it was at the base or as the majority reported it when its carrier left.
 */
import { withoutCarried } from '../../src/game/rules.js';
import type { UserState } from '../../src/game/types.js';
import type { VerifiedSite } from './types.js';

export class SiteFallback {
  private base: VerifiedSite;
  private readonly joinedSince = new Map<string, UserState>();
  private leftSince: Array<{ user: UserState; seq: number }> = [];

  constructor(handOver: VerifiedSite) {
    this.base = handOver;
  }

  /**
   * The fallback of a site resumed after a restart, from its stored rows. Those rows fold into the
   * base every user the site had, joins not yet applied included, so each counts as joined since:
   * a later save that lacks one (its join still pending) keeps it as stored (sim/FINDINGS.md 49).
   */
  static resumed(stored: VerifiedSite): SiteFallback {
    const f = new SiteFallback(stored);
    for (const u of stored.snapshot.users) f.joined(u);
    return f;
  }

  get baseSeq(): number {
    return this.base.seq;
  }

  /** A user joins (its state as it comes). */
  joined(state: UserState): void {
    this.joinedSince.set(state.name, state);
  }

  /** A departure the majority applied in update `seq`. */
  left(user: UserState, seq: number): void {
    this.leftSince.push({ user, seq });
  }

  /** A verified save is the new base: what happened up to its seq is in it. */
  rebase(v: VerifiedSite): void {
    // Saves may come from servers at different points: an older one than the base adds nothing.
    if (v.seq < this.base.seq) return;
    this.base = v;
    this.leftSince = this.leftSince.filter((l) => l.seq > v.seq);
    const leftAfter = new Set(this.leftSince.map((l) => l.user.name));
    for (const name of [...this.joinedSince.keys()]) {
      // In the save and not gone since: the save has it (a user that left and came back after
      // the save is taken as it came back).
      if (v.snapshot.users.some((u) => u.name === name) && !leftAfter.has(name)) this.joinedSince.delete(name);
    }
  }

  /**
   * A stalled site's last read as the new base (site.ts `lose`), if it keeps every user on the site
   * now: each is in it, or joined since (taken as it came). False, and the base stays, when a user is
   * in neither: it left in an update the admin never got, and an older base keeps it, though it
   * could undo what the majority accepted (the site is then not lost on that read).
   */
  rebaseKeeping(v: VerifiedSite, present: Iterable<string>): boolean {
    for (const name of present) if (!this.joinedSince.has(name) && !v.snapshot.users.some((u) => u.name === name)) return false;
    this.rebase(v);
    return true;
  }

  /** The site for the users on it now. */
  state(present: Iterable<string>): VerifiedSite {
    const users: UserState[] = [];
    for (const name of [...present].sort()) {
      const u = this.joinedSince.get(name) ?? this.base.snapshot.users.find((x) => x.name === name);
      if (u) users.push(u);
    }
    const carried = [...users, ...this.leftSince.map((l) => l.user)].flatMap((u) => u.inventory);
    return {
      seq: this.base.seq,
      snapshot: { site: withoutCarried(this.base.snapshot.site, carried), users },
      lastActionNo: new Map(this.base.lastActionNo),
    };
  }

  counts(): { left: number; joined: number } {
    return { left: this.leftSince.length, joined: this.joinedSince.size };
  }
}
