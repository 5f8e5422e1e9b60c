/**
 * Median checks: the exact median order of runs without faults (5), and the bound on every
 * median and on the order under lying arrival times and ignored servers (4).
 */
import { appliedSequence, fmt, honestServers, v, type Violation } from './sequence.js';
import { actionId, type ActionKey, type Trace } from './trace.js';

/** Reported arrival times per action: honest servers only, sorted ascending. */
function honestArrivals(trace: Trace): Map<string, number[]> {
  const honest = new Set(honestServers(trace).map((s) => s.id));
  const by = new Map<string, Map<string, number>>();
  for (const a of trace.arrivals) {
    if (!honest.has(a.server)) continue;
    const id = actionId(a);
    let m = by.get(id);
    if (!m) by.set(id, (m = new Map()));
    // a server reports an action once; keep the first report
    if (!m.has(a.server)) m.set(a.server, a.reported);
  }
  const out = new Map<string, number[]>();
  for (const [id, m] of by)
    out.set(
      id,
      [...m.values()].sort((x, y) => x - y),
    );
  return out;
}

/**
 * (5) With no faults, actions are applied in order of their median (N_majority-th earliest)
 * reported arrival time, ties by (user, actionNo).
 */
export function checkMedianOrder(trace: Trace): Violation[] {
  const k = trace.config.nMajority;
  const arrivals = honestArrivals(trace);
  const applied = appliedSequence(trace);
  const out: Violation[] = [];
  let prev: { id: string; median: number; user: string; actionNo: number } | undefined;
  for (const a of applied) {
    const id = actionId(a);
    const times = arrivals.get(id) ?? [];
    const median = times[k - 1];
    if (median === undefined) {
      out.push(
        v(
          'median-order',
          `action ${id} was applied with only ${times.length} reported arrivals (< N_majority ${k})`,
        ),
      );
      prev = undefined;
      continue;
    }
    const cur = { id, median, user: a.user, actionNo: a.actionNo };
    if (prev && compareMedian(prev, cur) > 0) {
      out.push(
        v(
          'median-order',
          `action ${prev.id} (median ${fmt(prev.median)}) was applied before ${id} (median ${fmt(median)})`,
        ),
      );
    }
    prev = cur;
  }
  return out;
}

function compareMedian(
  a: { median: number; user: string; actionNo: number },
  b: { median: number; user: string; actionNo: number },
): number {
  if (a.median !== b.median) return a.median - b.median;
  if (a.user !== b.user) return a.user < b.user ? -1 : 1;
  return a.actionNo - b.actionNo;
}

/**
 * (4) Median bound under lying arrival times and ignored servers. An action's median is the
 * N_majority-th earliest of its counted reports: at most f from cheaters, the rest a subset of the
 * honest reports that contains every report certain to count. So it lies in [lo, hi] with
 * lo = h(k − f), the (k − f)-th earliest of all honest reports (each server's earliest), and
 * hi = c(k), the k-th earliest of the reports certain to count: those of an initial honest server
 * in a Timeslot up to the cut of its first stint (all of them if never cut). Reports of later
 * stints and replacements depend on admission points the trace does not know, so they only
 * widen the bound. Without cheaters and ignores lo = hi: the median is exact. +∞ where fewer
 * reports exist. So if action B's bound lies wholly before action A's, B must be applied first.
 */
export function medianBounds(trace: Trace): Map<string, { lo: number; hi: number }> {
  const k = trace.config.nMajority;
  const f = trace.servers.filter((s) => !s.honest).length;
  const initial = new Set(
    honestServers(trace)
      .filter((s) => s.joinedAt === 0)
      .map((s) => s.id),
  );
  const firstCut = new Map<string, { epoch: number; cut: number }>();
  for (const e of trace.events) {
    if (e.kind !== 'ignored' || e.node === undefined || e.cutSeq === undefined) continue;
    const had = firstCut.get(e.node);
    const epoch = e.epoch ?? Infinity;
    if (!had || epoch < had.epoch) firstCut.set(e.node, { epoch, cut: e.cutSeq });
  }
  const honest = new Set(honestServers(trace).map((s) => s.id));
  // action -> server -> its reports (a server normally reports an action once)
  const reports = new Map<string, Map<string, Array<{ at: number; certain: boolean }>>>();
  for (const a of trace.arrivals) {
    if (!honest.has(a.server)) continue;
    const id = actionId(a);
    let m = reports.get(id);
    if (!m) reports.set(id, (m = new Map()));
    const cut = firstCut.get(a.server)?.cut;
    const certain = initial.has(a.server) && (cut === undefined || a.tsSeq <= cut);
    m.set(a.server, [...(m.get(a.server) ?? []), { at: a.reported, certain }]);
  }
  const out = new Map<string, { lo: number; hi: number }>();
  for (const [id, m] of reports) {
    const earliest: number[] = [];
    const certain: number[] = [];
    for (const rs of m.values()) {
      earliest.push(Math.min(...rs.map((r) => r.at)));
      // which of several reports of one server counts is unknown: only all-certain ones are sure
      if (rs.every((r) => r.certain)) certain.push(Math.max(...rs.map((r) => r.at)));
    }
    earliest.sort((x, y) => x - y);
    certain.sort((x, y) => x - y);
    out.set(id, { lo: earliest[Math.max(0, k - f - 1)] ?? Infinity, hi: certain[k - 1] ?? Infinity });
  }
  return out;
}

export function checkMedianBound(trace: Trace): Violation[] {
  const bounds = medianBounds(trace);
  const applied = appliedSequence(trace);
  const out: Violation[] = [];
  // Each honest server's own median for an action it computed lies within the bound.
  for (const s of honestServers(trace)) {
    for (const u of s.updates) {
      if (u.adopted) continue; // state transfer carries no medians
      for (const a of u.applied) {
        const b = bounds.get(actionId(a)) ?? { lo: Infinity, hi: Infinity };
        if (a.median === undefined || !Number.isFinite(a.median)) {
          out.push(
            v(
              'median-bound',
              `server ${s.id} applied ${actionId(a)} at seq ${u.seq} with median ${a.median}`,
            ),
          );
        } else if (!(a.median >= b.lo && a.median <= b.hi)) {
          out.push(
            v(
              'median-bound',
              `server ${s.id} ordered ${actionId(a)} by median ${fmt(a.median)} outside [${fmt(b.lo)}, ${fmt(b.hi)}]`,
            ),
          );
        }
      }
    }
  }
  // For each applied action A, no later action B may have hi_B < lo_A.
  // Scan from the end keeping the minimum hi of the suffix.
  let suffixMin = Infinity;
  let suffixId = '';
  for (let i = applied.length - 1; i >= 0; i--) {
    const a = applied[i] as ActionKey;
    const id = actionId(a);
    const b = bounds.get(id);
    if (!b) continue;
    if (suffixMin < b.lo) {
      out.push(
        v(
          'median-bound',
          `action ${id} (median ≥ ${fmt(b.lo)}) was applied before ${suffixId} (median ≤ ${fmt(suffixMin)})`,
        ),
      );
    }
    if (b.hi < suffixMin) {
      suffixMin = b.hi;
      suffixId = id;
    }
  }
  return out;
}
