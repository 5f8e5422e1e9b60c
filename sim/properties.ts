/**
 * Property checks over a finished run's trace (trace.ts). Each returns the violations it found;
 * an empty list means the property held. They know nothing of the protocol's internals, only what
 * the paper and docs/protocol.md promise.
 */
import { actionId, type ActionKey, type Trace, type TraceServer, type TraceUpdate } from './trace.js';

export interface Violation {
  property: string;
  message: string;
}

const v = (property: string, message: string): Violation => ({ property, message });

/** seq → update content hash as the honest servers applied it; conflicts among honest servers are violations. */
export function canonicalSequence(trace: Trace): {
  bySeq: Map<number, TraceUpdate>;
  violations: Violation[];
} {
  const bySeq = new Map<number, TraceUpdate>();
  const owner = new Map<number, string>();
  const violations: Violation[] = [];
  for (const s of honestServers(trace)) {
    for (const u of s.updates) {
      const seen = bySeq.get(u.seq);
      if (!seen) {
        bySeq.set(u.seq, u);
        owner.set(u.seq, s.id);
      } else if (seen.hash === u.hash) {
        // prefer a computed record (it lists the applied actions) over one adopted by state transfer
        if (seen.adopted && !u.adopted) {
          bySeq.set(u.seq, u);
          owner.set(u.seq, s.id);
        }
      } else {
        violations.push(
          v(
            'safety',
            `honest servers ${owner.get(u.seq)} and ${s.id} applied different updates at seq ${u.seq}`,
          ),
        );
      }
    }
  }
  return { bySeq, violations };
}

export function honestServers(trace: Trace): TraceServer[] {
  return trace.servers.filter((s) => s.honest);
}

/**
 * (1) Safety: the update sequences of honest servers agree seq by seq and each is gap-free (a
 * prefix of the common sequence from where it joined); every user's accepted updates are
 * consecutive and equal to the honest servers' updates at the same seq.
 */
export function checkSafety(trace: Trace): Violation[] {
  const { bySeq, violations } = canonicalSequence(trace);
  for (const s of honestServers(trace)) checkConsecutive(s.updates, `server ${s.id}`, violations);
  for (const u of trace.users) {
    checkConsecutive(u.accepted, `user ${u.id}`, violations);
    for (const a of u.accepted) {
      const c = bySeq.get(a.seq);
      if (!c)
        violations.push(v('safety', `user ${u.id} accepted seq ${a.seq}, which no honest server applied`));
      else if (c.hash !== a.hash)
        violations.push(v('safety', `user ${u.id} accepted a different update at seq ${a.seq}`));
    }
  }
  return violations;
}

function checkConsecutive(updates: readonly TraceUpdate[], who: string, out: Violation[]): void {
  for (let i = 1; i < updates.length; i++) {
    const prev = updates[i - 1] as TraceUpdate;
    const cur = updates[i] as TraceUpdate;
    if (cur.adopted && cur.seq > prev.seq) continue; // state transfer may skip ahead
    if (cur.seq !== prev.seq + 1) out.push(v('safety', `${who} went from seq ${prev.seq} to seq ${cur.seq}`));
  }
}

/** The common applied sequence: actions of the canonical updates in seq order. */
export function appliedSequence(trace: Trace): Array<ActionKey & { seq: number; at: number }> {
  const { bySeq } = canonicalSequence(trace);
  const out: Array<ActionKey & { seq: number; at: number }> = [];
  for (const seq of [...bySeq.keys()].sort((a, b) => a - b)) {
    const u = bySeq.get(seq) as TraceUpdate;
    for (const a of u.applied) out.push({ user: a.user, actionNo: a.actionNo, seq, at: u.at });
  }
  return out;
}

/**
 * (2) Exactly once: no action appears twice in the common sequence, no action appears that its
 * user never sent (invented), and every action flagged mustApply appears.
 */
export function checkExactlyOnce(trace: Trace): Violation[] {
  const out: Violation[] = [];
  const sent = new Set<string>();
  for (const u of trace.users) for (const s of u.sent) sent.add(actionId(s));
  const count = new Map<string, number>();
  for (const a of appliedSequence(trace)) {
    const id = actionId(a);
    count.set(id, (count.get(id) ?? 0) + 1);
    if (!sent.has(id)) out.push(v('exactly-once', `action ${id} was applied but its user never sent it`));
  }
  for (const [id, n] of count) if (n > 1) out.push(v('exactly-once', `action ${id} was applied ${n} times`));
  for (const u of trace.users) {
    for (const s of u.sent) {
      if (s.mustApply && !count.has(actionId(s))) {
        out.push(v('exactly-once', `action ${actionId(s)} sent at ${fmt(s.at)} ms was never applied`));
      }
    }
  }
  return out;
}

/** Per-action delay: from sending to the sender accepting the update holding it (undefined if never). */
export function actionDelays(
  trace: Trace,
): Array<{ id: string; sentAt: number; delay: number | undefined; mustApply: boolean }> {
  const out: Array<{ id: string; sentAt: number; delay: number | undefined; mustApply: boolean }> = [];
  for (const u of trace.users) {
    const acceptedAt = new Map<number, number>();
    for (const up of u.accepted) {
      for (const a of up.applied)
        if (a.user === u.id && !acceptedAt.has(a.actionNo)) acceptedAt.set(a.actionNo, up.at);
    }
    for (const s of u.sent) {
      const at = acceptedAt.get(s.actionNo);
      out.push({
        id: actionId(s),
        sentAt: s.at,
        delay: at === undefined ? undefined : at - s.at,
        mustApply: s.mustApply,
      });
    }
  }
  return out;
}

/**
 * (3) Liveness: every mustApply action is accepted by its sender within `bound` ms of reaching
 * N_majority stable servers (of being sent, when that time is unknown), unless a partition cut the
 * sender off between sending and that deadline (it must still catch up for its later actions).
 * With up to N_server − N_majority servers down, the scenario passes
 * bound = normal delay + T_timeout + T_req_timeout + slack.
 */
export function checkLiveness(trace: Trace, bound: number): Violation[] {
  const out: Violation[] = [];
  for (const u of trace.users) {
    const acceptedAt = new Map<number, number>();
    for (const up of u.accepted) {
      for (const a of up.applied)
        if (a.user === u.id && !acceptedAt.has(a.actionNo)) acceptedAt.set(a.actionNo, up.at);
    }
    for (const s of u.sent) {
      if (!s.mustApply) continue;
      const from = s.majorityAt ?? s.at;
      // a user cut off meanwhile cannot hear the update: judge only actions clear of its cuts
      if (u.cutOff.some(([a, b]) => a < from + bound && b > s.at)) continue;
      const at = acceptedAt.get(s.actionNo);
      if (at === undefined) {
        out.push(
          v('liveness', `action ${actionId(s)} sent at ${fmt(s.at)} ms was never accepted by its sender`),
        );
      } else if (at - from > bound) {
        out.push(
          v(
            'liveness',
            `action ${actionId(s)} took ${fmt(at - from)} ms from reaching a majority to acceptance (bound ${fmt(bound)} ms)`,
          ),
        );
      }
    }
  }
  return out;
}

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
 * (4) Median bound under lying arrival times: with f ≤ N_majority − 1 cheaters, the median an
 * action is ordered by lies in [h(k−f), h(k)], where h(i) is the i-th earliest arrival reported by
 * an honest server and k = N_majority (h(k) = +∞ when fewer than k honest reports exist). So if
 * action B's bound lies wholly before action A's, B must be applied before A.
 */
export function medianBounds(trace: Trace): Map<string, { lo: number; hi: number }> {
  const k = trace.config.nMajority;
  const f = trace.servers.filter((s) => !s.honest).length;
  const out = new Map<string, { lo: number; hi: number }>();
  for (const [id, times] of honestArrivals(trace)) {
    const lo = times[Math.max(0, k - f - 1)] ?? Infinity;
    const hi = times[k - 1] ?? Infinity;
    out.set(id, { lo, hi });
  }
  return out;
}

export function checkMedianBound(trace: Trace): Violation[] {
  const bounds = medianBounds(trace);
  const applied = appliedSequence(trace);
  const out: Violation[] = [];
  // The upper bound assumes every honest report counted; an ignored server's late reports may not.
  const exactUpper = !trace.events.some((e) => e.kind === 'ignored');
  // Each honest server's own median for an action lies within the bound.
  for (const s of honestServers(trace)) {
    for (const u of s.updates) {
      for (const a of u.applied) {
        if (a.median === undefined) continue;
        const b = bounds.get(actionId(a));
        if (!b) continue;
        if (a.median < b.lo || (exactUpper && a.median > b.hi)) {
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
  if (!exactUpper) return out;
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

/** (4) No user accepted an update that differs from what the honest servers applied. */
export function checkNoTamperedAccepted(trace: Trace): Violation[] {
  const { bySeq } = canonicalSequence(trace);
  const out: Violation[] = [];
  for (const u of trace.users) {
    for (const a of u.accepted) {
      const c = bySeq.get(a.seq);
      if (c && c.hash !== a.hash)
        out.push(v('tamper', `user ${u.id} accepted a tampered update at seq ${a.seq}`));
    }
  }
  return out;
}

/** (4) Every equivocating server was evicted with proof by the end of the run. */
export function checkEquivocatorsCaught(trace: Trace): Violation[] {
  const out: Violation[] = [];
  for (const s of trace.servers) {
    if (!s.cheats.includes('equivocate')) continue;
    const caught = trace.events.some((e) => e.kind === 'evicted' && e.node === s.id);
    if (!caught) out.push(v('equivocation', `equivocating server ${s.id} was never evicted`));
  }
  return out;
}

/** The longest time honest servers went without applying an update while a mustApply action was waiting. */
export function longestStall(trace: Trace): number {
  const applied = appliedSequence(trace);
  const appliedAt = new Map<string, number>();
  for (const a of applied) if (!appliedAt.has(actionId(a))) appliedAt.set(actionId(a), a.at);
  let worst = 0;
  for (const u of trace.users) {
    for (const s of u.sent) {
      if (!s.mustApply) continue;
      const at = appliedAt.get(actionId(s)) ?? trace.end;
      worst = Math.max(worst, at - s.at);
    }
  }
  return worst;
}

/**
 * (7) Rejections: no core ever swallowed an exception of its own (`ERR_INTERNAL`), and in a run
 * without cheaters, loss or hostile input nothing at all was rejected: honest parties on a network
 * that loses nothing send nothing another honest party must refuse (a crash, a partition or spread
 * only delay or drop whole stretches of messages). Exempt: the two races of honest messages the
 * core still rejects, recognized by the scenario (`race`; sim/races.ts, FINDINGS 13-14).
 */
export function checkRejections(trace: Trace): Violation[] {
  const out: Violation[] = [];
  const f = trace.faults;
  const anyExpected = f.cheaters || f.loss || f.hostileInput;
  for (const r of trace.rejections) {
    if (r.code === 'ERR_INTERNAL')
      out.push(v('rejections', `${r.node} swallowed an exception at ${fmt(r.at)} ms: ${r.reason}`));
    else if (!anyExpected && r.race === undefined)
      out.push(
        v('rejections', `${r.node} rejected a message from ${r.from} at ${fmt(r.at)} ms: ${r.reason}`),
      );
  }
  return out;
}

export interface CheckOptions {
  /** Liveness bound (ms); undefined skips the liveness check. */
  livenessBound?: number;
  /** Check exact median order (only meaningful without faults). */
  medianOrder?: boolean;
}

/** Runs every check that applies to the trace's conditions. */
export function checkAll(trace: Trace, opts: CheckOptions = {}): Violation[] {
  const out = [
    ...checkSafety(trace),
    ...checkExactlyOnce(trace),
    ...checkNoTamperedAccepted(trace),
    ...checkRejections(trace),
  ];
  if (opts.livenessBound !== undefined) out.push(...checkLiveness(trace, opts.livenessBound));
  if (opts.medianOrder) out.push(...checkMedianOrder(trace));
  if (trace.faults.cheaters) {
    out.push(...checkMedianBound(trace), ...checkEquivocatorsCaught(trace));
  }
  return out;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 100) / 100) : String(x);
}
