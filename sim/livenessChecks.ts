/**
 * Liveness checks (3): each action accepted by its sender in time, and no stall of the site.
 */
import { appliedSequence, fmt, honestServers, v, type Violation } from './sequence.js';
import { actionId, type Trace } from './trace.js';

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

/** True time each seq was first applied by an honest server (computed, else adopted). */
function progressTimes(trace: Trace): Map<number, number> {
  const computed = new Map<number, number>();
  const adopted = new Map<number, number>();
  for (const s of honestServers(trace)) {
    for (const u of s.updates) {
      if (u.seq <= trace.startSeq) continue; // adopting the hand-over state is no progress
      const m = u.adopted ? adopted : computed;
      m.set(u.seq, Math.min(m.get(u.seq) ?? Infinity, u.at));
    }
  }
  for (const [seq, at] of adopted) if (!computed.has(seq)) computed.set(seq, at);
  return computed;
}

export interface Stall {
  /** How long no honest server applied an update while `action` waited (ms). */
  ms: number;
  from: number;
  to: number;
  /** An action that had reached N_majority stable servers and waited all that time. */
  action: string;
}

/**
 * The longest stretch during which no honest server applied any update although a mustApply
 * action had reached N_majority stable servers and was not applied yet (until the end of the run
 * when it never was). Undefined when no action had to be applied.
 */
export function longestStall(trace: Trace): Stall | undefined {
  const progress = progressTimes(trace);
  const times = [...new Set(progress.values())].sort((a, b) => a - b);
  const appliedAt = new Map<string, number>();
  for (const a of appliedSequence(trace)) {
    const at = progress.get(a.seq) ?? a.at;
    const id = actionId(a);
    appliedAt.set(id, Math.min(appliedAt.get(id) ?? Infinity, at));
  }
  let worst: Stall | undefined;
  for (const u of trace.users) {
    for (const s of u.sent) {
      if (!s.mustApply) continue;
      const from = s.majorityAt ?? s.at;
      const to = Math.max(from, appliedAt.get(actionId(s)) ?? trace.end);
      let last = from;
      const gaps: Array<[number, number]> = [];
      for (const t of times) {
        if (t <= from) continue;
        if (t >= to) break;
        gaps.push([last, t]);
        last = t;
      }
      gaps.push([last, to]);
      for (const [a, b] of gaps)
        if (!worst || b - a > worst.ms) worst = { ms: b - a, from: a, to: b, action: actionId(s) };
    }
  }
  return worst;
}

/**
 * (3) Liveness of the site: with up to N_server − N_majority servers down, no stall (see
 * longestStall) lasts longer than `bound` = T_timeout + T_req_timeout + slack (the scenario's
 * stallBound says which slack and why).
 */
export function checkStall(trace: Trace, bound: number): Violation[] {
  const s = longestStall(trace);
  if (!s || s.ms <= bound) return [];
  return [
    v(
      'liveness',
      `no update for ${fmt(s.ms)} ms (${fmt(s.from)}-${fmt(s.to)}) while ${s.action} waited (bound ${fmt(bound)} ms)`,
    ),
  ];
}
