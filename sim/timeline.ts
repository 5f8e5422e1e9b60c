/**
 * When things happen in a run, in true ms: [0, warmup) clock sync; at warmup the cores start and
 * the admin hands the site over; actStart = the first update window after warmup
 * (+ T_timeslot / 2): users act for `duration`, then the run settles for `settle`. Crash and
 * partition times in the options count from actStart. Also the loop that runs the queue to the
 * end, stopping early once everything sent was accepted.
 */
import { ZERO_HASH, windowEndAfter, type SiteConfig } from '../src/protocol/index.js';
import { defaultSettle } from './bounds.js';
import type { EventQueue } from './eventQueue.js';
import type { ScenarioOptions } from './options.js';
import type { Rng } from './rng.js';
import { handOverSnapshot, type Site } from './siteSetup.js';

export interface Timeline {
  warmup: number;
  /** The hand-over's first window start. */
  startGrid: number;
  /** True time users start acting. */
  actStart: number;
  actEnd: number;
  settle: number;
  /** True time the run ends at the latest. */
  end: number;
}

/** Each node's [from, to) windows of a fault, true ms. */
export type Windows = Map<string, Array<[number, number]>>;

export interface FaultWindows {
  crashWindows: Windows;
  cutOffNodes: Windows;
}

export function planTimeline(o: ScenarioOptions, config: SiteConfig): Timeline {
  const maxLat = Math.max(o.latencySU, o.latencySS) + o.linkSpread + o.jitter;
  const warmup = 400 + 4 * maxLat;
  const startGrid = windowEndAfter(warmup + config.T_timeslot, config.T_timeslot);
  const actStart = startGrid + config.T_timeslot / 2;
  const settle = o.settle ?? defaultSettle(o, config);
  const actEnd = actStart + o.duration;
  return { warmup, startGrid, actStart, actEnd, settle, end: actEnd + settle };
}

/** Schedules the start and hand-over, the users' acting, the crashes and the partitions. */
export function scheduleTimeline(o: ScenarioOptions, site: Site, t: Timeline, rng: Rng): FaultWindows {
  const { world, servers, spares, users, userIds, admin } = site;
  const queue = world.queue;
  queue.schedule(t.warmup, () => {
    for (const s of [...servers, ...spares]) s.start();
    for (const u of users) u.start(0, ZERO_HASH);
    const snapshot = handOverSnapshot(userIds);
    admin.host.poke((c) =>
      c.handOver({ snapshot, seq: 0, prev: ZERO_HASH, start: t.startGrid, lastActionNo: [] }),
    );
  });
  for (const u of users) u.actBetween(t.actStart, t.actEnd);
  return { crashWindows: scheduleCrashes(o, site, t, rng), cutOffNodes: schedulePartitions(o, site, t) };
}

function scheduleCrashes(o: ScenarioOptions, site: Site, t: Timeline, rng: Rng): Windows {
  const crashWindows: Windows = new Map();
  const crashRng = rng.fork('crash');
  for (const c of o.crashes) {
    let targets: string[];
    if (c.server !== undefined) targets = [c.server];
    else {
      const pool = crashRng.shuffle(
        site.serverIds.filter((id) => !site.cheats.has(id) && !crashWindows.has(id)),
      );
      targets = pool.slice(0, c.count ?? 1);
    }
    for (const id of targets) {
      const node = site.servers.find((s) => s.id === id);
      if (!node) throw new Error(`crash target ${id} is no server`);
      const from = t.actStart + c.at;
      const to = c.until !== undefined ? t.actStart + c.until : Infinity;
      const list = crashWindows.get(id) ?? [];
      list.push([from, to]);
      crashWindows.set(id, list);
      site.world.queue.schedule(from, () => node.crash());
      if (Number.isFinite(to)) site.world.queue.schedule(to, () => node.resume());
    }
  }
  return crashWindows;
}

function schedulePartitions(o: ScenarioOptions, site: Site, t: Timeline): Windows {
  const cutOffNodes: Windows = new Map();
  for (const p of o.partitions) {
    site.net.addPartition({ side: p.side, start: t.actStart + p.start, end: t.actStart + p.end });
    for (const n of p.side)
      cutOffNodes.set(n, [...(cutOffNodes.get(n) ?? []), [t.actStart + p.start, t.actStart + p.end]]);
  }
  return cutOffNodes;
}

/**
 * Runs the action phase, then settles: stops early once every sent action has been accepted by
 * its sender and two more windows have passed (nothing is left to check), else at `end`.
 * Returns the true time it stopped.
 */
export function runToEnd(
  queue: EventQueue,
  t: Timeline,
  tTimeslot: number,
  unaccepted: ReadonlySet<string>,
  stopEarly: boolean,
  maxEvents: number,
): number {
  queue.runUntil(t.actEnd, maxEvents);
  let quietSince = unaccepted.size === 0 ? queue.now : Infinity;
  while (queue.now < t.end) {
    queue.runUntil(Math.min(t.end, queue.now + tTimeslot), maxEvents);
    if (unaccepted.size > 0) quietSince = Infinity;
    else if (quietSince === Infinity) quietSince = queue.now;
    else if (stopEarly && queue.now - quietSince >= 2 * tTimeslot) break;
  }
  return queue.now;
}
