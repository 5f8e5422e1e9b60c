/**
 * Servers of one P2P site whose player walked into it (docs/hosting.md, "a player whose tab serves
 * the site it walks into"): they are never enlisted again by a record sent late, and one that was
 * serving hands its copy to its replacement (the replacement's `stateFrom`, and the two may signal
 * each other a while). One picked but not yet told to serve holds no copy: its replacement takes
 * the state from the majority as after any eviction (sim/FINDINGS.md 24). A site whose slotted
 * servers all walked in has none left to decide their cuts: it is found lost (FINDINGS 32).
 */

import type { Member, Stint } from '../../src/protocol/messages.js';

/** The latest stint of server `id` in a record's `members`, if it is there. */
export function latestStintOf(members: readonly Member[] | undefined, id: string): Stint | undefined {
  return members?.find((m) => m.id === id)?.stints.at(-1);
}

/** A walked-in server and its replacement may signal each other this long (the tab's HAND_OFF_MS and slack). */
export const HAND_OFF_WINDOW_MS = 20_000;

export class WalkIns {
  /**
   * Server id -> when its player walked in, whether it was serving then (it holds a copy), and the
   * membership epoch then: a stint admitted by a later record is a new pick, once its player left.
   */
  private readonly walked = new Map<string, { at: number; copy: boolean; epoch: number }>();

  add(id: string, at: number, copy: boolean, epoch: number): void {
    this.walked.set(id, { at, copy, epoch });
  }

  /**
   * Its player walked in, and `admit` (the epoch of its latest stint, if it has one) is no later
   * pick: never enlisted again here. A later pick (its player left the site since) forgets it.
   */
  has(id: string, admit?: number): boolean {
    const w = this.walked.get(id);
    if (!w) return false;
    if (admit === undefined || admit <= w.epoch) return true;
    this.walked.delete(id);
    return false;
  }

  /** Its player walked in while it served: its copy goes to its replacement. */
  handsOff(id: string): boolean {
    return this.walked.get(id)?.copy ?? false;
  }

  /**
   * `a` and `b` are a walked-in server with a copy and a server of `servers` (its replacement),
   * during the hand-off. Past it the server is still remembered (`has`): it stays out of the site
   * and, while a record still slots it, does not count as one of its servers (serving.ts).
   */
  handingOff(a: string, b: string, servers: readonly string[], now: number): boolean {
    for (const [id, w] of this.walked) {
      if (now - w.at <= HAND_OFF_WINDOW_MS && w.copy && ((a === id && servers.includes(b)) || (b === id && servers.includes(a)))) return true;
    }
    return false;
  }
}
