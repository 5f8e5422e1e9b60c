/**
 * Servers of one P2P site whose player walked into it (docs/hosting.md, "a player whose tab serves
 * the site it walks into"): they are never enlisted again by a record sent late, and one that was
 * serving hands its copy to its replacement (the replacement's `stateFrom`, and the two may signal
 * each other a while). One picked but not yet told to serve holds no copy: its replacement takes
 * the state from the majority as after any eviction (sim/FINDINGS.md 24). A site whose slotted
 * servers all walked in has none left to decide their cuts: it is found lost (FINDINGS 32).
 */

/** A walked-in server and its replacement may signal each other this long (the tab's HAND_OFF_MS and slack). */
export const HAND_OFF_WINDOW_MS = 20_000;

export class WalkIns {
  /** Server id -> when its player walked in, and whether it was serving then (it holds a copy). */
  private readonly walked = new Map<string, { at: number; copy: boolean }>();

  add(id: string, at: number, copy: boolean): void {
    this.walked.set(id, { at, copy });
  }

  /** Its player walked in: never enlisted again here. */
  has(id: string): boolean {
    return this.walked.has(id);
  }

  /** Its player walked in while it served: its copy goes to its replacement. */
  handsOff(id: string): boolean {
    return this.walked.get(id)?.copy ?? false;
  }

  /**
   * `a` and `b` are a walked-in server with a copy and a server of `servers` (its replacement),
   * during the hand-off. Past it the server is still remembered (`has`): it stays out of the site
   * and, while a record still slots it, does not count as one of its servers (site.ts).
   */
  handingOff(a: string, b: string, servers: readonly string[], now: number): boolean {
    for (const [id, w] of this.walked) {
      if (now - w.at <= HAND_OFF_WINDOW_MS && w.copy && ((a === id && servers.includes(b)) || (b === id && servers.includes(a)))) return true;
    }
    return false;
  }
}
