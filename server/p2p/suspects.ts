/**
 * The admin's record of suspect Site Servers, for the operator page and for choosing servers:
 * what users reported (a claim, with their evidence) and what the admin found itself (a server
 * in the minority of its own tally of update hashes or state hashes: a verdict). A server with a
 * verdict is replaced and its player not chosen again (peers.ts `bar`). Bounded: at most
 * MAX_SUSPECTS servers (the oldest without a verdict go first), each with at most MAX_REPORTERS
 * reporters and MAX_ENTRIES pieces of evidence (the first parting is always kept).
 */
import type { Evidence } from '../../src/protocol/messages.js';
import type { PeerRegistry } from './peers.js';

export const MAX_SUSPECTS = 256;
export const MAX_REPORTERS = 50;
export const MAX_ENTRIES = 8;

/** One flag: who saw it (`admin` for the admin's own tally), where, and why. */
export interface SuspectEntry {
  at: number;
  by: string;
  seq: number;
  /** A FlagKind (src/protocol/tally.ts), or 'state' for a state the majority's hashes contradict. */
  kind: string;
  evidence: Evidence | null;
}

export interface Suspect {
  site: string;
  server: string;
  /** The player whose tab served, when known. */
  user: string | null;
  /** Set once the admin's own tally put it in the minority: when, and about what. */
  verdict: { at: number; what: string } | null;
  /** Distinct users that reported it. */
  reporters: string[];
  /** Lowest seq where its copy parted from the majority, as far as anyone reported. */
  firstSeq: number | null;
  entries: SuspectEntry[];
  lastAt: number;
}

export class SuspectBook {
  private readonly byServer = new Map<string, Suspect>();

  /** A flag about `server` (a user's report, or the admin's own finding with `by` = admin). */
  flag(site: string, server: string, user: string | null, e: SuspectEntry): Suspect {
    const s = this.entry(site, server, user, e.at);
    if (e.by !== 'admin' && !s.reporters.includes(e.by) && s.reporters.length < MAX_REPORTERS) s.reporters.push(e.by);
    if (e.evidence && (s.firstSeq === null || e.seq < s.firstSeq)) s.firstSeq = e.seq;
    s.entries.push(e);
    if (s.entries.length > MAX_ENTRIES) {
      // Keep the entry of the first parting; drop the oldest other one.
      const first = s.entries.findIndex((x) => x.evidence !== null && x.seq === s.firstSeq);
      s.entries.splice(first === 0 ? 1 : 0, 1);
    }
    return s;
  }

  /** The admin found `server` in the minority itself: a verdict. */
  convict(site: string, server: string, user: string | null, what: string, at: number): Suspect {
    const s = this.entry(site, server, user, at);
    s.verdict ??= { at, what };
    return s;
  }

  get(server: string): Suspect | undefined {
    return this.byServer.get(server);
  }

  /** Convicted first, then the most recent. */
  list(): Suspect[] {
    return [...this.byServer.values()].sort((a, b) => Number(b.verdict !== null) - Number(a.verdict !== null) || b.lastAt - a.lastAt);
  }

  private entry(site: string, server: string, user: string | null, at: number): Suspect {
    let s = this.byServer.get(server);
    if (!s) {
      if (this.byServer.size >= MAX_SUSPECTS) this.dropOne();
      s = { site, server, user, verdict: null, reporters: [], firstSeq: null, entries: [], lastAt: at };
      this.byServer.set(server, s);
    }
    s.user ??= user;
    s.lastAt = at;
    return s;
  }

  /** Room for one more: the least recent suspect without a verdict, else the least recent. */
  private dropOne(): void {
    let drop: Suspect | null = null;
    for (const s of this.byServer.values()) {
      const better = drop === null || (s.verdict === null && drop.verdict !== null) || ((s.verdict === null) === (drop.verdict === null) && s.lastAt < drop.lastAt);
      if (better) drop = s;
    }
    if (drop) this.byServer.delete(drop.server);
  }
}

/**
 * The admin's response to a verdict (its own tally put `server` in the minority): recorded, its
 * player barred from serving (peers.ts), and the server replaced (`evict`, run after the current
 * call returns: the verdict comes from inside the coordinator).
 */
export function convict(
  d: { suspects: SuspectBook; registry: PeerRegistry; now: number; evict: (server: string, why: string) => void },
  site: string,
  server: string,
  what: string,
): { user: string | null; times: number | null } {
  const p = d.registry.byServerId(server);
  if (p) {
    p.minority++;
    d.registry.bar(p.user, 'caught in the minority');
  }
  d.suspects.convict(site, server, p?.user ?? null, what, d.now);
  queueMicrotask(() => d.evict(server, `in the minority: ${what}`));
  return { user: p?.user ?? null, times: p?.minority ?? null };
}
