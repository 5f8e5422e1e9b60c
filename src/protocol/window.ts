/**
 * Which candidate actions a closing window contains, in apply order (docs/protocol.md, section 2).
 * Pure: the caller decides that the window may close (every required server has a stable Timeslot
 * with stamp >= windowEnd) and which reports count.
 */
import { compareByMedianArrival, majorityArrival } from './order.js';

/** One reported arrival of an action by one server. */
export interface Report {
  arrival: number;
  /** Timeslot seq that carried it; 0 = from a transferred state (always counts). */
  tsSeq: number;
}

/**
 * A candidate: one (user, actionNo, content hash) and who reported it when. A server may have
 * reported it more than once (noted again once its first note stopped counting: its stint was cut
 * past it, sim/FINDINGS.md 99): every report is kept, one per Timeslot seq, in seq order, and
 * which one stands for the server is decided when a window closes (`serverArrival`).
 */
export interface Candidate {
  user: string;
  actionNo: number;
  hash: string;
  reports: Map<string, Report[]>;
}

/**
 * The arrival that stands for one server in a closing window: the earliest of its reports that
 * count, or null. Decided at close, from `counted` as it stands then (every replica agrees on it
 * for the arrivals up to the window's end), never when a report is indexed (sim/FINDINGS.md 99).
 */
export function serverArrival(reports: readonly Report[], counted: (r: Report) => boolean): number | null {
  let best: number | null = null;
  for (const r of reports) if ((best === null || r.arrival < best) && counted(r)) best = r.arrival;
  return best;
}

/**
 * The candidates whose N_majority-th earliest counted arrival is at or before `windowEnd`, sorted by
 * compareByMedianArrival (then content hash, so two contents of one number sort the same everywhere).
 */
export function finalCandidates<C extends Candidate>(
  candidates: Iterable<C>,
  windowEnd: number,
  nMajority: number,
  counted: (server: string, r: Report) => boolean,
): Array<{ candidate: C; median: number }> {
  const out: Array<{ candidate: C; median: number }> = [];
  for (const c of candidates) {
    const arrivals: number[] = [];
    for (const [server, rs] of c.reports) {
      const a = serverArrival(rs, (r) => counted(server, r));
      if (a !== null) arrivals.push(a);
    }
    const median = majorityArrival(arrivals, nMajority);
    if (median !== null && median <= windowEnd) out.push({ candidate: c, median });
  }
  out.sort(
    (x, y) =>
      compareByMedianArrival(
        { user: x.candidate.user, actionNo: x.candidate.actionNo, median: x.median },
        { user: y.candidate.user, actionNo: y.candidate.actionNo, median: y.median },
      ) || (x.candidate.hash < y.candidate.hash ? -1 : x.candidate.hash > y.candidate.hash ? 1 : 0),
  );
  return out;
}
