/**
 * A finished run's trace (trace.ts) from what the recorder saw, the site and the fault windows:
 * which servers count as stable, which actions the run's conditions oblige the protocol to apply
 * (`mustApply`), and the evictions the admin made without an event.
 */
import { ADMIN_ID, type SiteConfig } from '../src/protocol/index.js';
import { nMajorityOf, type ScenarioOptions } from './options.js';
import type { TraceRecorder } from './recorder.js';
import type { Site } from './siteSetup.js';
import type { FaultWindows, Timeline } from './timeline.js';
import { actionId, type Trace, type TraceServer, type TraceUser } from './trace.js';

export interface TraceInput {
  o: ScenarioOptions;
  config: SiteConfig;
  site: Site;
  recorder: TraceRecorder;
  timeline: Timeline;
  windows: FaultWindows;
  /** True time the run stopped. */
  stoppedAt: number;
  hostileInput: boolean;
}

export interface BuiltTrace {
  trace: Trace;
  /** Neither loss, crashes, partitions nor cheaters. */
  faultFree: boolean;
  /** Servers some node ignored (an agreed cut), sorted. */
  ignored: string[];
}

export function buildTrace(input: TraceInput): BuiltTrace {
  const { o, config, site, recorder, timeline, windows, stoppedAt } = input;
  const { events } = recorder;
  const faults = {
    loss: o.loss > 0,
    crashes: o.crashes.length > 0,
    partitions: o.partitions.length > 0,
    cheaters: o.cheats.length > 0,
    hostileInput: input.hostileInput,
  };
  const faultFree = !faults.loss && !faults.crashes && !faults.partitions && !faults.cheaters;
  const ignoredNodes = new Set(
    events.filter((e) => e.kind === 'ignored' && e.node).map((e) => e.node as string),
  );
  for (const id of site.admin.core.activeServers()) if (site.spareIds.includes(id)) site.used.add(id);
  const servers = traceServers(input, faultFree, ignoredNodes);
  const stable = new Set(servers.filter((s) => s.stable).map((s) => s.id));
  const nMaj = nMajorityOf(o.servers);
  const users: TraceUser[] = site.users.map((u) => {
    const list = recorder.sent.get(u.id) ?? [];
    for (const s of list) {
      const d = recorder.delivered.get(actionId(s));
      const times = d ? [...d.entries()] : [];
      s.deliveredTo = times.map(([server]) => server);
      const stableTimes = times
        .filter(([server]) => stable.has(server))
        .map(([, t]) => t)
        .sort((a, b) => a - b);
      const majorityAt = stableTimes[nMaj - 1];
      if (majorityAt !== undefined) s.majorityAt = majorityAt;
      s.mustApply = majorityAt !== undefined && majorityAt <= timeline.end - timeline.settle;
    }
    return {
      id: u.id,
      cutOff: windows.cutOffNodes.get(u.id) ?? [],
      sent: list,
      accepted: recorder.accepted.get(u.id) ?? [],
    };
  });
  for (const id of site.admin.core.evicted()) {
    if (!events.some((e) => e.kind === 'evicted' && e.node === id))
      events.push({ at: stoppedAt, kind: 'evicted', node: id, by: ADMIN_ID });
  }
  const trace: Trace = {
    config: {
      nServer: config.N_server,
      nMajority: config.N_majority,
      tTimeslot: config.T_timeslot,
      tTimeout: config.T_timeout,
      tReqTimeout: config.T_req_timeout,
      tIgnore: config.T_ignore,
    },
    end: stoppedAt,
    startSeq: 0,
    faults,
    spread: { linkSpread: o.linkSpread, jitter: o.jitter, clockOffset: o.clockOffset },
    servers,
    users,
    arrivals: recorder.arrivals,
    events,
    rejections: recorder.rejections,
  };
  return { trace, faultFree, ignored: [...ignoredNodes].sort() };
}

function traceServers(
  input: TraceInput,
  faultFree: boolean,
  ignoredNodes: ReadonlySet<string>,
): TraceServer[] {
  const { site, recorder, timeline, windows, stoppedAt } = input;
  const out: TraceServer[] = [];
  // A spare that was admitted counts from then on even if it never applied an update (its
  // reports may be among the medians; the median bound must see them).
  const reporters = new Set(recorder.arrivals.map((a) => a.server));
  for (const s of [...site.servers, ...site.spares]) {
    const ups = recorder.updates.get(s.id) ?? [];
    const isSpare = site.spareIds.includes(s.id);
    if (isSpare && ups.length === 0 && !reporters.has(s.id)) continue;
    const crashed = windows.crashWindows.get(s.id) ?? [];
    const cheats = site.cheats.get(s.id);
    out.push({
      id: s.id,
      honest: cheats === undefined,
      cheats: cheats ?? [],
      joinedAt: isSpare ? (ups[0]?.at ?? timeline.end) : 0,
      crashed: crashed.map(([a, b]) => [a, Math.min(b, stoppedAt)]),
      // Without faults an ignored server is the protocol's mistake, not a reason to expect less.
      stable:
        !isSpare &&
        cheats === undefined &&
        crashed.length === 0 &&
        !windows.cutOffNodes.has(s.id) &&
        (faultFree || !ignoredNodes.has(s.id)),
      updates: ups,
    });
  }
  return out;
}
