/**
 * A finished run judged and counted: the property checks its faults call for (liveness bounds
 * only while the faults stay within what the protocol tolerates; exact median order only without
 * faults), and the numbers of its report (report.ts).
 */
import type { SiteConfig } from '../src/protocol/index.js';
import { livenessBound, stallBound } from './bounds.js';
import type { KindStats } from './network.js';
import { nMajorityOf, type ScenarioOptions } from './options.js';
import { appliedSequence, canonicalSequence, checkAll, type Violation } from './properties.js';
import type { RunReport } from './report.js';
import { mean, percentile, max } from './stats.js';
import { actionId, type Trace } from './trace.js';

/** The violations of a run's trace, with the checks its options call for. */
export function checkRun(
  o: ScenarioOptions,
  config: SiteConfig,
  trace: Trace,
  faultFree: boolean,
): Violation[] {
  const tolerable =
    o.cheats.reduce((n, c) => n + c.count, 0) +
      o.crashes.reduce((n, c) => n + (c.count ?? 1), 0) +
      new Set(o.partitions.flatMap((p) => p.side.filter((x) => x.startsWith('s')))).size <=
    o.servers - nMajorityOf(o.servers);
  return checkAll(trace, {
    ...(tolerable ? { livenessBound: livenessBound(o, config), stallBound: stallBound(o, config) } : {}),
    medianOrder: faultFree,
  });
}

export interface ReportInput {
  o: ScenarioOptions;
  trace: Trace;
  violations: Violation[];
  /** The network's traffic by message kind. */
  bytes: Record<string, KindStats>;
  /** Simulator events processed. */
  simEvents: number;
  wallMs: number;
  /** Paper eq. (14) for the run, when it had no faults. */
  eq: number | undefined;
  ignored: string[];
}

export function buildReport(input: ReportInput): RunReport {
  const { o, trace } = input;
  const applied = appliedSequence(trace);
  const counts = new Map<string, number>();
  for (const a of applied) counts.set(actionId(a), (counts.get(actionId(a)) ?? 0) + 1);
  let sentN = 0;
  let lost = 0;
  let lostMust = 0;
  const delays: number[] = [];
  for (const u of trace.users) {
    const acceptedAt = new Map<number, number>();
    for (const up of u.accepted)
      for (const a of up.applied)
        if (a.user === u.id && !acceptedAt.has(a.actionNo)) acceptedAt.set(a.actionNo, up.at);
    for (const s of u.sent) {
      sentN++;
      if (!counts.has(actionId(s))) {
        lost++;
        if (s.mustApply) lostMust++;
      }
      const at = acceptedAt.get(s.actionNo);
      if (at !== undefined) delays.push(at - s.at);
    }
  }
  const count = (k: string) => trace.events.filter((e) => e.kind === k);
  const evCounts: Record<string, number> = {};
  for (const e of [...trace.events].sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0)))
    evCounts[e.kind] = (evCounts[e.kind] ?? 0) + 1;
  const rej: Record<string, number> = {};
  for (const r of trace.rejections) rej[r.code] = (rej[r.code] ?? 0) + 1;
  const report: RunReport = {
    seed: o.seed,
    servers: o.servers,
    users: o.users,
    simulatedMs: trace.end,
    actions: {
      sent: sentN,
      applied: counts.size,
      lost,
      lostMustApply: lostMust,
      doubled: [...counts.values()].filter((n) => n > 1).length,
    },
    delay: {
      count: delays.length,
      mean: mean(delays),
      p50: percentile(delays, 50),
      p99: percentile(delays, 99),
      max: delays.length ? max(delays) : NaN,
    },
    ignored: input.ignored,
    replaced: [...new Set(count('membership-admit').map((e) => e.node ?? '?'))],
    evicted: [...new Set(count('evicted').map((e) => e.node ?? '?'))].sort(),
    crashed: [...new Set(trace.servers.filter((s) => s.crashed.length > 0).map((s) => s.id))].sort(),
    divergences: canonicalSequence(trace).violations.length,
    accepted: trace.users.reduce((n, u) => n + u.accepted.length, 0),
    rejections: rej,
    bytes: input.bytes,
    events: evCounts,
    violations: input.violations,
    simEvents: input.simEvents,
    wallMs: input.wallMs,
  };
  if (input.eq !== undefined) report.eq14 = input.eq;
  return report;
}
