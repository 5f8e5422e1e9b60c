/**
 * The admin's count of servers that cannot close a window for want of a cut's Timeslots
 * (`cutWait`): once N_majority servers active now say so lately about the cut in force, no update
 * past their states can get the hashes a user needs, and the site may be found lost on a read
 * (`SiteCoordinator.cutUnheld`, the lost rule in server/p2p/site.ts; sim/FINDINGS.md 90).
 */
import type { SiteConfig } from './config.js';
import type { Membership, PeerOf } from './messages.js';
import { isActive, latestStint } from './serverContext.js';

export class CutWaits {
  /** Server -> the cut it last said it waits for, and when; one entry a member (bounded by the membership). */
  private readonly latest = new Map<string, { target: string; seq: number; at: number }>();

  constructor(private readonly cfg: SiteConfig) {}

  /** A server's word, kept only from a server active when it comes. */
  note(membership: Membership | null, from: string, msg: PeerOf<'cutWait'>, now: number): void {
    const m = membership?.members.find((x) => x.id === from);
    if (m && isActive(m)) this.latest.set(from, { target: msg.target, seq: msg.seq, at: now });
    // Drop words of servers the membership no longer names (it bounds this map).
    if (membership) for (const id of this.latest.keys()) if (!membership.members.some((x) => x.id === id)) this.latest.delete(id);
  }

  unheld(membership: Membership | null, now: number): boolean {
    if (!membership) return false;
    const by = new Map<string, number>();
    for (const m of membership.members) {
      const w = this.latest.get(m.id);
      // Fresh (repeated every T_req_timeout while it lasts), from a server active now, about a cut in force.
      if (!w || !isActive(m) || now - w.at > 2 * this.cfg.T_req_timeout + this.cfg.T_timeout) continue;
      const t = membership.members.find((x) => x.id === w.target);
      if (!t || latestStint(t).cut?.seq !== w.seq) continue;
      by.set(w.target, (by.get(w.target) ?? 0) + 1);
    }
    return [...by.values()].some((n) => n >= this.cfg.N_majority);
  }
}
