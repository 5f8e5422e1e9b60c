/**
 * Public types of the protocol core: how a host builds and drives the objects. Every core object is
 * built from one options object, never starts a timer, and exposes `receive(from, msg)`,
 * `nextWakeAt()` (a time on its own clock, or null) and `tick()` (the host calls it at or after
 * that time). See src/protocol/README.md.
 */
import type { GameEvent, PlayerAction, SiteAction, SiteSnapshot, UserState } from '../game/types.js';
import type { SiteConfig } from './config.js';
import type { SignatureScheme } from './crypto.js';
import type { ErrorCode } from './errors.js';
import type { Evidence, Membership, PeerMessage, SiteInit, SysActionMessage } from './messages.js';

/** Sends one message; `to` is a server id, a user name, or ADMIN_ID. Must not call back into the core synchronously. */
export type Send = (to: string, msg: PeerMessage) => void;

/** Something the core noticed, for logs and the simulator's property checks. */
export type CoreEvent =
  | { kind: 'rejected'; from: string; msgType: string; code: ErrorCode; reason: string }
  | { kind: 'applied'; seq: number; hash: string; window: number; applied: AppliedAction[] }
  | { kind: 'ignored'; server: string; cutSeq: number; epoch: number }
  | { kind: 'admitted'; server: string; epoch: number }
  | { kind: 'equivocation'; server: string; seq: number }
  | { kind: 'membershipRequest'; request: 'ignore' | 'readmit' | 'replace'; target: string }
  | { kind: 'resync'; reason: string; seq: number }
  /** `from`: the peer whose state (or forwarded hand-over) was adopted. */
  | { kind: 'resynced'; seq: number; hash: string; from?: string }
  | { kind: 'accepted'; seq: number; hash: string }
  /** `by`: the user that saw it, or the admin (`MINORITY`) from its own tally; `reason`: a FlagKind (tally.ts). */
  | { kind: 'flagged'; server: string; seq: number; reason: string; by: string; evidence?: Evidence }
  | { kind: 'membership'; epoch: number; change: string; target: string | null };

export type Observe = (event: CoreEvent) => void;

/** One action as applied by a server: its identity, content hash and median arrival. */
export interface AppliedAction {
  user: string;
  actionNo: number;
  hash: string;
  median: number;
}

/** One update a server produced. */
export interface AppliedUpdate {
  seq: number;
  hash: string;
  prev: string;
  /** End of the median window this update closes. */
  window: number;
  applied: AppliedAction[];
  events: GameEvent[];
  /** Taken over by state transfer (not computed here); its actions carry no hash/median. */
  adopted?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Site Server
// ---------------------------------------------------------------------------------------------

export interface SiteServerOptions {
  config: SiteConfig;
  /** This server's peer id (as the admin registered it). */
  id: string;
  /** Secret key of this server's Timeslot signatures; the admin registered its public key. */
  secretKey: string;
  /** Public key of the Administration Server (membership records, system actions). */
  adminKey: string;
  /** Signature scheme; default ed25519. All parties of a site must use the same. */
  crypto?: SignatureScheme;
  /** Synced clock (ms), monotone (createClockSync().now). */
  now: () => number;
  send: Send;
  /**
   * How this server starts: `init` from the admin's hand-over (initial servers), or nothing: it
   * then waits for a `siteInit` from the admin, or (a replacement) for a `membership` record that
   * lists it, after which it fetches the state from the majority.
   */
  init?: SiteInit;
  /**
   * A replacement asks this peer for the state first: the server whose player walked into the
   * site hands over its copy. Adopted only when N_majority active servers vouch for its hash.
   */
  stateFrom?: string;
  observe?: Observe;
}

export type ServerStatus = 'waiting' | 'running' | 'syncing' | 'evicted';

export interface SiteServer {
  readonly id: string;
  receive(from: string, msg: PeerMessage): void;
  nextWakeAt(): number | null;
  tick(): void;

  // --- introspection (read-only; for hosts, tests and the simulator) ---
  status(): ServerStatus;
  /** Updates produced (or adopted by state transfer) in order: seq, hash, applied actions. */
  appliedLog(): readonly AppliedUpdate[];
  /** Seq and hash of the latest update. */
  lastUpdate(): { seq: number; hash: string };
  /** Servers currently ignored (cut applied), with their cut. */
  ignored(): ReadonlyArray<{ server: string; cutSeq: number }>;
  /** The membership record in force. */
  membership(): Membership | null;
  /** Current site snapshot (after the latest update). */
  snapshot(): SiteSnapshot | null;
  /** Own Timeslots sent so far (seq of the latest). */
  timeslotSeq(): number;
  /** Equivocation proofs found (server, seq). */
  equivocations(): ReadonlyArray<{ server: string; seq: number }>;
  /** End of the last closed median window (synced time). */
  frontier(): number;
  /** Why the next window cannot be closed yet ('' when it could): for logs and debugging. */
  blockedReason(): string;
}

// ---------------------------------------------------------------------------------------------
// User side
// ---------------------------------------------------------------------------------------------

/** An update the user accepted (N_majority servers agreed). Same shape the client store takes. */
export interface AcceptedUpdate {
  site: string;
  seq: number;
  hash: string;
  applied: Array<{ user: string; actionNo: number }>;
  events: GameEvent[];
}

export interface SiteUserOptions {
  config: SiteConfig;
  /** This user's name. */
  user: string;
  now: () => number;
  send: Send;
  /** Server ids of the site, in slot order (from the admin's `enter`/`membership`). */
  servers: string[];
  /**
   * Last update the user already has (its seq and hash; from the hand-over or `enter`). null when
   * the user enters a running P2P site: it then takes the state from one server, checks it against
   * the hash N_majority servers give for that update, and calls `onEnter`.
   */
  seq: number | null;
  hash: string | null;
  /** Next action number to use (the last one the admin applied + 1). */
  nextActionNo: number;
  /** Public key of the admin, to check membership records sent to users. */
  adminKey?: string;
  crypto?: SignatureScheme;
  /** Called for each accepted update, strictly in seq order. */
  onAccept?: (update: AcceptedUpdate) => void;
  /** Entering (seq null): the verified site state as of update `seq`; updates after it follow. */
  onEnter?: (entered: { seq: number; hash: string; snapshot: SiteSnapshot }) => void;
  observe?: Observe;
}

export interface SiteUser {
  readonly user: string;
  /** Numbers an action, sends it to every server, returns its action number. */
  act(action: PlayerAction): number;
  receive(from: string, msg: PeerMessage): void;
  nextWakeAt(): number | null;
  tick(): void;
  /** New server set (after a replacement); resends every action not yet applied. */
  setServers(servers: string[]): void;

  // --- introspection ---
  acceptedLog(): readonly AcceptedUpdate[];
  /** Servers whose update for some seq disagreed with the accepted one. */
  flaggedServers(): ReadonlyArray<{ server: string; seq: number; reason: string; evidence?: Evidence }>;
  /** Actions sent but not yet seen in an accepted update. */
  pendingActions(): ReadonlyArray<{ actionNo: number; action: PlayerAction }>;
  lastAccepted(): { seq: number; hash: string };
  /**
   * How each server of the site looks from here: ignored (cut by the admin), disagreeing (its
   * update differed from the majority lately), late (its votes trail the accepted updates), in
   * step; servers that left the set show as replaced.
   */
  serverStates(): Array<{ id: string; state: ServerView }>;
}

export type ServerView = 'in-step' | 'late' | 'ignored' | 'replaced' | 'disagreeing';

// ---------------------------------------------------------------------------------------------
// Coordinator (admin side of a P2P site)
// ---------------------------------------------------------------------------------------------

export interface CoordinatorServer {
  id: string;
  /** Public key registered for its Timeslots. */
  key: string;
}

export interface SiteCoordinatorOptions {
  config: SiteConfig;
  /** Admin's secret key (signs membership records and system actions). */
  secretKey: string;
  crypto?: SignatureScheme;
  now: () => number;
  /** Injected randomness in [0, 1) (replacement choice). */
  random: () => number;
  send: Send;
  /** The N_server servers chosen for the hand-over. */
  servers: CoordinatorServer[];
  /** Peers eligible as replacements right now (connected, serving nothing, not on this site). */
  candidates: () => CoordinatorServer[];
  /** Users currently on the site (told about server changes). */
  users: () => string[];
  /** A user left the site (portal or logout), as the majority of servers applied it. */
  onLeft?: (user: UserState, via: 'portal' | 'logout', seq: number) => void;
  /** Every update with departures that the coordinator accepted by majority. */
  onUpdate?: (update: AcceptedUpdate) => void;
  observe?: Observe;
  /**
   * Goes on from a record a coordinator gave before (`record()`, kept by an admin across its
   * restart) instead of handing the site over: `servers` and `handOver` are then unused.
   */
  resume?: CoordinatorRecord;
}

/** What a coordinator needs to go on after its host restarted (JSON-safe). */
export interface CoordinatorRecord {
  /** The latest signed membership record (servers and users hold it too). */
  membership: Membership;
  /** The last system-action number issued: the next one must be above it (servers drop repeats). */
  sysNo: number;
  /** Servers proven to lie or evicted by the admin: never readmitted. */
  banned: string[];
  /** Times each server was ignored (MAX_READMITS). */
  ignores: Array<[string, number]>;
  evicted: string[];
  /** Recently decided update seqs and their hash: their departures were passed on already. */
  done: Array<[number, string]>;
  /**
   * System actions still being sent again, and when each was first sent: a join ordered before
   * the restart that no majority applied yet is sent again after it (else its user waits for
   * good: FINDINGS 21). Absent in records from before.
   */
  resend?: Array<{ msg: SysActionMessage; firstAt: number }>;
}

export interface SiteCoordinator {
  receive(from: string, msg: PeerMessage): void;
  nextWakeAt(): number | null;
  tick(): void;
  /**
   * Hands the site to the servers: builds the initial membership and sends each server a
   * `siteInit` with the snapshot. `start` is the synced time after which medians count.
   */
  handOver(args: { snapshot: SiteSnapshot; seq: number; prev: string; start: number; lastActionNo: Array<[string, number]> }): SiteInit;
  /** Issues a signed system action (join/leave), sent to every active server; returns its number. */
  systemAction(actor: string, action: Extract<SiteAction, { kind: 'join' | 'leave' }>): number;
  /**
   * Evicts a server the admin decided to drop (e.g. several peers cannot reach it): the same path
   * as after an equivocation proof, so the cut is decided by the servers' held Timeslots and a
   * replacement takes the slot. False when it is not a slotted server or already being evicted.
   */
  evict(target: string): boolean;
  /**
   * Fills a slot left empty (a replacement that found no candidate) with a candidate, by an
   * `admit` record as a replacement's; returns its id, or null (no empty slot, no candidate).
   */
  refill(): string | null;

  /** What `resume` needs to go on (null before the hand-over). */
  record(): CoordinatorRecord | null;

  // --- introspection ---
  membership(): Membership | null;
  /** Servers the coordinator evicted after a verified equivocation proof. */
  evicted(): readonly string[];
  /** Server ids holding a slot (the set users send to), in slot order. */
  activeServers(): string[];
  /** The admin's public key (servers and users verify records and system actions with it). */
  adminKey(): string;
}

// ---------------------------------------------------------------------------------------------
// Clock sync
// ---------------------------------------------------------------------------------------------

export interface ClockSyncOptions {
  /** Local monotone clock (ms), e.g. performance.now(). */
  now: () => number;
  /** Sends a sync request to the admin; the host answers `receive` with the admin's times. */
  send: (req: { id: number; t0: number }) => void;
  /** Samples per sync round (default 8). */
  samples?: number;
  /** Time between samples of one round (default 50 ms). */
  sampleGap?: number;
  /** Time between rounds (default 30 s). */
  resyncEvery?: number;
  /** After a round with no answer at all, the next one starts this soon (default 1 s). */
  retryEvery?: number;
  /** Largest correction rate when the estimate moves backwards, e.g. 0.05 = 5 % (default). */
  maxSlew?: number;
  /** A request unanswered this long is dropped (default 2 s). */
  sampleTimeout?: number;
}

export interface ClockSync {
  /** The admin's answer: t1 = admin receive time, t2 = admin send time (same value is fine). */
  receive(reply: { id: number; t1: number; t2: number }): void;
  nextWakeAt(): number | null;
  tick(): void;
  /** Synced time: local time + offset, never running backward. */
  now(): number;
  /** Current offset estimate (admin - local), or null before the first sample. */
  offset(): number | null;
  /** Round trip of the sample in use. */
  roundTrip(): number | null;
}
