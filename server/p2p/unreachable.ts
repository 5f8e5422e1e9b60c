/**
 * Link-failure reports against the servers of one P2P site. When several peers of the site could
 * not open a channel to a server, it is evicted (the servers' ignore requests decide its cut) and a
 * fresh peer takes its slot. A peer that cannot reach most servers is more likely the one with
 * the bad link: its reports do not count. Reports are weighed a moment after they come (a peer's
 * reports about several servers arrive one by one), and one such eviction at a time per site.
 */

/** Link-failure reports are weighed this long after the first of a burst. */
export const REPORTS_SETTLE_MS = 1000;

export class UnreachableReports {
  private readonly by = new Map<string, Set<string>>();
  private lastEvict = -Infinity;
  private enough = 2;
  /** When to weigh the reports (null: none waiting). */
  weighAt: number | null = null;

  constructor(private readonly o: { nMajority: number; evictEveryMs: number }) {}

  /** `reporter` could not reach server `id`; `enough` credible reporters evict it. */
  add(id: string, reporter: string, enough: number, now: number): void {
    let set = this.by.get(id);
    if (!set) this.by.set(id, (set = new Set()));
    set.add(reporter);
    this.weighAt ??= now + REPORTS_SETTLE_MS;
    this.enough = enough;
  }

  /** What the reports say, for the log. */
  summary(): Record<string, string[]> {
    return Object.fromEntries([...this.by].map(([id, set]) => [id, [...set]]));
  }

  /** The server to evict now and who could not reach it, if any (`serving`: still a server). */
  weigh(now: number, serving: (id: string) => boolean): { id: string; by: string[] } | null {
    this.weighAt = null;
    const reportsOf = (r: string): number => [...this.by.values()].filter((set) => set.has(r)).length;
    for (const [id, set] of this.by) {
      const credible = [...set].filter((r) => reportsOf(r) < this.o.nMajority);
      if (credible.length < this.enough || !serving(id)) continue;
      if (now < this.lastEvict + this.o.evictEveryMs) return null;
      this.lastEvict = now;
      this.by.delete(id);
      return { id, by: credible };
    }
    return null;
  }
}
