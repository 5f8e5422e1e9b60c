/**
 * One simulated run: builds the admin, N_server Site Servers, spare peers and users on a simulated
 * network from ScenarioOptions, hands the site over to the servers, lets the users act, applies
 * the crashes, partitions and cheats, runs to completion in virtual time, and returns the trace,
 * the report and the world (for targeted tests that want to look inside).
 *
 * Timeline (true ms): [0, W) clock sync; W: cores start and the admin hands the site over;
 * actStart = first update window after W (+ T_timeslot / 2): users act for `duration`, then the
 * run settles for `settle`. Crash and partition times in the options count from actStart.
 */
import { createSite, newUser } from '../src/game/rules.js';
import { applyAll } from '../src/game/rules.js';
import {
  ADMIN_ID,
  ZERO_HASH,
  insecureFastScheme,
  makeSiteConfig,
  secretKeyFrom,
  windowEndAfter,
  DEFAULT_SITE_CONFIG,
  type CoreEvent,
  type PeerMessage,
  type SiteConfig,
} from '../src/protocol/index.js';
import { CollusionGroup, createCheater } from './cheaters.js';
import { peerCodec } from './core.js';
import { EventQueue } from './eventQueue.js';
import { Network, type Codec } from './network.js';
import { AdminNode, ServerNode, UserNode, type World } from './nodes.js';
import {
  DEFAULTS,
  eq14,
  nMajorityOf,
  validateOptions,
  type CheatKind,
  type ScenarioOptions,
} from './options.js';
import { appliedSequence, canonicalSequence, checkAll, type Violation } from './properties.js';
import { deterministicPart, type RunReport } from './report.js';
import { defaultSettle, livenessBound, stallBound } from './bounds.js';
import { createRng } from './rng.js';
import { mean, percentile, max } from './stats.js';
import {
  actionId,
  type Trace,
  type TraceEvent,
  type TraceRejection,
  type TraceSent,
  type TraceServer,
  type TraceUpdate,
  type TraceUser,
} from './trace.js';

export const SITE = 'meadow';

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

export interface WireRecord {
  at: number;
  from: string;
  to: string;
  msg: PeerMessage;
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

/** The site configuration a run uses (core defaults unless the options set T_*). */
export function siteConfigFor(o: ScenarioOptions): SiteConfig {
  const tTimeout = o.tTimeout ?? Math.max(DEFAULT_SITE_CONFIG.T_timeout, 3 * o.tTimeslot);
  return makeSiteConfig({
    site: SITE,
    N_server: o.servers,
    T_timeslot: o.tTimeslot,
    T_timeout: tTimeout,
    ...(o.tReqTimeout !== undefined ? { T_req_timeout: o.tReqTimeout } : {}),
    ...(o.tIgnore !== undefined ? { T_ignore: o.tIgnore } : {}),
    ...(o.tResend !== undefined ? { T_resend: o.tResend } : {}),
    ...(o.tContent !== undefined ? { T_content: o.tContent } : {}),
  });
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
  const crypto = insecureFastScheme;

  const serverIds = Array.from({ length: o.servers }, (_, i) => `s${i}`);
  const spareIds = Array.from({ length: o.spares }, (_, i) => `p${i}`);
  const userIds = Array.from({ length: o.users }, (_, i) => `u${i}`);
  const isServer = (id: string): boolean => id.startsWith('s') || id.startsWith('p');

  // ---- trace recording ----
  const events: TraceEvent[] = [];
  const rejections: TraceRejection[] = [];
  const updates = new Map<string, TraceUpdate[]>();
  const accepted = new Map<string, TraceUpdate[]>();
  const sent = new Map<string, TraceSent[]>();
  const sentById = new Map<string, TraceSent>();
  const delivered = new Map<string, Map<string, number>>();
  const arrivalsSeen = new Set<string>();
  const arrivals: Trace['arrivals'] = [];
  /** Sent actions their sender has not accepted yet (for stopping early once all are in). */
  const unaccepted = new Set<string>();
  const wire: WireRecord[] = [];

  const observe = (node: string, ev: CoreEvent): void => {
    const at = queue.now;
    switch (ev.kind) {
      case 'applied': {
        const list = updates.get(node) ?? [];
        list.push({
          seq: ev.seq,
          hash: ev.hash,
          at,
          applied: ev.applied.map((a) => ({ user: a.user, actionNo: a.actionNo, median: a.median })),
        });
        updates.set(node, list);
        return;
      }
      case 'resynced': {
        const list = updates.get(node) ?? [];
        // The adopted update's actions, from the log entry the core has just added for it.
        const entry = serverNode(node)?.core?.appliedLog().at(-1);
        const applied =
          entry?.seq === ev.seq ? entry.applied.map((a) => ({ user: a.user, actionNo: a.actionNo })) : [];
        list.push({ seq: ev.seq, hash: ev.hash, at, applied, adopted: true });
        updates.set(node, list);
        events.push({ at, kind: 'resynced', node, detail: `seq ${ev.seq}` });
        return;
      }
      case 'accepted':
        return; // recorded through onAccept
      case 'rejected':
        rejections.push({
          at,
          node,
          from: ev.from,
          code: ev.code,
          reason: `${ev.code} ${ev.msgType}: ${ev.reason}`,
        });
        return;
      case 'ignored':
        events.push({
          at,
          kind: 'ignored',
          node: ev.server,
          by: node,
          detail: `cut ${ev.cutSeq} epoch ${ev.epoch}`,
          cutSeq: ev.cutSeq,
          epoch: ev.epoch,
        });
        return;
      case 'admitted':
        events.push({ at, kind: 'admitted', node: ev.server, by: node, detail: `epoch ${ev.epoch}` });
        return;
      case 'equivocation':
        events.push({ at, kind: 'equivocation', node: ev.server, by: node, detail: `seq ${ev.seq}` });
        return;
      case 'membership':
        if (node === ADMIN_ID) {
          const kind = ev.change === 'evict' ? 'evicted' : `membership-${ev.change}`;
          events.push({
            at,
            kind,
            by: node,
            detail: `epoch ${ev.epoch}`,
            ...(ev.target !== null ? { node: ev.target } : {}),
          });
        }
        return;
      case 'membershipRequest':
        events.push({ at, kind: `request-${ev.request}`, node: ev.target, by: node });
        return;
      case 'flagged':
        events.push({ at, kind: 'flagged', node: ev.server, by: node, detail: ev.reason });
        return;
      case 'resync':
        events.push({ at, kind: 'resync', node, detail: ev.reason });
        return;
    }
  };

  // ---- network ----
  // Each directed link keeps its own extra latency for the whole run (drawn from a fork per link,
  // so the draw does not depend on which link is used first).
  const linkRng = rng.fork('links');
  const linkExtra = new Map<string, number>();
  const extraOf = (from: string, to: string): number => {
    if (!(o.linkSpread > 0)) return 0;
    const k = `${from}>${to}`;
    let x = linkExtra.get(k);
    if (x === undefined) linkExtra.set(k, (x = linkRng.fork(k).range(0, o.linkSpread)));
    return x;
  };
  const linkParams = (from: string, to: string) => {
    const ss = isServer(from) && isServer(to);
    const latency = (ss ? o.latencySS : o.latencySU) + extraOf(from, to);
    return { latency, jitter: o.jitter, loss: o.loss };
  };
  const net = new Network<PeerMessage>({
    queue,
    rng: rng.fork('net'),
    codec,
    defaults: { latency: o.latencySU, jitter: o.jitter, loss: o.loss },
    linkParams,
    observe: (ev) => {
      const m = ev.msg;
      if (recordWire) wire.push({ at: ev.at, from: ev.from, to: ev.to, msg: m });
      if (m.type !== 'timeslot' || m.server !== ev.from) return;
      const key = `${m.server}#${m.seq}`;
      if (arrivalsSeen.has(key)) return;
      arrivalsSeen.add(key);
      for (const [user, actionNo, arrival] of m.entries)
        arrivals.push({ server: m.server, user, actionNo, reported: arrival, tsSeq: m.seq });
    },
  });
  net.attach('void', () => {});

  const adminSecret = secretKeyFrom(rng.fork('key:admin').next);
  const world: World = { queue, net, config, crypto, adminKey: crypto.publicKeyOf(adminSecret) };

  // ---- nodes ----
  const offsetRng = rng.fork('clock');
  const onActionDelivered = (server: string, msg: PeerMessage & { type: 'action' }): void => {
    const id = `${msg.user}#${msg.actionNo}`;
    let m = delivered.get(id);
    if (!m) delivered.set(id, (m = new Map()));
    if (!m.has(server)) m.set(server, queue.now);
  };
  const makeServer = (id: string): ServerNode => {
    const secretKey = secretKeyFrom(rng.fork(`key:${id}`).next);
    return new ServerNode(world, {
      id,
      secretKey,
      publicKey: crypto.publicKeyOf(secretKey),
      clockOffset: o.clockOffset > 0 ? offsetRng.range(-o.clockOffset, o.clockOffset) : 0,
      observe,
      onActionDelivered,
      onUndecodable: (node, from, reason) =>
        rejections.push({
          at: queue.now,
          node,
          from,
          code: /^ERR_[A-Z_]+/.exec(reason)?.[0] ?? 'ERR_MALFORMED',
          reason: `${reason} (undecodable)`,
        }),
    });
  };
  const servers = serverIds.map(makeServer);
  const spares = spareIds.map(makeServer);
  const serverNode = (id: string): ServerNode | undefined => [...servers, ...spares].find((s) => s.id === id);
  const used = new Set<string>();
  const admin = new AdminNode(world, {
    secretKey: adminSecret,
    servers: servers.map((s) => ({ id: s.id, key: s.opts.publicKey })),
    spares: () =>
      spares.filter((s) => !used.has(s.id) && !s.crashed).map((s) => ({ id: s.id, key: s.opts.publicKey })),
    users: () => userIds,
    rng: rng.fork('admin'),
    observe,
  });
  const users = userIds.map(
    (id) =>
      new UserNode(world, {
        id,
        servers: serverIds,
        rate: o.rate,
        rng: rng.fork(`bot:${id}`),
        clockOffset: o.clockOffset > 0 ? offsetRng.range(-o.clockOffset, o.clockOffset) : 0,
        onSent: (user, actionNo, action) => {
          unaccepted.add(`${user}#${actionNo}`);
          const s: TraceSent = {
            user,
            actionNo,
            at: queue.now,
            kind: action.kind,
            deliveredTo: [],
            mustApply: false,
          };
          const list = sent.get(user) ?? [];
          list.push(s);
          sent.set(user, list);
          sentById.set(actionId(s), s);
        },
        onAccept: (user, u) => {
          const list = accepted.get(user) ?? [];
          list.push({
            seq: u.seq,
            hash: u.hash,
            at: queue.now,
            applied: u.applied.map((a) => ({ user: a.user, actionNo: a.actionNo })),
          });
          accepted.set(user, list);
          for (const a of u.applied) {
            const k = `${a.user}#${a.actionNo}`;
            if (a.user === user && unaccepted.delete(k)) void 0;
          }
        },
        observe,
      }),
  );

  // ---- cheaters ----
  const cheatRng = rng.fork('cheat');
  const order = cheatRng.shuffle(serverIds);
  const cheats = new Map<string, CheatKind[]>();
  let group: CollusionGroup | undefined;
  let next = 0;
  for (const spec of o.cheats) {
    for (let i = 0; i < spec.count; i++) {
      const id = order[next++] as string;
      cheats.set(id, [spec.kind]);
      const node = servers.find((s) => s.id === id) as ServerNode;
      if (spec.kind === 'collude') {
        group ??= new CollusionGroup(cheatRng.fork('group'), userIds);
        group.members.push(id);
      }
      node.cheater = createCheater(
        [spec.kind],
        {
          id,
          secretKey: node.opts.secretKey,
          crypto,
          config,
          queue,
          rng: cheatRng.fork(`cheater:${id}`),
          membership: () => node.core?.membership() ?? null,
          peers: () => serverIds.filter((s) => s !== id),
          users: () => userIds,
          now: node.clock.now,
        },
        {
          ...(spec.delta !== undefined ? { delta: spec.delta } : {}),
          ...(spec.kind === 'collude' && group ? { group } : {}),
        },
      );
    }
  }

  // ---- timeline ----
  const maxLat = Math.max(o.latencySU, o.latencySS) + o.linkSpread + o.jitter;
  const warmup = 400 + 4 * maxLat;
  const startGrid = windowEndAfter(warmup + config.T_timeslot, config.T_timeslot);
  const actStart = startGrid + config.T_timeslot / 2;
  const settle = o.settle ?? defaultSettle(o, config);
  const end = actStart + o.duration + settle;

  queue.schedule(warmup, () => {
    for (const s of [...servers, ...spares]) s.start();
    for (const u of users) u.start(0, ZERO_HASH);
    let snapshot = createSite(SITE);
    snapshot = applyAll(
      snapshot,
      userIds.map((u) => ({ actor: u, action: { kind: 'join' as const, user: newUser(u, SITE) } })),
    ).snapshot;
    admin.host.poke((c) =>
      c.handOver({ snapshot, seq: 0, prev: ZERO_HASH, start: startGrid, lastActionNo: [] }),
    );
  });
  for (const u of users) u.actBetween(actStart, actStart + o.duration);

  // crashes (times from actStart)
  const crashWindows = new Map<string, Array<[number, number]>>();
  const crashRng = rng.fork('crash');
  for (const c of o.crashes) {
    let targets: string[];
    if (c.server !== undefined) targets = [c.server];
    else {
      const pool = crashRng.shuffle(serverIds.filter((id) => !cheats.has(id) && !crashWindows.has(id)));
      targets = pool.slice(0, c.count ?? 1);
    }
    for (const id of targets) {
      const node = servers.find((s) => s.id === id) as ServerNode;
      const from = actStart + c.at;
      const to = c.until !== undefined ? actStart + c.until : Infinity;
      const list = crashWindows.get(id) ?? [];
      list.push([from, to]);
      crashWindows.set(id, list);
      queue.schedule(from, () => node.crash());
      if (Number.isFinite(to)) queue.schedule(to, () => node.resume());
    }
  }
  const cutOffNodes = new Map<string, Array<[number, number]>>();
  for (const p of o.partitions) {
    net.addPartition({ side: p.side, start: actStart + p.start, end: actStart + p.end });
    for (const n of p.side)
      cutOffNodes.set(n, [...(cutOffNodes.get(n) ?? []), [actStart + p.start, actStart + p.end]]);
  }

  const run: Run = {
    options: o,
    config,
    world,
    queue,
    net,
    admin,
    servers,
    spares,
    users,
    actStart,
    end,
    events,
    rejections,
    wire,
  };
  for (const h of hooks) queue.schedule(actStart + h.at, () => h.run(run));

  // Run the action phase, then settle: stop early once every sent action has been accepted by its
  // sender and two more windows have passed (nothing is left to check), else at `end`.
  const actEnd = actStart + o.duration;
  const stopEarly = earlyStop ?? !o.cheats.some((c) => c.kind === 'equivocate');
  queue.runUntil(actEnd, maxEvents);
  let quietSince = unaccepted.size === 0 ? queue.now : Infinity;
  while (queue.now < end) {
    queue.runUntil(Math.min(end, queue.now + config.T_timeslot), maxEvents);
    if (unaccepted.size > 0) quietSince = Infinity;
    else if (quietSince === Infinity) quietSince = queue.now;
    else if (stopEarly && queue.now - quietSince >= 2 * config.T_timeslot) break;
  }
  const stoppedAt = queue.now;

  // ---- trace ----
  const faults = {
    loss: o.loss > 0,
    crashes: o.crashes.length > 0,
    partitions: o.partitions.length > 0,
    cheaters: o.cheats.length > 0,
    hostileInput,
  };
  const faultFree = !faults.loss && !faults.crashes && !faults.partitions && !faults.cheaters;
  const ignoredNodes = new Set(
    events.filter((e) => e.kind === 'ignored' && e.node).map((e) => e.node as string),
  );
  for (const id of admin.core.activeServers()) if (spareIds.includes(id)) used.add(id);
  const traceServers: TraceServer[] = [];
  // A spare that was admitted counts from then on even if it never applied an update (its
  // reports may be among the medians; the median bound must see them).
  const reporters = new Set(arrivals.map((a) => a.server));
  for (const s of [...servers, ...spares]) {
    const ups = updates.get(s.id) ?? [];
    const isSpare = spareIds.includes(s.id);
    if (isSpare && ups.length === 0 && !reporters.has(s.id)) continue;
    const crashed = crashWindows.get(s.id) ?? [];
    traceServers.push({
      id: s.id,
      honest: !cheats.has(s.id),
      cheats: cheats.get(s.id) ?? [],
      joinedAt: isSpare ? (ups[0]?.at ?? end) : 0,
      crashed: crashed.map(([a, b]) => [a, Math.min(b, stoppedAt)]),
      // Without faults an ignored server is the protocol's mistake, not a reason to expect less.
      stable:
        !isSpare &&
        !cheats.has(s.id) &&
        crashed.length === 0 &&
        !cutOffNodes.has(s.id) &&
        (faultFree || !ignoredNodes.has(s.id)),
      updates: ups,
    });
  }
  const stable = new Set(traceServers.filter((s) => s.stable).map((s) => s.id));
  const nMaj = nMajorityOf(o.servers);
  const traceUsers: TraceUser[] = users.map((u) => {
    const list = sent.get(u.id) ?? [];
    for (const s of list) {
      const d = delivered.get(actionId(s));
      const times = d ? [...d.entries()] : [];
      s.deliveredTo = times.map(([server]) => server);
      const stableTimes = times
        .filter(([server]) => stable.has(server))
        .map(([, t]) => t)
        .sort((a, b) => a - b);
      const majorityAt = stableTimes[nMaj - 1];
      if (majorityAt !== undefined) s.majorityAt = majorityAt;
      s.mustApply = majorityAt !== undefined && majorityAt <= end - settle;
    }
    return { id: u.id, cutOff: cutOffNodes.get(u.id) ?? [], sent: list, accepted: accepted.get(u.id) ?? [] };
  });
  for (const id of admin.core.evicted()) {
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
    servers: traceServers,
    users: traceUsers,
    arrivals,
    events,
    rejections,
  };

  // ---- report ----
  const tolerable =
    o.cheats.reduce((n, c) => n + c.count, 0) +
      o.crashes.reduce((n, c) => n + (c.count ?? 1), 0) +
      new Set(o.partitions.flatMap((p) => p.side.filter((x) => x.startsWith('s')))).size <=
    o.servers - nMaj;
  const violations: Violation[] = noChecks
    ? []
    : checkAll(trace, {
        ...(tolerable ? { livenessBound: livenessBound(o, config), stallBound: stallBound(o, config) } : {}),
        medianOrder: faultFree,
      });
  const report = buildReport(
    run,
    trace,
    violations,
    performance.now() - wallStart,
    faultFree ? eq14(o) : undefined,
    [...ignoredNodes].sort(),
  );
  void deterministicPart;
  return { run, trace, report };
}

function buildReport(
  run: Run,
  trace: Trace,
  violations: Violation[],
  wallMs: number,
  eq: number | undefined,
  ignored: string[],
): RunReport {
  const o = run.options;
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
  const count = (k: string) => run.events.filter((e) => e.kind === k);
  const evCounts: Record<string, number> = {};
  for (const e of [...run.events].sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0)))
    evCounts[e.kind] = (evCounts[e.kind] ?? 0) + 1;
  const rej: Record<string, number> = {};
  for (const r of run.rejections) rej[r.code] = (rej[r.code] ?? 0) + 1;
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
    ignored,
    replaced: [...new Set(count('membership-admit').map((e) => e.node ?? '?'))],
    evicted: [...new Set(count('evicted').map((e) => e.node ?? '?'))].sort(),
    crashed: [...new Set(trace.servers.filter((s) => s.crashed.length > 0).map((s) => s.id))].sort(),
    divergences: canonicalSequence(trace).violations.length,
    accepted: trace.users.reduce((n, u) => n + u.accepted.length, 0),
    rejections: rej,
    bytes: run.net.statsByKind(),
    events: evCounts,
    violations,
    simEvents: run.queue.count,
    wallMs,
  };
  if (eq !== undefined) report.eq14 = eq;
  return report;
}
