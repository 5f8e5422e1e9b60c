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

export interface ServerCtx {
  readonly opts: SiteServerOptions;
  readonly cfg: SiteConfig;
  /** T_timeslot: the Timeslot period and the width of a window. */
  readonly T: number;
  readonly N_maj: number;
  readonly me: string;
  readonly crypto: SignatureScheme;
  readonly site: string;

  status: ServerStatus;
  membership: Membership | null;
  members: Map<string, Member>;
  readonly chains: Map<string, Chain>;

  // Own Timeslots
  lastStamp: number;
  nextSlotAt: number | null;
  outbox: TimeslotEntry[];
  /** user\0no -> own arrival */
  readonly recorded: Map<string, number>;

  // Ordering state
  snapshot: SiteSnapshot | null;
  /** End of the last closed window. */
  frontier: number;
  lastSeq: number;
  lastHash: string;
  dedupe: AppliedSet;
  readonly actions: Map<string, ActionRec>;
  readonly contents: Map<string, Content>;
  readonly wanted: Map<string, { since: number; askedAt: number | null }>;
  /** Applied actions' content keys, by the window that applied them (insertion ordered). */
  readonly appliedAt: Map<string, number>;
  readonly log: AppliedUpdate[];
  /** Index in `log` from which our updates are ours to compare with the majority (after a resync). */
  checkFrom: number;
  readonly hashBySeq: Map<number, string>;
  readonly stored: Stored[];
  /** `server:epoch` of a stint -> its admission point, once known (it never moves). */
  readonly admissionCache: Map<string, number>;
  /** Why the next window cannot close ('' if it can). */
  blocked: string;

  // Cross-checks and liveness
  /** P -> Y -> highest seq of Y P echoed with our hash. */
  readonly cover: Map<string, Map<string, number>>;
  /** P -> Y -> claims "I hold Y#seq with this hash" for seqs beyond ours, checked once we hold them.
   *  Several per (P, Y): a peer always one Timeslot ahead of us would otherwise never be credited. */
  readonly pendingHead: Map<string, Map<string, Map<number, string>>>;
  /** Server -> update seq -> the hash it announced. */
  readonly announced: Map<string, Map<number, string>>;
  readonly trm: Map<string, { sentAt: number; asked: Set<string>; noHelp: Set<string> }>;
  /** Servers we asked to ignore, and the seq up to which we still use their Timeslots. */
  readonly frozen: Map<string, { seq: number; at: number }>;
  readonly ignoredAt: Map<string, number>;
  readonly lastRequest: Map<string, number>;
  /** Number of the latest request (or withdrawal) sent per `kind:target`: only its answer counts. */
  readonly requestNo: Map<string, number>;
  nextRequestNo: number;
  /** Frozen servers whose ignore request we withdrew; frozen until the admin answers. */
  readonly withdrawing: Set<string>;
  /** The admin called for an ignore request while we were withdrawing one: send it once answered. */
  readonly calledWhileWithdrawing: Set<string>;
  readonly lagSince: Map<string, number>;
  /** P -> servers P declared it asked to ignore (its heads of them are held back), since when. */
  readonly declared: Map<string, Map<string, number>>;
  /** When each member first appeared in a record we applied (grace before it must speak). */
  readonly memberSince: Map<string, number>;
  readonly lastPush: Map<string, number>;
  readonly lastFetch: Map<string, number>;
  readonly suspicion: Map<string, number>;
  /** Per user: its action budget (the admin's own rule, budget.ts). */
  readonly actionBudget: KeyedRateLimiter;
  /** Per peer: what it may ask of us (hashes, updates, records, states). */
  readonly requestBudget: KeyedRateLimiter;
  readonly equivs: Array<{ server: string; seq: number }>;
  readonly equivSeen: Set<string>;
  /** Servers we hold an equivocation proof against, or the admin told us it holds one (ignoreCall). */
  readonly liars: Set<string>;
  startedAt: number;
  sync: SyncState | null;
  initMsg: SiteInit | null;
  echoDueAt: number | null;
  echoedGrid: number;
  /**
   * Started from a hand-over a peer forwarded (we may be a restarted process that lost its chain):
   * sign nothing until peers' heads show they hold no Timeslot of ours.
   */
  checkSelf: boolean;
  readonly selfChecked: Set<string>;
}

export function createContext(opts: SiteServerOptions): ServerCtx {
  const cfg = opts.config;
  return {
    opts,
    cfg,
    T: cfg.T_timeslot,
    N_maj: cfg.N_majority,
    me: opts.id,
    crypto: opts.crypto ?? ed25519Scheme,
    site: cfg.site,
    status: 'waiting',
    membership: null,
    members: new Map(),
    chains: new Map(),
    lastStamp: -Infinity,
    nextSlotAt: null,
    outbox: [],
    recorded: new Map(),
    snapshot: null,
    frontier: -Infinity,
    lastSeq: 0,
    lastHash: ZERO_HASH,
    dedupe: new AppliedSet(),
    actions: new Map(),
    contents: new Map(),
    wanted: new Map(),
    appliedAt: new Map(),
    log: [],
    checkFrom: 0,
    hashBySeq: new Map(),
    stored: [],
    admissionCache: new Map(),
    blocked: '',
    cover: new Map(),
    pendingHead: new Map(),
    announced: new Map(),
    trm: new Map(),
    frozen: new Map(),
    ignoredAt: new Map(),
    lastRequest: new Map(),
    requestNo: new Map(),
    nextRequestNo: 1,
    withdrawing: new Set(),
    calledWhileWithdrawing: new Set(),
    lagSince: new Map(),
    declared: new Map(),
    memberSince: new Map(),
    lastPush: new Map(),
    lastFetch: new Map(),
    suspicion: new Map(),
    actionBudget: new KeyedRateLimiter({ perSecond: cfg.actionRate, burst: cfg.actionBurst }),
    requestBudget: new KeyedRateLimiter(REQUEST_BUDGET),
    equivs: [],
    equivSeen: new Set(),
    liars: new Set(),
    startedAt: opts.now(),
    sync: null,
    initMsg: null,
    echoDueAt: null,
    echoedGrid: -Infinity,
    checkSelf: false,
    selfChecked: new Set(),
  };
}

// ---------------------------------------------------------------------------------------------
// Membership
// ---------------------------------------------------------------------------------------------

export const latestStint = (m: Member): Stint => m.stints[m.stints.length - 1] ?? { admit: 0, cut: null };
export const isActive = (m: Member): boolean => m.slot !== null && latestStint(m).cut === null;
export const activeIds = (ctx: ServerCtx): string[] => [...ctx.members.values()].filter(isActive).map((m) => m.id);
export const mySlot = (ctx: ServerCtx): number | null => ctx.members.get(ctx.me)?.slot ?? null;
/** The membership epoch we run on (0 before any record): what our Timeslots and requests carry. */
export const myEpoch = (ctx: ServerCtx): number => ctx.membership?.epoch ?? 0;
/** The first window boundary at or after `t`. */
export const ceilGrid = (ctx: ServerCtx, t: number): number =>
  Number.isFinite(t) ? Math.ceil(t / ctx.T - 1e-9) * ctx.T : t;

export function isUserHere(ctx: ServerCtx, name: string): boolean {
  return ctx.snapshot?.users.some((u) => u.name === name) ?? false;
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

/** The chain we hold of `id`; created (anchored before it) on the first Timeslot seen of it. */
export function chainOf(ctx: ServerCtx, id: string, firstSeen?: Timeslot): Chain | undefined {
  let ch = ctx.chains.get(id);
  if (!ch && firstSeen) {
    ch = new Chain(id, { seq: firstSeen.seq - 1, hash: firstSeen.prevHash, stamp: -Infinity }, ctx.cfg.maxEntries, ctx.cfg.keepTimeslots);
    ctx.chains.set(id, ch);
  }
  return ch;
}

export const isApplied = (ctx: ServerCtx, user: string, no: number): boolean => ctx.dedupe.has(user, no);

/** Rate limit: true (and noted) when `k` was last done at least `every` ago, or never. */
export function due(ctx: ServerCtx, times: Map<string, number>, k: string, every: number): boolean {
  const now = ctx.opts.now();
  const last = times.get(k);
  if (last !== undefined && now - last < every) return false;
  times.set(k, now);
  return true;
}

/** Asks a peer for the signed siteInit and membership record we lack. Rate-limited. */
export function askRecords(ctx: ServerCtx, peer: string): void {
  if (!due(ctx, ctx.lastFetch, `records:${peer}`, ctx.cfg.T_timeout)) return;
  ctx.opts.send(peer, { type: 'recordRequest', site: ctx.site, epoch: myEpoch(ctx) });
}

/**
 * A message from a peer that no record we hold names. Records never drop a member, so an honest
 * sender we do not know runs on a newer record than ours, one still on its way to us: it says so
 * (`claimed`, the epoch its message carries), and we ask it for the record rather than refuse it
 * (sim/FINDINGS.md 14); it repeats what we drop. Only the sender's own claim counts, not what other
 * members' Timeslots say: a claim buys a stranger nothing (its message is dropped all the same, and
 * it gets one rate-limited recordRequest), while one member claiming a high epoch would otherwise
 * hide every stranger. Waiting, we hold no record that lists us and can rule nothing out.
 */
export function fromUnknownPeer(ctx: ServerCtx, from: string, msgType: string, claimed: number | undefined, reason: string): void {
  if (ctx.status === 'waiting' || (claimed !== undefined && claimed > myEpoch(ctx))) return askRecords(ctx, from);
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
  if (!due(ctx, ctx.lastFetch, `${y}:${why}`, ctx.cfg.T_timeout / 2)) return;
  const msg = timeslotRequest(ctx, y, from, Math.min(to, from + MAX_TIMESLOTS_PER_REPLY - 1));
  for (const id of activeIds(ctx)) if (id !== ctx.me && id !== y) ctx.opts.send(id, msg);
  if (y !== ctx.me && ctx.members.get(y)?.slot !== null) ctx.opts.send(y, msg); // it has its own, even while ignored
}
