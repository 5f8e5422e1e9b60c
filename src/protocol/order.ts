/**
 * Total order of actions (paper 4.3, protocol.md "Ordering actions by median arrival").
 */

/** What the order needs to know of an action: its identity and its median arrival. */
export interface Ordered {
  user: string;
  actionNo: number;
  /** N_majority-th earliest arrival among the servers that reported it. */
  median: number;
}

/**
 * The one order in which every Site Server applies actions: by median arrival (the
 * N_majority-th earliest arrival time), earliest first.
 *
 * Ties: two actions can have exactly the same median (arrival times are clock readings of
 * limited resolution, and two actions can share the arrival reading of one server). A tie is
 * broken by the user name (code-unit order, not locale order, so every replica agrees), then by
 * the action number. Both are part of the action's identity, so the order is total over distinct
 * actions; it gives no user an advantage that they could not also get from a 1-ms earlier send.
 */
export function compareByMedianArrival(a: Ordered, b: Ordered): number {
  if (a.median !== b.median) return a.median < b.median ? -1 : 1;
  if (a.user !== b.user) return a.user < b.user ? -1 : 1;
  return a.actionNo - b.actionNo;
}

/**
 * The N_majority-th earliest of `arrivals` (the median when every server reported), or null when
 * fewer than `nMajority` arrivals exist.
 */
export function majorityArrival(arrivals: readonly number[], nMajority: number): number | null {
  if (arrivals.length < nMajority || nMajority < 1) return null;
  const sorted = [...arrivals].sort((x, y) => x - y);
  return sorted[nMajority - 1] ?? null;
}

/** Index of the update window a time falls in: windows are (k*T, (k+1)*T], numbered by their end k+1. */
export function windowEndAfter(t: number, width: number): number {
  const k = Math.ceil(t / width);
  return k * width;
}
