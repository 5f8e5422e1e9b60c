/**
 * One P2P site's real core in one process, no sockets: the yardstick of a Site Server's CPU
 * (issue 16). `npx tsx bench/serve.ts [--servers 3 --users 10 --rate 2 --t 100 --seconds 20
 * --warmup 5 --latency 1 --seed 1 --json]`; `npm run bench` section 5 runs it with the defaults.
 *
 * N_server real Site Servers (createSiteServer), the admin's real coordinator (it hands the site
 * over) and real users (createSiteUser) on one simulated clock (sim/eventQueue.ts, driven by
 * sim/host.ts: time jumps from event to event, nothing sleeps). Every frame is encoded with the
 * peer codec at its sender and decoded at each receiver, as over a data channel (no sharing of
 * a broadcast's bytes or decoded object). Signatures are native Ed25519 and hashes native
 * SHA-256 (src/net/crypto/node.ts), as in a bot. Each user acts `rate` times a second at its own
 * random phase (seeded).
 *
 * CPU: process CPU time (process.cpuUsage, user + system) over a window of simulated time after a
 * warm-up, charged to servers, users or admin call by call: each party's calls (its core's
 * receive / tick / nextWakeAt, the decoding of the frames it receives, the encoding of those it
 * sends) are bracketed by process.cpuUsage, so GC that runs meanwhile counts too. CPU time, not
 * wall time: on a shared machine a call preempted midway is not charged for the wait. The rest
 * (event queue, this harness, the brackets themselves) is the process total minus the three.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { PlayerAction } from '../src/game/types.js';
import {
  ADMIN_ID,
  ZERO_HASH,
  createSiteCoordinator,
  createSiteServer,
  decodePeerMessage,
  encodePeerMessage,
  secretKeyFrom,
  windowEndAfter,
  type PeerMessage,
  type SiteUser,
} from '../src/protocol/index.js';
import { createHandOverUser } from '../src/protocol/testing.js';
import { useNodeCrypto } from '../src/net/crypto/node.js';
import { EventQueue } from '../sim/eventQueue.js';
import { Host, type Tickable } from '../sim/host.js';
import { DEFAULTS } from '../sim/options.js';
import { createRng } from '../sim/rng.js';
import { handOverSnapshot, siteConfigFor } from '../sim/siteSetup.js';

export interface ServeOptions {
  servers: number;
  users: number;
  /** Actions per user per second. */
  rate: number;
  /** T_timeslot, ms. */
  tTimeslot: number;
  /** Simulated seconds measured. */
  seconds: number;
  /** Simulated seconds of acting before the window (JIT warm-up, caches, first rounds). */
  warmup: number;
  /** One-way latency of every link, ms. */
  latency: number;
  seed: number;
  /**
   * Also split the servers' CPU into signing, verifying, encoding, decoding and the rest (nested
   * process.cpuUsage brackets, which add their own cost to the servers' figure: off by default).
   */
  split: boolean;
}

export const SERVE_DEFAULTS: ServeOptions = {
  servers: 3,
  users: 10,
  rate: 2,
  tTimeslot: 100,
  seconds: 20,
  warmup: 5,
  latency: 1,
  seed: 1,
  split: false,
};

type Role = 'server' | 'user' | 'admin';
type Part = 'sign' | 'verify' | 'encode' | 'decode';

interface Traffic {
  frames: number;
  bytes: number;
}

export interface ServeResult {
  options: ServeOptions;
  /** Process CPU (user + system) over the window, ms. */
  cpuMs: number;
  /** Wall time of the window, ms. */
  wallMs: number;
  /** CPU ms inside each party's calls over the window. */
  insideMs: Record<Role, number>;
  /** CPU ms per simulated second of one Site Server. */
  cpuPerServerSecond: number;
  /** With `split`: of cpuPerServerSecond, ms in signing, verifying, encoding, decoding. */
  serverParts: Record<Part, number> | null;
  /** The same for one user. */
  cpuPerUserSecond: number;
  /** Frames and bytes one server sends per simulated second, by message type and in all. */
  sentPerServerSecond: Traffic & { byType: Record<string, Traffic> };
  /** Frames and bytes one server receives per simulated second. */
  receivedPerServerSecond: Traffic;
  /** Frames and bytes one user sends per simulated second. */
  sentPerUserSecond: Traffic;
  /** Sanity: actions sent, accepted by their sender, rejections seen by any core, undecodable frames. */
  actions: { sent: number; accepted: number };
  rejected: number;
  undecodable: number;
}

const DIRS = ['up', 'down', 'left', 'right'] as const;

/** Runs one site for warmup + seconds of simulated acting and measures the window. */
export function serveBench(input: Partial<ServeOptions> = {}): ServeResult {
  const o: ServeOptions = { ...SERVE_DEFAULTS, ...input };
  checkOptions(o);
  const config = siteConfigFor({ ...DEFAULTS, servers: o.servers, users: o.users, tTimeslot: o.tTimeslot });
  const native = useNodeCrypto('native');
  const rng = createRng(o.seed);
  const queue = new EventQueue();
  const now = (): number => queue.now;

  // ---- metering: the outermost timed call is charged to its role ----
  const inside: Record<Role, number> = { server: 0, user: 0, admin: 0 };
  const parts: Record<Part, number> = { sign: 0, verify: 0, encode: 0, decode: 0 };
  let measuring = false;
  let busy: Role | null = null;
  const cpuMsSince = (c0: NodeJS.CpuUsage): number => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  const timed = <T>(role: Role, fn: () => T): T => {
    if (busy) return fn();
    busy = role;
    const c0 = measuring ? process.cpuUsage() : null;
    try {
      return fn();
    } finally {
      if (c0) inside[role] += cpuMsSince(c0);
      busy = null;
    }
  };
  /** With `split`, a server's call's part of its CPU. */
  const part = <T>(name: Part, fn: () => T): T => {
    if (!o.split || !measuring || busy !== 'server') return fn();
    const c0 = process.cpuUsage();
    try {
      return fn();
    } finally {
      parts[name] += cpuMsSince(c0);
    }
  };
  const crypto: typeof native = {
    ...native,
    sign: (key, message) => part('sign', () => native.sign(key, message)),
    verify: (key, message, sig) => part('verify', () => native.verify(key, message, sig)),
  };
  const metered = (role: Role, core: Tickable<PeerMessage>): Tickable<PeerMessage> => ({
    receive: (from, msg) => timed(role, () => core.receive(from, msg)),
    tick: () => timed(role, () => core.tick()),
    nextWakeAt: () => timed(role, () => core.nextWakeAt()),
  });

  // ---- the wire: encode at the sender, decode at each receiver ----
  const hosts = new Map<string, { role: Role; host: Host<PeerMessage> }>();
  const roleOf = (id: string): Role => hosts.get(id)?.role ?? 'admin';
  const sent: Record<Role, Traffic> = { server: t0(), user: t0(), admin: t0() };
  const received: Record<Role, Traffic> = { server: t0(), user: t0(), admin: t0() };
  const serverByType = new Map<string, Traffic>();
  let rejected = 0;
  let undecodable = 0;
  const send = (from: string, to: string, msg: PeerMessage): void => {
    const bytes = part('encode', () => encodePeerMessage(msg));
    if (measuring) {
      const role = roleOf(from);
      add(sent[role], bytes.byteLength);
      if (role === 'server') {
        let t = serverByType.get(msg.type);
        if (!t) serverByType.set(msg.type, (t = t0()));
        add(t, bytes.byteLength);
      }
    }
    queue.after(o.latency, () => deliver(from, to, bytes));
  };
  const deliver = (from: string, to: string, bytes: Uint8Array): void => {
    const ep = hosts.get(to);
    if (!ep) return;
    if (measuring) add(received[ep.role], bytes.byteLength);
    timed(ep.role, () => {
      const r = part('decode', () => decodePeerMessage(bytes));
      if (r.ok) ep.host.deliver(from, r.value);
      else undecodable++;
    });
  };
  const observe = (ev: { kind: string }): void => {
    if (ev.kind === 'rejected') rejected++;
  };
  const attach = (id: string, role: Role, core: Tickable<PeerMessage>): Host<PeerMessage> => {
    const host = new Host<PeerMessage>({ queue, id, coreNow: now });
    hosts.set(id, { role, host });
    host.install(metered(role, core));
    return host;
  };

  // ---- the parties ----
  const adminSecret = secretKeyFrom(rng.fork('key:admin').next);
  const adminKey = crypto.publicKeyOf(adminSecret);
  const serverIds = Array.from({ length: o.servers }, (_, i) => `s${i}`);
  const userIds = Array.from({ length: o.users }, (_, i) => `u${i}`);
  const serverKeys = serverIds.map((id) => {
    const secretKey = secretKeyFrom(rng.fork(`key:${id}`).next);
    return { id, secretKey, key: crypto.publicKeyOf(secretKey) };
  });
  for (const s of serverKeys) {
    const core = createSiteServer({
      config,
      id: s.id,
      secretKey: s.secretKey,
      adminKey,
      crypto,
      now,
      send: (to, msg) => send(s.id, to, msg),
      observe,
    });
    attach(s.id, 'server', core);
  }
  const coordinator = createSiteCoordinator({
    config,
    secretKey: adminSecret,
    crypto,
    now,
    random: rng.fork('admin').next,
    send: (to, msg) => send(ADMIN_ID, to, msg),
    servers: serverKeys.map(({ id, key }) => ({ id, key })),
    candidates: () => [],
    users: () => userIds,
    observe,
  });
  const adminHost = attach(ADMIN_ID, 'admin', coordinator);

  let actionsSent = 0;
  let actionsAccepted = 0;
  const users: Array<{ core: SiteUser; host: Host<PeerMessage> }> = userIds.map((id) => {
    const core = createHandOverUser({
      config,
      user: id,
      now,
      send: (to, msg) => send(id, to, msg),
      servers: serverIds,
      adminKey,
      crypto,
      onAccept: (u) => {
        if (measuring) for (const a of u.applied) if (a.user === id) actionsAccepted++;
      },
      observe,
    });
    return { core, host: attach(id, 'user', core) };
  });

  // ---- timeline (as sim/timeline.ts): hand-over, then every user acts at its own phase ----
  const T = config.T_timeslot;
  const start = windowEndAfter(100 + T, T);
  queue.schedule(100, () => {
    const snapshot = handOverSnapshot(userIds);
    adminHost.poke(() =>
      timed('admin', () => coordinator.handOver({ snapshot, seq: 0, prev: ZERO_HASH, start, lastActionNo: [] })),
    );
  });
  const actStart = start + T / 2;
  const windowStart = actStart + o.warmup * 1000;
  const windowEnd = windowStart + o.seconds * 1000;
  const period = 1000 / o.rate;
  users.forEach((u, i) => {
    const r = rng.fork(`bot:${userIds[i] ?? i}`);
    const act = (at: number): void => {
      if (at >= windowEnd) return;
      queue.schedule(at, () => {
        const action = randomAction(r.next(), r.pick(DIRS));
        u.host.poke(() =>
          timed('user', () => {
            u.core.act(action);
            if (measuring) actionsSent++;
          }),
        );
        act(at + period);
      });
    };
    act(actStart + r.range(0, period));
  });

  queue.runUntil(windowStart);
  measuring = true;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  queue.runUntil(windowEnd);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  measuring = false;

  const cpuMs = (cpu.user + cpu.system) / 1000;
  const serverSeconds = o.servers * o.seconds;
  const userSeconds = o.users * o.seconds;
  const per = (t: Traffic, n: number): Traffic => ({ frames: t.frames / n, bytes: t.bytes / n });
  const byType: Record<string, Traffic> = {};
  for (const k of [...serverByType.keys()].sort()) byType[k] = per(serverByType.get(k) ?? t0(), serverSeconds);
  return {
    options: o,
    cpuMs,
    wallMs,
    insideMs: { ...inside },
    cpuPerServerSecond: inside.server / serverSeconds,
    serverParts: o.split
      ? { sign: parts.sign / serverSeconds, verify: parts.verify / serverSeconds, encode: parts.encode / serverSeconds, decode: parts.decode / serverSeconds }
      : null,
    cpuPerUserSecond: userSeconds > 0 ? inside.user / userSeconds : 0,
    sentPerServerSecond: { ...per(sent.server, serverSeconds), byType },
    receivedPerServerSecond: per(received.server, serverSeconds),
    sentPerUserSecond: per(sent.user, Math.max(1, userSeconds)),
    actions: { sent: actionsSent, accepted: actionsAccepted },
    rejected,
    undecodable,
  };
}

function t0(): Traffic {
  return { frames: 0, bytes: 0 };
}

function add(t: Traffic, bytes: number): void {
  t.frames++;
  t.bytes += bytes;
}

/** Mostly moves, some pick-ups and chat, as the bots (src/bots/bot.ts). */
function randomAction(x: number, dir: (typeof DIRS)[number]): PlayerAction {
  if (x < 0.05) return { kind: 'say', text: 'hello' };
  if (x < 0.15) return { kind: 'pickup' };
  return { kind: 'move', dir };
}

type NumericOption = Exclude<keyof ServeOptions, 'split'>;

const BOUNDS: Record<NumericOption, [number, number]> = {
  servers: [1, 15],
  users: [0, 200],
  rate: [0.1, 20],
  tTimeslot: [10, 1000],
  seconds: [1, 600],
  warmup: [0, 60],
  latency: [0, 1000],
  seed: [0, 2 ** 32 - 1],
};

function checkOptions(o: ServeOptions): void {
  for (const [k, [lo, hi]] of Object.entries(BOUNDS) as Array<[NumericOption, [number, number]]>) {
    const v = o[k];
    if (!Number.isFinite(v) || v < lo || v > hi) throw new Error(`--${k} must be in [${lo}, ${hi}], got ${v}`);
  }
  if (!Number.isInteger(o.servers) || o.servers % 2 === 0) throw new Error(`--servers must be odd, got ${o.servers}`);
  if (!Number.isInteger(o.users)) throw new Error(`--users must be an integer, got ${o.users}`);
}

const FLAGS: Record<string, NumericOption> = {
  '--servers': 'servers',
  '--users': 'users',
  '--rate': 'rate',
  '--t': 'tTimeslot',
  '--seconds': 'seconds',
  '--warmup': 'warmup',
  '--latency': 'latency',
  '--seed': 'seed',
};

/** Command-line options (bounded by checkOptions); throws on anything unknown. */
export function parseServeArgs(argv: readonly string[]): { options: Partial<ServeOptions>; json: boolean } {
  const options: Partial<ServeOptions> = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--json') {
      json = true;
      continue;
    }
    if (a === '--split') {
      options.split = true;
      continue;
    }
    const key = FLAGS[a];
    const raw = argv[i + 1];
    if (!key || raw === undefined) throw new Error(`unknown or incomplete option ${a} (known: --json --split ${Object.keys(FLAGS).join(' ')})`);
    options[key] = Number(raw);
    i++;
  }
  return { options, json };
}

const fmt = (x: number, d = 1): string =>
  x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** The result as text lines (npm run bench section 5 and the command line). */
export function serveLines(r: ServeResult): string[] {
  const o = r.options;
  const s = r.sentPerServerSecond;
  return [
    `   N_server ${o.servers}, ${o.users} users acting ${o.rate}/s, T_timeslot ${o.tTimeslot} ms, ${o.seconds} s simulated after ${o.warmup} s warm-up (seed ${o.seed})`,
    `   process CPU ${fmt(r.cpuMs, 0)} ms over ${fmt(r.wallMs, 0)} ms wall: servers ${fmt(r.insideMs.server, 0)} ms, users ${fmt(r.insideMs.user, 0)} ms, admin ${fmt(r.insideMs.admin, 0)} ms, the rest harness`,
    `   one Site Server: ${fmt(r.cpuPerServerSecond, 2)} ms CPU per simulated second; one user: ${fmt(r.cpuPerUserSecond, 2)} ms`,
    ...(r.serverParts
      ? [
          `   of a Site Server's: sign ${fmt(r.serverParts.sign, 2)}, verify ${fmt(r.serverParts.verify, 2)}, encode ${fmt(r.serverParts.encode, 2)}, decode ${fmt(r.serverParts.decode, 2)} ms, the rest ${fmt(r.cpuPerServerSecond - Object.values(r.serverParts).reduce((x, y) => x + y, 0), 2)} ms (protocol core, brackets)`,
        ]
      : []),
    `   one Site Server sends ${fmt(s.frames)} frames, ${fmt(s.bytes / 1000, 2)} kB per second (${Object.entries(s.byType)
      .map(([k, t]) => `${k} ${fmt(t.frames)}`)
      .join(', ')}); receives ${fmt(r.receivedPerServerSecond.frames)} frames, ${fmt(r.receivedPerServerSecond.bytes / 1000, 2)} kB`,
    `   one user sends ${fmt(r.sentPerUserSecond.frames)} frames, ${fmt(r.sentPerUserSecond.bytes / 1000, 2)} kB per second; actions ${r.actions.sent} sent, ${r.actions.accepted} accepted by their senders in the window; ${r.rejected} rejections, ${r.undecodable} undecodable frames`,
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { options, json } = parseServeArgs(process.argv.slice(2));
  const r = serveBench(options);
  if (json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log('Site Server core in one process (bench/serve.ts)');
    for (const line of serveLines(r)) console.log(line);
  }
}
