/**
 * What every property check starts from: the violation type, the honest servers, and the common
 * sequence of updates and actions the honest servers applied.
 */
import { type ActionKey, type Trace, type TraceServer, type TraceUpdate } from './trace.js';

export interface Violation {
  property: string;
  message: string;
}

export const v = (property: string, message: string): Violation => ({ property, message });

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

export function fmt(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 100) / 100) : String(x);
}
