/**
 * Property checks over a finished run's trace (trace.ts). Each returns the violations it found;
 * an empty list means the property held. They know nothing of the protocol's internals, only what
 * the paper and docs/protocol.md promise.
 */
import { checkLiveness, checkStall } from './livenessChecks.js';
import { checkMedianBound, checkMedianOrder } from './medianChecks.js';
import { appliedSequence, canonicalSequence, fmt, honestServers, v, type Violation } from './sequence.js';
import { actionId, type Trace, type TraceUpdate } from './trace.js';

export { actionDelays, checkLiveness, checkStall, longestStall, type Stall } from './livenessChecks.js';
export { checkMedianBound, checkMedianOrder, medianBounds } from './medianChecks.js';
export { appliedSequence, canonicalSequence, honestServers, type Violation } from './sequence.js';

/**
 * (1) Safety: the update sequences of honest servers agree seq by seq and each is gap-free (a
 * prefix of the common sequence from where it joined: the hand-over, or an adopted update); every
 * user's accepted updates are consecutive from the hand-over and equal to the honest servers'
 * updates at the same seq.
 */
export function checkSafety(trace: Trace): Violation[] {
  const { bySeq, violations } = canonicalSequence(trace);
  for (const s of honestServers(trace))
    checkConsecutive(s.updates, `server ${s.id}`, trace.startSeq, violations);
  for (const u of trace.users) {
    checkConsecutive(u.accepted, `user ${u.id}`, trace.startSeq, violations);
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

function checkConsecutive(
  updates: readonly TraceUpdate[],
  who: string,
  startSeq: number,
  out: Violation[],
): void {
  const first = updates[0];
  if (first && (first.adopted ? first.seq < startSeq : first.seq !== startSeq + 1))
    out.push(v('safety', `${who} starts at seq ${first.seq} (the hand-over is seq ${startSeq})`));
  for (let i = 1; i < updates.length; i++) {
    const prev = updates[i - 1] as TraceUpdate;
    const cur = updates[i] as TraceUpdate;
    if (cur.adopted && cur.seq > prev.seq) continue; // state transfer may skip ahead
    if (cur.seq !== prev.seq + 1) out.push(v('safety', `${who} went from seq ${prev.seq} to seq ${cur.seq}`));
  }
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

/**
 * (2) Without loss, crashes, partitions or cheaters nobody has a reason to suspect a server: no
 * honest server may be ignored, and every initial honest server must count as stable (the trace's
 * stable flags decide which actions must be applied; an unstable one would excuse losing them).
 */
export function checkNoSuspicion(trace: Trace): Violation[] {
  const f = trace.faults;
  if (f.loss || f.crashes || f.partitions || f.cheaters) return [];
  const out: Violation[] = [];
  for (const e of trace.events) {
    if (e.kind === 'ignored' || e.kind === 'request-ignore')
      out.push(
        v(
          'suspicion',
          `${e.by ?? '?'} ${e.kind} ${e.node ?? '?'} at ${fmt(e.at)} ms in a run without faults`,
        ),
      );
  }
  for (const s of honestServers(trace)) {
    if (s.joinedAt === 0 && !s.stable)
      out.push(
        v(
          'suspicion',
          `server ${s.id} is not stable in a run without faults (fewer actions must be applied)`,
        ),
      );
  }
  return out;
}

/**
 * (7) Rejections: no core ever swallowed an exception of its own (`ERR_INTERNAL`), and in a run
 * without cheaters, loss or hostile input nothing at all was rejected: honest parties on a network
 * that loses nothing send nothing another honest party must refuse (a crash, a partition or spread
 * only delay or drop whole stretches of messages). No exception: the two races in which the core
 * used to reject honest messages (sim/FINDINGS.md 13, 14) are fixed.
 */
export function checkRejections(trace: Trace): Violation[] {
  const out: Violation[] = [];
  const f = trace.faults;
  const anyExpected = f.cheaters || f.loss || f.hostileInput;
  for (const r of trace.rejections) {
    if (r.code === 'ERR_INTERNAL')
      out.push(v('rejections', `${r.node} swallowed an exception at ${fmt(r.at)} ms: ${r.reason}`));
    else if (!anyExpected)
      out.push(
        v('rejections', `${r.node} rejected a message from ${r.from} at ${fmt(r.at)} ms: ${r.reason}`),
      );
  }
  return out;
}

export interface CheckOptions {
  /** Liveness bound (ms); undefined skips the liveness check. */
  livenessBound?: number;
  /** Stall bound (ms); undefined skips the stall check. */
  stallBound?: number;
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
    ...checkNoSuspicion(trace),
    ...checkMedianBound(trace),
    ...checkEquivocatorsCaught(trace),
  ];
  if (opts.livenessBound !== undefined) out.push(...checkLiveness(trace, opts.livenessBound));
  if (opts.stallBound !== undefined) out.push(...checkStall(trace, opts.stallBound));
  if (opts.medianOrder) out.push(...checkMedianOrder(trace));
  return out;
}
