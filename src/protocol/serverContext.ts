/**
 * The state one Site Server holds, shared by the modules that make it up (module map:
 * src/protocol/README.md), and the small helpers every one of them needs: membership lookups,
 * rejections, rate limits and asking the others for a server's Timeslots.
 * Pure: time, sending and keys come from the options.
 */
import { KeyedRateLimiter, REQUEST_BUDGET } from './budget.js';
import type { PlayerAction, SiteSnapshot } from '../game/types.js';
import type { AppliedUpdate, CoreEvent, ServerStatus, SiteServerOptions } from './api.js';
import { AppliedSet } from './applied.js';
import { Chain } from './chain.js';
import type { SiteConfig } from './config.js';
import { ed25519Scheme, ZERO_HASH, type SignatureScheme } from './crypto.js';
import type { ErrorCode } from './errors.js';
import {
  MAX_TIMESLOTS_PER_REPLY,
  type Member,
  type Membership,
  type OrderingState,
  type PeerOf,
  type SiteInit,
  type SysActionMessage,
  type Timeslot,
  type TimeslotEntry,
  type TransferPayload,
  type UpdateMessage,
} from './messages.js';
import type { StateFetch } from './stateFetch.js';
import type { Candidate } from './window.js';

/** Smallest step between two stamps / arrivals of one server (ms). */
export const EPS = 0.001;
/** Reports of unapplied actions older than this many windows are forgotten (at window ends). */
export const HORIZON_WINDOWS = 100;
/** Unverified head claims kept per (peer, server): a few Timeslots' worth. */
export const MAX_PENDING_CLAIMS = 8;

export type ActionRec = Candidate;

export type Content = { kind: 'user'; action: PlayerAction } | { kind: 'sys'; msg: SysActionMessage };

/** An update we produced or adopted, with what state transfer serves of it. */
export interface Stored {
  update: UpdateMessage;
  state: OrderingState;
  hints: TransferPayload['hints'];
}

/** A state transfer under way (stateSync.ts), and why. */
export interface SyncState {
  reason: string;
  fetch: StateFetch;
}

export type Stint = Member['stints'][number];

export const key3 = (user: string, actionNo: number, hash: string): string => `${user}\u0000${actionNo}\u0000${hash}`;
export const key2 = (user: string, actionNo: number): string => `${user}\u0000${actionNo}`;

/**
 * The lifecycle (changed only through the transitions below, so that `sync` is null whenever the
 * server is not syncing): waiting -> running | syncing -> running <-> syncing -> evicted.
 */
export interface LifecyclePart {
  status: ServerStatus;
  /** A state transfer under way (stateSync.ts). */
  sync: SyncState | null;
}

/** The admin-signed records we run on. Owner: membership.ts. */
export interface RosterPart {
  membership: Membership | null;
  members: Map<string, Member>;
  /** When each member first appeared in a record we applied (grace before it must speak). */
  memberSince: Map<string, number>;
  initMsg: SiteInit | null;
  startedAt: number;
}

/** The ordering state: what has been applied and the updates that say so. Owner: applying.ts. */
export interface OrderingPart {
  snapshot: SiteSnapshot | null;
  /** End of the last closed window. */
  frontier: number;
  lastSeq: number;
  lastHash: string;
  dedupe: AppliedSet;
  contents: Map<string, Content>;
  /** Applied actions' content keys, by the window that applied them (insertion ordered). */
  appliedAt: Map<string, number>;
  log: AppliedUpdate[];
  /** Index in `log` from which our updates are ours to compare with the majority (after a resync). */
  checkFrom: number;
  hashBySeq: Map<number, string>;
  stored: Stored[];
  /** When we last took a content a server sent us (applying.ts defers re-asks while answers come). */
  contentAnswerAt: number;
}

/** The reports index: candidates and the reports of their arrivals. Owner: reports.ts. */
export interface ReportsPart {
  actions: Map<string, ActionRec>;
  /** Contents we lack: since when, when last asked for, and how many times asked again (applying.ts backs off). */
  wanted: Map<string, { since: number; askedAt: number | null; again: number }>;
}

/** Our own Timeslots, the chains we hold of the others, and what the others say. Owner: timeslots.ts. */
export interface TimeslotsPart {
  chains: Map<string, Chain>;
  lastStamp: number;
  nextSlotAt: number | null;
  outbox: TimeslotEntry[];
  /** user\0no -> own arrival */
  recorded: Map<string, number>;
  echoDueAt: number | null;
  echoedGrid: number;
  /**
   * Started from a hand-over a peer forwarded (we may be a restarted process that lost its chain):
   * sign nothing until peers' heads show they hold no Timeslot of ours.
   */
  checkSelf: boolean;
  selfChecked: Set<string>;
  /**
   * Timeslots of servers no record we hold names, sent under a newer epoch: kept (unverified, at
   * most MAX_EARLY_TIMESLOTS) until the record arrives. The sender may be cut before anyone asks it
   * again, and then only our copy can fill its chain (sim/FINDINGS.md 35).
   */
  early: Array<{ ts: Timeslot; from: string; direct: boolean }>;
  /** P -> Y -> claims "I hold Y#seq with this hash" for seqs beyond ours, checked once we hold them.
   *  Several per (P, Y): a peer always one Timeslot ahead of us would otherwise never be credited. */
  pendingHead: Map<string, Map<string, Map<number, string>>>;
  /** P -> servers P declared it asked to ignore (its heads of them are held back), since when. */
  declared: Map<string, Map<string, number>>;
  /** Server -> update seq -> the hash it announced. */
  announced: Map<string, Map<number, string>>;
  /** Server -> the highest seq in its `announced` (kept by noteAnnounce: read every tick). */
  announcedTop: Map<string, number>;
  /** Bumped by every change of `announced` (checkOutOfStep skips a tick when nothing moved). */
  announcedVersion: number;
  equivs: Array<{ server: string; seq: number }>;
  equivSeen: Set<string>;
  /** Echoed heads we doubt, by `P\0Y\0seq`, when last asked about (rate limit). */
  suspicion: Map<string, number>;
  /**
   * Server -> the highest of its Timeslots we have echoed (in our heads), signed. Kept when a
   * state transfer re-anchors our chain of it lower: an ignore request must carry it (liveness.ts).
   */
  echoed: Map<string, Timeslot>;
}

/** Late servers, ignore requests and their answers. Owner: liveness.ts. */
export interface LivenessPart {
  trm: Map<string, { sentAt: number; asked: Set<string>; noHelp: Set<string> }>;
  /** Servers we asked to ignore, and the seq up to which we still use their Timeslots. */
  frozen: Map<string, { seq: number; at: number }>;
  ignoredAt: Map<string, number>;
  lastRequest: Map<string, number>;
  /** Number of the latest request (or withdrawal) sent per `kind:target`: only its answer counts. */
  requestNo: Map<string, number>;
  nextRequestNo: number;
  /** Frozen servers whose ignore request we withdrew; frozen until the admin answers. */
  withdrawing: Set<string>;
  /** The admin called for an ignore request while we were withdrawing one: send it once answered. */
  calledWhileWithdrawing: Set<string>;
  lagSince: Map<string, number>;
  lastPush: Map<string, number>;
  /** Servers we hold an equivocation proof against, or the admin told us it holds one (ignoreCall). */
  liars: Set<string>;
}

/** What finality counts (echoes of our heads) and remembers. Owner: finality.ts. */
export interface FinalityPart {
  /** P -> Y -> highest seq of Y P echoed with our hash. */
  cover: Map<string, Map<string, number>>;
  /** `server:epoch` of a stint -> its admission point, once known (it never moves). */
  admissionCache: Map<string, number>;
  /** Why the next window cannot close ('' if it can). */
  blocked: string;
  /**
   * Details of `blocked`, worked out only when asked (blockedReason): windowReady runs on every
   * message and is mostly blocked, waiting for the round's Timeslots. They describe the state
   * when asked, not when blocked.
   */
  blockedDetail: (() => string) | null;
  /** The cut we wait for the Timeslots of, since when, and when we last told the admin (sim/FINDINGS.md 90). */
  cutWait: { target: string; seq: number; since: number; sentAt: number } | null;
}

/** Rate limits of what we ask the others. Owner: this module (askRecords, fetchRange). */
export interface RequestsPart {
  lastFetch: Map<string, number>;
}

/** Every part of a server's state, by name; each is written by its owner only (ownership.test.ts). */
export interface Parts {
  lifecycle: LifecyclePart;
  roster: RosterPart;
  ordering: OrderingPart;
  reports: ReportsPart;
  timeslots: TimeslotsPart;
  liveness: LivenessPart;
  finality: FinalityPart;
  requests: RequestsPart;
}

/** What a module that does not own a part sees of it: no assignment, no collection changes. */
export type View<T> = { readonly [K in keyof T]: Ro<T[K]> };
type Ro<T> =
  T extends Map<infer K, infer V> ? ReadonlyMap<K, Ro<V>> : T extends Set<infer E> ? ReadonlySet<E> : T extends Array<infer E> ? readonly E[] : T;

/** One Site Server: constants, then its parts, each read-only here (`own` gives its owner the part). */
export interface ServerCtx {
  readonly opts: SiteServerOptions;
  readonly cfg: SiteConfig;
  /** T_timeslot: the Timeslot period and the width of a window. */
  readonly T: number;
  readonly N_maj: number;
  readonly me: string;
  readonly crypto: SignatureScheme;
  readonly site: string;
  /** Per user: its action budget (the admin's own rule, budget.ts). */
  readonly actionBudget: KeyedRateLimiter;
  /** Per peer: what it may ask of us (hashes, updates, records, states). */
  readonly requestBudget: KeyedRateLimiter;
  readonly lifecycle: View<LifecyclePart>;
  readonly roster: View<RosterPart>;
  readonly ordering: View<OrderingPart>;
  readonly reports: View<ReportsPart>;
  readonly timeslots: View<TimeslotsPart>;
  readonly liveness: View<LivenessPart>;
  readonly finality: View<FinalityPart>;
  readonly requests: View<RequestsPart>;
}

/** A server's state with every part writable: what `createContext` builds (and tests set up by hand). */
export type ServerState = Omit<ServerCtx, keyof Parts> & Parts;

/**
 * Part `name` writable, for its owner module only: each module calls this for its own part
 * (ownership.test.ts fails on any other call), and changes the others' through their functions.
 */
export function own<K extends keyof Parts>(ctx: ServerCtx, name: K): Parts[K] {
  return ctx[name] as Parts[K];
}

export function createContext(opts: SiteServerOptions): ServerState {
  const cfg = opts.config;
  return {
    opts,
    cfg,
    T: cfg.T_timeslot,
    N_maj: cfg.N_majority,
    me: opts.id,
    crypto: opts.crypto ?? ed25519Scheme,
    site: cfg.site,
    actionBudget: new KeyedRateLimiter({ perSecond: cfg.actionRate, burst: cfg.actionBurst }),
    requestBudget: new KeyedRateLimiter(REQUEST_BUDGET),
    lifecycle: { status: 'waiting', sync: null },
    roster: { membership: null, members: new Map(), memberSince: new Map(), initMsg: null, startedAt: opts.now() },
    ordering: {
      snapshot: null,
      frontier: -Infinity,
      lastSeq: 0,
      lastHash: ZERO_HASH,
      dedupe: new AppliedSet(),
      contents: new Map(),
      appliedAt: new Map(),
      log: [],
      checkFrom: 0,
      hashBySeq: new Map(),
      stored: [],
      contentAnswerAt: -Infinity,
    },
    reports: { actions: new Map(), wanted: new Map() },
    timeslots: {
      chains: new Map(),
      lastStamp: -Infinity,
      nextSlotAt: null,
      outbox: [],
      recorded: new Map(),
      echoDueAt: null,
      echoedGrid: -Infinity,
      checkSelf: false,
      selfChecked: new Set(),
      early: [],
      pendingHead: new Map(),
      declared: new Map(),
      announced: new Map(),
      announcedTop: new Map(),
      announcedVersion: 0,
      equivs: [],
      equivSeen: new Set(),
      suspicion: new Map(),
      echoed: new Map(),
    },
    liveness: {
      trm: new Map(),
      frozen: new Map(),
      ignoredAt: new Map(),
      lastRequest: new Map(),
      requestNo: new Map(),
      nextRequestNo: 1,
      withdrawing: new Set(),
      calledWhileWithdrawing: new Set(),
      lagSince: new Map(),
      lastPush: new Map(),
      liars: new Set(),
    },
    finality: { cover: new Map(), admissionCache: new Map(), blocked: '', blockedDetail: null, cutWait: null },
    requests: { lastFetch: new Map() },
  };
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: the only places `status` and `sync` change
// ---------------------------------------------------------------------------------------------

/** Started from a hand-over, or done adopting a state. */
export function becomeRunning(ctx: ServerCtx): void {
  const life = own(ctx, 'lifecycle');
  life.status = 'running';
  life.sync = null;
}

/** A state transfer started (stateSync.ts). */
export function becomeSyncing(ctx: ServerCtx, sync: SyncState): void {
  const life = own(ctx, 'lifecycle');
  life.status = 'syncing';
  life.sync = sync;
}

/** Out of the server set (or a restarted server that must not sign again): for good. */
export function becomeEvicted(ctx: ServerCtx): void {
  const life = own(ctx, 'lifecycle');
  life.status = 'evicted';
  life.sync = null;
}

// ---------------------------------------------------------------------------------------------
// Membership
// ---------------------------------------------------------------------------------------------

export const latestStint = (m: Member): Stint => m.stints[m.stints.length - 1] ?? { admit: 0, cut: null };
export const isActive = (m: Member): boolean => m.slot !== null && latestStint(m).cut === null;
export const activeIds = (ctx: ServerCtx): string[] => [...ctx.roster.members.values()].filter(isActive).map((m) => m.id);
export const mySlot = (ctx: ServerCtx): number | null => ctx.roster.members.get(ctx.me)?.slot ?? null;
/** The membership epoch we run on (0 before any record): what our Timeslots and requests carry. */
export const myEpoch = (ctx: ServerCtx): number => ctx.roster.membership?.epoch ?? 0;
/**
 * The stay our records are of: Timeslots are signed and hashed in it (sim/FINDINGS.md 92). Asked
 * only once a record is held (before it no server is a member, so no Timeslot is taken or signed).
 */
export function stayOf(ctx: ServerCtx): string {
  const m = ctx.roster.membership;
  if (!m) throw new Error('no membership record: no stay yet');
  return m.stay;
}
/** The first window boundary at or after `t`. */
export const ceilGrid = (ctx: ServerCtx, t: number): number =>
  Number.isFinite(t) ? Math.ceil(t / ctx.T - 1e-9) * ctx.T : t;

export function isUserHere(ctx: ServerCtx, name: string): boolean {
  return ctx.ordering.snapshot?.users.some((u) => u.name === name) ?? false;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

export function observe(ctx: ServerCtx, e: CoreEvent): void {
  ctx.opts.observe?.(e);
}

export function reject(ctx: ServerCtx, from: string, msgType: string, code: ErrorCode, reason: string): void {
  observe(ctx, { kind: 'rejected', from, msgType, code, reason });
}

export const isApplied = (ctx: ServerCtx, user: string, no: number): boolean => ctx.ordering.dedupe.has(user, no);

/** Rate limit: true (and noted) when `k` was last done at least `every` ago, or never. */
export function due(ctx: ServerCtx, times: Map<string, number>, k: string, every: number): boolean {
  const now = ctx.opts.now();
  const last = times.get(k);
  if (last !== undefined && now - last < every) return false;
  times.set(k, now);
  return true;
}

/** Rate limit of what we ask the others, by `key`: true (and noted) when due. */
export function dueFetch(ctx: ServerCtx, key: string, every: number): boolean {
  return due(ctx, own(ctx, 'requests').lastFetch, key, every);
}

/** Asks a peer for the signed siteInit and membership record we lack. Rate-limited. */
export function askRecords(ctx: ServerCtx, peer: string): void {
  if (!dueFetch(ctx, `records:${peer}`, ctx.cfg.T_timeout)) return;
  ctx.opts.send(peer, { type: 'recordRequest', site: ctx.site, epoch: myEpoch(ctx) });
}

/**
 * A message from a peer that no record we hold names. Records never drop a member, so an honest
 * sender we do not know runs on a newer record than ours, one still on its way to us: it says so
 * (`claimed`, the epoch its message carries), and we ask it for the record rather than refuse it
 * (sim/FINDINGS.md 14); it repeats what we drop. Only the sender's own claim counts, not what other
 * members' Timeslots say: a claim buys a stranger nothing (its message is dropped all the same, a
 * Timeslot kept aside only until a record names its server or shows it is none, and it gets one
 * rate-limited recordRequest), while one member claiming a high epoch would otherwise
 * hide every stranger. Waiting, we hold no record that lists us and can rule nothing out.
 */
export function fromUnknownPeer(ctx: ServerCtx, from: string, msgType: string, claimed: number | undefined, reason: string): void {
  if (ctx.lifecycle.status === 'waiting' || (claimed !== undefined && claimed > myEpoch(ctx))) return askRecords(ctx, from);
  reject(ctx, from, msgType, 'ERR_UNKNOWN_PEER', reason);
}

/** A TRM for Y's Timeslots [fromSeq, toSeq], carrying our epoch (see fromUnknownPeer). */
export function timeslotRequest(ctx: ServerCtx, y: string, fromSeq: number, toSeq: number): PeerOf<'timeslotRequest'> {
  return { type: 'timeslotRequest', site: ctx.site, server: y, fromSeq, toSeq, epoch: myEpoch(ctx) };
}

/** Timeslots for a peer (an answer to its TRM, or a push), carrying our epoch. */
export function timeslotReply(ctx: ServerCtx, timeslots: Timeslot[]): PeerOf<'timeslotReply'> {
  return { type: 'timeslotReply', site: ctx.site, timeslots, epoch: myEpoch(ctx) };
}

/** Asks the other servers (and the server itself) for Y's Timeslots [from, to]. Rate-limited. */
export function fetchRange(ctx: ServerCtx, y: string, from: number, to: number, why: string): void {
  if (to < from) return;
  if (!dueFetch(ctx, `${y}:${why}`, ctx.cfg.T_timeout / 2)) return;
  const msg = timeslotRequest(ctx, y, from, Math.min(to, from + MAX_TIMESLOTS_PER_REPLY - 1));
  for (const id of activeIds(ctx)) if (id !== ctx.me && id !== y) ctx.opts.send(id, msg);
  if (y !== ctx.me && ctx.roster.members.get(y)?.slot !== null) ctx.opts.send(y, msg); // it has its own, even while ignored
}
