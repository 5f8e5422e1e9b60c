/**
 * Link-failure reports against the servers of one P2P site. A site's users alone cannot evict a
 * server (two of them could otherwise remove any honest server and hope their own tabs replace
 * it): an eviction needs, besides `enough` credible reporters, evidence they cannot make up: the
 * site's other servers could not reach it either (N_majority - 1 of them report it), or the
 * admin's own probe finds it silent (no stats over its WebSocket lately). A peer that cannot
 * reach most servers is more likely the one with the bad link: its reports do not count. Reports
 * are weighed a moment after they come (a peer's reports about several servers arrive one by
 * one), and one such eviction at a time per site.
 */

import { SERVER_STATS_EVERY_MS } from '../../src/protocol/messages.js';

/**
 * The admin's own probe of a server: it answers while its last serverStats is at most this old.
 * Three periods: a busy tab's timer may run a period late, and one late report is no silence.
 */
export const STATS_FRESH_MS = 3 * SERVER_STATS_EVERY_MS;

/** Whether a server whose last stats came at `at` (null: none since it started serving) still answers at `now`. */
export function statsFresh(at: number | null, now: number): boolean {
  return at === null || now - at <= STATS_FRESH_MS;
}

/** Link-failure reports are weighed this long after the first of a burst. */
export const REPORTS_SETTLE_MS = 1000;

export type ReporterRole = 'server' | 'user';

export class UnreachableReports {
  /** server -> reporter -> the role it reported in. */
  private readonly by = new Map<string, Map<string, ReporterRole>>();
  private lastEvict = -Infinity;
  private enough = 2;
  /** When to weigh the reports (null: none waiting). */
  weighAt: number | null = null;

  constructor(private readonly o: { nMajority: number; evictEveryMs: number }) {}

  /** `reporter` could not reach server `id`; `enough` credible reporters (and corroboration) evict it. */
  add(id: string, reporter: string, enough: number, now: number, role: ReporterRole = 'user'): void {
    let m = this.by.get(id);
    if (!m) this.by.set(id, (m = new Map()));
    // Bounded by the site's peers: the caller takes reports only from its users and servers.
    m.set(reporter, m.get(reporter) === 'server' ? 'server' : role);
    this.weighAt ??= now + REPORTS_SETTLE_MS;
    this.enough = enough;
  }

  /** Forgets a peer that left the site (its reports, and reports about it). */
  forget(peer: string): void {
    this.by.delete(peer);
    for (const m of this.by.values()) m.delete(peer);
  }

  /** What the reports say, for the log. */
  summary(): Record<string, string[]> {
    return Object.fromEntries([...this.by].map(([id, m]) => [id, [...m].map(([r, role]) => `${r} (${role})`)]));
  }

  /**
   * The server to evict now and who could not reach it, if any (`serving`: still a server;
   * `answers`: the admin's own probe hears from it). Reports not enough yet are kept.
   */
  weigh(now: number, serving: (id: string) => boolean, answers: (id: string) => boolean = () => false): { id: string; by: string[] } | null {
    this.weighAt = null;
    const reportsOf = (r: string): number => [...this.by.values()].filter((m) => m.has(r)).length;
    for (const [id, m] of this.by) {
      if (!serving(id)) continue;
      const credible = [...m.keys()].filter((r) => reportsOf(r) < this.o.nMajority);
      if (credible.length < this.enough) continue;
      const servers = credible.filter((r) => m.get(r) === 'server').length;
      if (servers < Math.max(1, this.o.nMajority - 1) && answers(id)) continue;
      if (now < this.lastEvict + this.o.evictEveryMs) return null;
      this.lastEvict = now;
      this.by.delete(id);
      return { id, by: credible };
    }
    return null;
  }
}
