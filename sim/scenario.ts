/**
 * One simulated run: builds the admin, N_server Site Servers, spare peers and users on a simulated
 * network from ScenarioOptions (siteSetup.ts), hands the site over to the servers, lets the users
 * act, applies the crashes, partitions and cheats (timeline.ts), runs to completion in virtual
 * time while recording (recorder.ts), and returns the trace (traceBuild.ts), the report
 * (summary.ts) and the world (for targeted tests that want to look inside).
 */
import type { PeerMessage, SiteConfig } from '../src/protocol/index.js';
import { peerCodec } from './core.js';
import { EventQueue } from './eventQueue.js';
import type { Codec, Network } from './network.js';
import type { AdminNode, ServerNode, UserNode, World } from './nodes.js';
import { DEFAULTS, eq14, validateOptions, type ScenarioOptions } from './options.js';
import { TraceRecorder, type WireRecord } from './recorder.js';
import type { RunReport } from './report.js';
import { createRng } from './rng.js';
import { buildSite, siteConfigFor } from './siteSetup.js';
import { buildReport, checkRun } from './summary.js';
import { planTimeline, runToEnd, scheduleTimeline } from './timeline.js';
import { buildTrace } from './traceBuild.js';
import type { Trace, TraceEvent, TraceRejection } from './trace.js';

export { SITE, siteConfigFor } from './siteSetup.js';
export type { WireRecord } from './recorder.js';

export interface Hook {
  /** True ms from actStart. */
  at: number;
  run: (run: Run) => void;
}

export interface RunOptions extends Partial<ScenarioOptions> {
  hooks?: Hook[];
  /** Skip the property checks (the report's violations stay empty). */
  noChecks?: boolean;
  /** Cap on simulator events (guards against a runaway core). */
  maxEvents?: number;
  /**
   * Stop once every sent action is accepted (default: true unless a server equivocates, whose
   * eviction the checks wait for).
   */
  earlyStop?: boolean;
  /** Keep every message sent in `run.wire` (for targeted tests). */
  recordWire?: boolean;
  /** Hooks inject malformed or hostile messages: rejections are expected, not a violation. */
  hostileInput?: boolean;
  /** The wire codec (default: the protocol's); tests pass doubles. */
  codec?: Codec<PeerMessage>;
}

export interface Run {
  options: ScenarioOptions;
  config: SiteConfig;
  world: World;
  queue: EventQueue;
  net: Network<PeerMessage>;
  admin: AdminNode;
  servers: ServerNode[];
  spares: ServerNode[];
  users: UserNode[];
  /** True time users start acting. */
  actStart: number;
  /** True time the run ends at the latest (it stops earlier once everything settled). */
  end: number;
  events: TraceEvent[];
  rejections: TraceRejection[];
  /** Messages sent, when `recordWire` was set. */
  wire: WireRecord[];
}

export interface RunResult {
  run: Run;
  trace: Trace;
  report: RunReport;
}

export function runScenario(input: RunOptions = {}): RunResult {
  const wallStart = performance.now();
  const {
    hooks = [],
    noChecks = false,
    maxEvents = 5_000_000,
    earlyStop,
    recordWire = false,
    hostileInput = false,
    codec = peerCodec,
    ...partial
  } = input;
  const o: ScenarioOptions = { ...DEFAULTS, cheats: [], crashes: [], partitions: [], ...partial };
  validateOptions(o);
  const config = siteConfigFor(o);
  const rng = createRng(o.seed);
  const queue = new EventQueue();
  const recorder = new TraceRecorder(queue, recordWire);
  const site = buildSite(o, config, rng, queue, codec, recorder);
  const timeline = planTimeline(o, config);
  const windows = scheduleTimeline(o, site, timeline, rng);

  const run: Run = {
    options: o,
    config,
    world: site.world,
    queue,
    net: site.net,
    admin: site.admin,
    servers: site.servers,
    spares: site.spares,
    users: site.users,
    actStart: timeline.actStart,
    end: timeline.end,
    events: recorder.events,
    rejections: recorder.rejections,
    wire: recorder.wire,
  };
  for (const h of hooks) queue.schedule(timeline.actStart + h.at, () => h.run(run));

  const stopEarly = earlyStop ?? !o.cheats.some((c) => c.kind === 'equivocate');
  const stoppedAt = runToEnd(queue, timeline, config.T_timeslot, recorder.unaccepted, stopEarly, maxEvents);

  const built = buildTrace({ o, config, site, recorder, timeline, windows, stoppedAt, hostileInput });
  const { trace, faultFree } = built;
  const violations = noChecks ? [] : checkRun(o, config, trace, faultFree);
  const report = buildReport({
    o,
    trace,
    violations,
    bytes: site.net.statsByKind(),
    simEvents: queue.count,
    wallMs: performance.now() - wallStart,
    eq: faultFree ? eq14(o) : undefined,
    ignored: built.ignored,
  });
  return { run, trace, report };
}
