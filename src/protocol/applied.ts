/**
 * Which (user, actionNo) a replica has applied: servers drop duplicates (resends, a second content
 * for one number) by this. Per user: every number <= floor is applied, plus a set above it. The
 * floor follows contiguous runs and never lags the highest applied number by more than
 * DEDUPE_WINDOW (an action that old is treated as applied), so the set stays small. Every replica
 * updates it identically, and it is part of the hashed ordering state.
 */

/** Action numbers this far below a user's highest applied one count as applied. */
export const DEDUPE_WINDOW = 1024;

export class AppliedSet {
  private readonly byUser = new Map<string, { floor: number; nos: Set<number> }>();

  has(user: string, no: number): boolean {
    const d = this.byUser.get(user);
    return d ? no <= d.floor || d.nos.has(no) : false;
  }

  add(user: string, no: number): void {
    let d = this.byUser.get(user);
    if (!d) this.byUser.set(user, (d = { floor: 0, nos: new Set() }));
    if (no <= d.floor) return;
    d.nos.add(no);
    let max = d.floor;
    for (const n of d.nos) if (n > max) max = n;
    const floor = Math.max(d.floor, max - DEDUPE_WINDOW);
    if (floor > d.floor) d.floor = floor;
    while (d.nos.has(d.floor + 1)) d.floor++;
    for (const n of [...d.nos]) if (n <= d.floor) d.nos.delete(n);
  }

  /** Everything up to `no` counts as applied (hand-over: the admin applied them). */
  setFloor(user: string, no: number): void {
    const d = this.byUser.get(user);
    if (!d) this.byUser.set(user, { floor: no, nos: new Set() });
    else if (no > d.floor) {
      d.floor = no;
      for (const n of [...d.nos]) if (n <= no) d.nos.delete(n);
    }
  }

  clear(): void {
    this.byUser.clear();
  }

  /** Canonical form for the state hash and state transfer: sorted by user, numbers ascending. */
  toList(): Array<[string, number, number[]]> {
    return [...this.byUser.entries()]
      .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
      .map(([user, d]) => [user, d.floor, [...d.nos].sort((a, b) => a - b)]);
  }

  static fromList(list: ReadonlyArray<readonly [string, number, readonly number[]]>): AppliedSet {
    const s = new AppliedSet();
    for (const [user, floor, nos] of list) s.byUser.set(user, { floor, nos: new Set(nos) });
    return s;
  }
}
