/**
 * A Site Server (paper 4.3, 4.4; docs/protocol.md). Records arrivals, sends a signed Timeslot
 * every T_timeslot, orders actions by median arrival in fixed windows, applies them with the game
 * rules, sends Updates (full or hash, rotating), and keeps the site going when servers are late,
 * lie, or get replaced. Pure: time, sending and keys are injected; no timers.
 */
import { applyAction } from '../game/rules.js';
import type { GameEvent, PlayerAction, SiteAction, SiteSnapshot } from '../game/types.js';
import type { AppliedAction, AppliedUpdate, CoreEvent, ServerStatus, SiteServer, SiteServerOptions } from './api.js';
import { AppliedSet } from './applied.js';
import { Chain, type ChainItem } from './chain.js';
import { declineAfter, repeatRequestAfter } from './config.js';
import { ed25519Scheme, hashOf, ZERO_HASH } from './crypto.js';
import type { ErrorCode } from './errors.js';
import {
  ADMIN_ID,
  decodeTransfer,
  encodeTransfer,
  MAX_TIMESLOTS_PER_REPLY,
  parsePeerMessage,
  STATE_CHUNK_BYTES,
  SYSTEM_ACTOR,
  type Member,
  type Membership,
  type OrderingState,
  type PeerMessage,
  type PeerOf,
  type SiteInit,
  type SysActionMessage,
  type Timeslot,
  type TimeslotEntry,
  type TransferPayload,
  type UpdateMessage,
} from './messages.js';
import { finalCandidates, type Candidate, type Report } from './window.js';
import {
  actionContentHash,
  sendsFullUpdate,
  signTimeslot,
  sysActionContentHash,
  timeslotsConflict,
  updateHash,
  verifyMembership,
  verifySiteInit,
  verifySysAction,
  verifyTimeslot,
  type TimeslotBody,
} from './signed.js';

/** Smallest step between two stamps / arrivals of one server (ms). */
const EPS = 0.001;
/** Reports of unapplied actions older than this many windows are forgotten (at window ends). */
const HORIZON_WINDOWS = 100;

type ActionRec = Candidate;

type Content =
  | { kind: 'user'; action: PlayerAction }
  | { kind: 'sys'; msg: SysActionMessage };

interface Stored {
  update: UpdateMessage;
  state: OrderingState;
  hints: TransferPayload['hints'];
}

interface SyncState {
  reason: string;
  tried: Set<string>;
  provider: string | null;
  startedAt: number;
  seq: number | null;
  hash: string | null;
  count: number;
  chunks: Array<Uint8Array | undefined>;
  payload: TransferPayload | null;
  askedHashesAt: number | null;
}

type Admission = { known: true; at: number } | { known: false; exceeds: (t: number) => boolean };

const key3 = (user: string, actionNo: number, hash: string): string => `${user}\u0000${actionNo}\u0000${hash}`;
const key2 = (user: string, actionNo: number): string => `${user}\u0000${actionNo}`;

/** Unverified head claims kept per (peer, server): a few Timeslots' worth. */
const MAX_PENDING_CLAIMS = 8;

export function createSiteServer(opts: SiteServerOptions): SiteServer {
  const cfg = opts.config;
  const T = cfg.T_timeslot;
  const N_maj = cfg.N_majority;
  const me = opts.id;
  const crypto = opts.crypto ?? ed25519Scheme;
  const site = cfg.site;
  const observe = (e: CoreEvent): void => opts.observe?.(e);

  let status: ServerStatus = 'waiting';
  let membership: Membership | null = null;
  let members = new Map<string, Member>();
  const chains = new Map<string, Chain>();

  // Own Timeslots
  let lastStamp = -Infinity;
  let nextSlotAt: number | null = null;
  let outbox: TimeslotEntry[] = [];
  const recorded = new Map<string, number>(); // user\0no -> own arrival

  // Ordering state
  let snapshot: SiteSnapshot | null = null;
  let frontier = -Infinity;
  let lastSeq = 0;
  let lastHash = ZERO_HASH;
  let dedupe = new AppliedSet();
  const actions = new Map<string, ActionRec>();
  const contents = new Map<string, Content>();
  const wanted = new Map<string, { since: number; askedAt: number | null }>();
  /** Applied actions' content keys, by the window that applied them (insertion ordered). */
  const appliedAt = new Map<string, number>();
  const log: AppliedUpdate[] = [];
  /** Index in `log` from which our updates are ours to compare with the majority (after a resync). */
  let checkFrom = 0;
  const hashBySeq = new Map<number, string>();
  const stored: Stored[] = [];
  const admissionCache = new Map<string, number>();

  // Cross-checks and liveness
  const cover = new Map<string, Map<string, number>>(); // P -> Y -> highest seq of Y P echoed with our hash
  /** P -> Y -> claims "I hold Y#seq with this hash" for seqs beyond ours, checked once we hold them.
   *  Several per (P, Y): a peer always one Timeslot ahead of us would otherwise never be credited. */
  const pendingHead = new Map<string, Map<string, Map<number, string>>>();
  const announced = new Map<string, Map<number, string>>();
  const trm = new Map<string, { sentAt: number; asked: Set<string>; noHelp: Set<string> }>();
  const frozen = new Map<string, { seq: number; at: number }>();
  const ignoredAt = new Map<string, number>();
  const lastRequest = new Map<string, number>();
  /** Number of the latest request (or withdrawal) sent per `kind:target`: only its answer counts. */
  const requestNo = new Map<string, number>();
  let nextRequestNo = 1;
  /** Frozen servers whose ignore request we withdrew; frozen until the admin answers. */
  const withdrawing = new Set<string>();
  /** The admin called for an ignore request while we were withdrawing one: send it once answered. */
  const calledWhileWithdrawing = new Set<string>();
  const lagSince = new Map<string, number>();
  /** P -> servers P declared it asked to ignore (its heads of them are held back), since when. */
  const declared = new Map<string, Map<string, number>>();
  /** When each member first appeared in a record we applied (grace before it must speak). */
  const memberSince = new Map<string, number>();
  const lastPush = new Map<string, number>();
  const lastFetch = new Map<string, number>();
  const suspicion = new Map<string, number>();
  const equivs: Array<{ server: string; seq: number }> = [];
  const equivSeen = new Set<string>();
  /** Servers we hold an equivocation proof against, or the admin told us it holds one (ignoreCall). */
  const liars = new Set<string>();
  let startedAt = opts.now();
  let sync: SyncState | null = null;
  let initMsg: SiteInit | null = null;
  let echoDueAt: number | null = null;
  let echoedGrid = -Infinity;
  /**
   * Started from a hand-over a peer forwarded (we may be a restarted process that lost its chain):
   * sign nothing until peers' heads show they hold no Timeslot of ours.
   */
  let checkSelf = false;
  const selfChecked = new Set<string>();

  // -------------------------------------------------------------------------------------------
  // Helpers: membership
  // -------------------------------------------------------------------------------------------

  const latestStint = (m: Member): Member['stints'][number] => m.stints[m.stints.length - 1] ?? { admit: 0, cut: null };
  const isActive = (m: Member): boolean => m.slot !== null && latestStint(m).cut === null;
  const activeIds = (): string[] => [...members.values()].filter(isActive).map((m) => m.id);
  const mySlot = (): number | null => members.get(me)?.slot ?? null;
  const ceilGrid = (t: number): number => (Number.isFinite(t) ? Math.ceil(t / T - 1e-9) * T : t);

  function isUserHere(name: string): boolean {
    return snapshot?.users.some((u) => u.name === name) ?? false;
  }

  function reject(from: string, msgType: string, code: ErrorCode, reason: string): void {
    observe({ kind: 'rejected', from, msgType, code, reason });
  }

  function chainOf(id: string, firstSeen?: Timeslot): Chain | undefined {
    let ch = chains.get(id);
    if (!ch && firstSeen) {
      ch = new Chain(id, { seq: firstSeen.seq - 1, hash: firstSeen.prevHash, stamp: -Infinity }, cfg.maxEntries, cfg.keepTimeslots);
      chains.set(id, ch);
    }
    return ch;
  }

  const isApplied = (user: string, no: number): boolean => dedupe.has(user, no);
  const markApplied = (user: string, no: number): void => dedupe.add(user, no);

  // -------------------------------------------------------------------------------------------
  // Reports index
  // -------------------------------------------------------------------------------------------

  function indexItem(server: string, item: ChainItem, after: number): void {
    for (const [user, actionNo, arrival, hash] of item.entries) {
      if (arrival <= after) continue;
      addReport(server, user, actionNo, hash, arrival, item.seq);
    }
  }

  function addReport(server: string, user: string, actionNo: number, hash: string, arrival: number, tsSeq: number): void {
    if (isApplied(user, actionNo)) return;
    const k = key3(user, actionNo, hash);
    let rec = actions.get(k);
    if (!rec) actions.set(k, (rec = { user, actionNo, hash, reports: new Map() }));
    const had = rec.reports.get(server);
    if (!had || (had.tsSeq !== 0 && tsSeq !== 0 && tsSeq < had.tsSeq)) rec.reports.set(server, { arrival, tsSeq });
    // Another server has it and we do not: our copy was probably lost. Ask after T_content, before
    // it is final, so a lost action costs no extra delay when its window closes.
    if (server !== me && !contents.has(k) && !wanted.has(k)) wanted.set(k, { since: opts.now(), askedAt: null });
  }

  function dropReportsAbove(server: string, seq: number): void {
    for (const [k, rec] of actions) {
      const r = rec.reports.get(server);
      if (r && r.tsSeq > seq) {
        rec.reports.delete(server);
        if (rec.reports.size === 0) actions.delete(k);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Stability, admission, required servers (docs/protocol.md "Finality")
  // -------------------------------------------------------------------------------------------

  /** Highest seq of Y that every other active member has echoed with our hash (and we may use). */
  function stableSeq(y: string, ignoreCut = false): number {
    const ch = chains.get(y);
    if (!ch) return -1;
    let s = ch.top.seq;
    const fr = frozen.get(y);
    if (fr) s = Math.min(s, fr.seq);
    const m = members.get(y);
    const cut = m ? latestStint(m).cut : null;
    if (cut && !ignoreCut) s = Math.min(s, cut.seq);
    for (const p of activeIds()) {
      if (p === y || p === me) continue;
      s = Math.min(s, cover.get(p)?.get(y) ?? ch.anchor.seq);
    }
    return s;
  }

  function stampAt(ch: Chain, seq: number): number {
    if (seq < ch.anchor.seq) return -Infinity;
    return ch.stampOf(Math.min(seq, ch.top.seq)) ?? -Infinity;
  }

  function stableStamp(y: string): number {
    const ch = chains.get(y);
    if (!ch) return -Infinity;
    return stampAt(ch, stableSeq(y));
  }

  /** Where a stint starts counting: a grid point after every other member marked its epoch. */
  function admission(m: Member, stint: Member['stints'][number]): Admission {
    if (stint.admit === 0) return { known: true, at: -Infinity };
    const ck = `${m.id}:${stint.admit}`;
    const cached = admissionCache.get(ck);
    if (cached !== undefined) return { known: true, at: cached };
    let knownMax = -Infinity;
    let unknownLb = -Infinity;
    let allKnown = true;
    for (const q of members.values()) {
      if (q.id === m.id) continue;
      const prior = q.stints.filter((s) => s.admit < stint.admit).at(-1);
      if (!prior) continue;
      const ch = chains.get(q.id);
      // The stint q was serving when this one was admitted, even if q came back since: a later
      // readmission must not move an admission point others already computed from q's cut.
      const cut = prior.cut;
      const limit = cut ? cut.seq : stableSeq(q.id);
      const mark = ch?.marks.find((mk) => mk.epoch >= stint.admit && mk.seq <= limit);
      if (mark) knownMax = Math.max(knownMax, mark.stamp);
      else if (cut) {
        if (cut.seq === 0) continue;
        const st = ch?.stampOf(cut.seq);
        if (st === undefined) {
          allKnown = false;
        } else knownMax = Math.max(knownMax, st);
      } else {
        allKnown = false;
        unknownLb = Math.max(unknownLb, ch ? stampAt(ch, limit) : -Infinity);
      }
    }
    if (allKnown) {
      const at = ceilGrid(knownMax);
      admissionCache.set(ck, at);
      return { known: true, at };
    }
    const km = knownMax;
    const ul = unknownLb;
    return { known: false, exceeds: (t: number) => ul >= t || km > t };
  }

  function counted(server: string, r: Report): boolean {
    if (r.tsSeq === 0) return true;
    const m = members.get(server);
    if (!m) return false;
    for (const st of m.stints) {
      const a = admission(m, st);
      const from = a.known ? a.at : Infinity;
      if (r.arrival > from && (st.cut === null || r.tsSeq <= st.cut.seq)) return true;
    }
    return false;
  }

  /** Whether a cut member's chain is held up to its cut, with the cut's hash; fetches otherwise. */
  function cutComplete(m: Member, cut: { seq: number; hash: string }): boolean {
    if (m.id === me) return true;
    let ch = chains.get(m.id);
    if (cut.seq === 0) return true;
    if (!ch) {
      if (cut.seq > 0) fetchRange(m.id, 1, cut.seq, 'cut');
      return false;
    }
    if (cut.seq <= ch.anchor.seq) return cut.seq < ch.anchor.seq || ch.anchor.hash === cut.hash;
    if (ch.top.seq >= cut.seq) {
      if (ch.hashOf(cut.seq) === cut.hash) return true;
      // Our copy is another branch (the server equivocated): keep only what everyone echoed.
      dropBranch(m.id, Math.min(cut.seq - 1, stableSeq(m.id, true)));
      ch = chains.get(m.id);
    }
    if (ch) fetchRange(m.id, ch.top.seq + 1, cut.seq, 'cut');
    return false;
  }

  /** Forgets what we hold of `y`'s chain above `keep` (another branch than the cut's). */
  function dropBranch(y: string, keep: number): void {
    const ch = chains.get(y);
    if (!ch) return;
    ch.truncate(keep);
    dropReportsAbove(y, keep);
    for (const c of cover.values()) {
      const v = c.get(y);
      if (v !== undefined && v > keep) c.set(y, keep);
    }
  }

  /**
   * A Timeslot of a cut server, up to its cut, that contradicts what we hold while our copy does
   * not reach the cut yet: what we hold below it is another branch than the cut's (the stable
   * prefix can be one too when a second liar echoed both). Start that chain again from its anchor
   * and fetch the cut's branch; only the cut's branch counts, and windows already closed stay.
   */
  function onCutBranchMismatch(ts: Timeslot, from: string): void {
    const y = ts.server;
    const m = members.get(y);
    const cut = m ? latestStint(m).cut : null;
    const ch = chains.get(y);
    if (!cut || !ch || ts.seq > cut.seq) return;
    if (ch.top.seq >= cut.seq && ch.hashOf(cut.seq) === cut.hash) return; // we hold the cut's branch
    dropBranch(y, ch.anchor.seq);
    // Offered again to a chain that now holds nothing above its anchor: it cannot conflict again.
    onTimeslot(ts, from, false);
    fetchRange(y, ch.top.seq + 1, cut.seq, 'cut-branch');
  }

  let blocked = '';

  /** Whether window (frontier, frontier + T] can be closed now (else `blocked` says why). */
  function windowReady(): boolean {
    if (!membership || status !== 'running') {
      blocked = `status ${status}`;
      return false;
    }
    const b = frontier + T;
    for (const m of members.values()) {
      for (const st of m.stints) {
        if (st.admit === 0) continue;
        const a = admission(m, st);
        if (!a.known && !a.exceeds(frontier)) {
          blocked = `admission of ${m.id} (epoch ${st.admit}) not known yet`;
          return false;
        }
      }
      const last = latestStint(m);
      // Reports of this server may count here: we must hold its chain back to the frontier.
      const ch = chains.get(m.id);
      if (m.id !== me && ch && !ch.complete(frontier) && (last.cut === null || last.cut.seq > ch.anchor.seq)) {
        fetchRange(m.id, Math.max(1, ch.anchor.seq - MAX_TIMESLOTS_PER_REPLY + 1), ch.anchor.seq, 'backfill');
        blocked = `backfilling ${m.id}'s Timeslots before #${ch.anchor.seq + 1}`;
        return false;
      }
      if (last.cut) {
        if (!cutComplete(m, last.cut)) {
          blocked = `fetching ${m.id}'s Timeslots up to its cut ${last.cut.seq}`;
          return false;
        }
        continue;
      }
      if (m.slot === null) continue;
      const a = admission(m, last);
      const required = a.known ? a.at <= frontier : false;
      if (!required) continue;
      if (stableStamp(m.id) < b) {
        const ch = chains.get(m.id);
        const echo = activeIds()
          .filter((p) => p !== m.id && p !== me)
          .map((p) => `${p}:${cover.get(p)?.get(m.id) ?? '-'}`)
          .join(' ');
        blocked = `${m.id} not stable past ${b} (held #${ch?.top.seq ?? '-'} @${ch?.top.stamp ?? '-'}, frozen ${frozen.get(m.id)?.seq ?? '-'}, echoes ${echo})`;
        return false;
      }
    }
    blocked = '';
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Closing windows, applying, updates
  // -------------------------------------------------------------------------------------------

  function finalizeLoop(): void {
    for (let i = 0; i < 1000; i++) {
      if (!windowReady()) return;
      if (!closeWindow()) return;
    }
  }

  /** Closes one window; false when content is missing. */
  function closeWindow(): boolean {
    if (!snapshot) return false;
    const b = frontier + T;
    for (const [k, rec] of actions) if (isApplied(rec.user, rec.actionNo)) actions.delete(k);
    const finals = finalCandidates(actions.values(), b, N_maj, counted).map((f) => ({ rec: f.candidate, median: f.median }));
    // Content first: everything final must be here before anything is applied.
    let missing = false;
    const seen = new Set<string>();
    for (const f of finals) {
      const k2 = key2(f.rec.user, f.rec.actionNo);
      if (seen.has(k2)) continue; // a second content for the same number is dropped, needs no content
      seen.add(k2);
      const k = key3(f.rec.user, f.rec.actionNo, f.rec.hash);
      if (!contents.has(k)) {
        missing = true;
        // Final and missing: it holds the window back now, so ask at once rather than T_content
        // after the report (our copy was lost; waiting cost a whole round under loss).
        const w = wanted.get(k);
        if (!w) wanted.set(k, { since: -Infinity, askedAt: null });
        else if (w.askedAt === null) w.since = -Infinity;
      }
    }
    if (missing) {
      requestContent();
      blocked = `content missing for a final action of window ${b}`;
      return false;
    }

    let snap = snapshot;
    const events: GameEvent[] = [];
    const applied: AppliedAction[] = [];
    for (const f of finals) {
      const { user, actionNo, hash } = f.rec;
      if (isApplied(user, actionNo)) continue;
      const content = contents.get(key3(user, actionNo, hash));
      if (!content) continue;
      let actor = user;
      let action: SiteAction;
      if (content.kind === 'user') action = content.action;
      else {
        actor = content.msg.actor;
        action = content.msg.action.kind === 'join' ? { kind: 'join', user: content.msg.action.user } : { kind: 'leave' };
      }
      try {
        const r = applyAction(snap, actor, action);
        snap = r.snapshot;
        events.push(...r.events);
      } catch {
        // The rules reject nothing by throwing; a throw means content unknown to the rules (e.g. a
        // site the world lacks). Every replica throws the same, so skipping it keeps them equal.
      }
      markApplied(user, actionNo);
      applied.push({ user, actionNo, hash, median: f.median });
    }
    // Contents of applied actions stay a while: a server still behind may ask for them.
    for (const a of applied) appliedAt.set(key3(a.user, a.actionNo, a.hash), b);
    for (const [k, rec] of actions) {
      if (isApplied(rec.user, rec.actionNo)) {
        actions.delete(k);
        wanted.delete(k);
        if (!appliedAt.has(k)) contents.delete(k);
        continue;
      }
      for (const [server, r] of rec.reports) if (r.arrival <= b - HORIZON_WINDOWS * T) rec.reports.delete(server);
      if (rec.reports.size === 0) actions.delete(k);
    }
    for (const [k, at] of appliedAt) {
      if (at > b - HORIZON_WINDOWS * T) break;
      appliedAt.delete(k);
      contents.delete(k);
    }
    frontier = b;
    snapshot = snap;
    if (applied.length > 0) produceUpdate(b, applied, events);
    return true;
  }

  function buildState(b: number): OrderingState {
    const pending: OrderingState['pending'] = [];
    const keys = [...actions.keys()].sort();
    for (const k of keys) {
      const rec = actions.get(k);
      if (!rec || isApplied(rec.user, rec.actionNo)) continue;
      const reps: Array<[string, number]> = [];
      for (const [server, r] of rec.reports) if (r.arrival <= b && counted(server, r)) reps.push([server, r.arrival]);
      if (reps.length === 0) continue;
      reps.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      pending.push([rec.user, rec.actionNo, rec.hash, reps]);
    }
    const applied: OrderingState['applied'] = dedupe.toList();
    return { site, window: b, snapshot: snapshot as SiteSnapshot, applied, pending };
  }

  function buildHints(b: number): TransferPayload['hints'] {
    const hintChains: TransferPayload['hints']['chains'] = [];
    const marks: TransferPayload['hints']['marks'] = [];
    for (const [id, ch] of chains) {
      let pos = { seq: ch.anchor.seq, hash: ch.anchor.hash, stamp: ch.anchor.stamp };
      for (const it of ch.items) {
        if (it.stamp <= b) pos = { seq: it.seq, hash: it.hash, stamp: it.stamp };
        else break;
      }
      if (Number.isFinite(pos.stamp) || pos.seq === 0) hintChains.push([id, pos.seq, pos.hash, Number.isFinite(pos.stamp) ? pos.stamp : -1e300]);
      for (const mk of ch.marks) marks.push([id, mk.epoch, mk.seq, mk.stamp]);
    }
    return { chains: hintChains, marks };
  }

  function produceUpdate(b: number, applied: AppliedAction[], events: GameEvent[]): void {
    const state = buildState(b);
    const body = {
      site,
      seq: lastSeq + 1,
      prev: lastHash,
      window: b,
      applied: applied.map((a): [string, number] => [a.user, a.actionNo]),
      events,
      stateHash: hashOf(state),
    };
    const hash = updateHash(body);
    const update: UpdateMessage = { type: 'update', ...body, hash };
    lastSeq = body.seq;
    lastHash = hash;
    hashBySeq.set(lastSeq, hash);
    log.push({ seq: lastSeq, hash, prev: body.prev, window: b, applied, events });
    stored.push({ update, state, hints: buildHints(b) });
    while (stored.length > cfg.keepUpdates) stored.shift();
    for (const s of hashBySeq.keys()) if (s < lastSeq - 4 * cfg.keepUpdates) hashBySeq.delete(s);
    observe({ kind: 'applied', seq: lastSeq, hash, window: b, applied });
    sendUpdate(update);
  }

  function sendUpdate(update: UpdateMessage): void {
    const slot = mySlot();
    if (slot === null || status !== 'running') return;
    const full = sendsFullUpdate(slot, update.seq, cfg.N_server, N_maj);
    const to = new Set<string>();
    for (const u of snapshot?.users ?? []) to.add(u.name);
    let left = false;
    for (const e of update.events) {
      if (e.kind === 'left') {
        to.add(e.user.name);
        left = true;
      }
    }
    if (left) to.add(ADMIN_ID);
    to.delete(me);
    for (const u of to) {
      if (full) opts.send(u, update);
      else opts.send(u, { type: 'updateHash', site, seq: update.seq, hash: update.hash });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Own Timeslots
  // -------------------------------------------------------------------------------------------

  function myChain(): Chain {
    let ch = chains.get(me);
    if (!ch) {
      ch = new Chain(me, { seq: 0, hash: ZERO_HASH, stamp: lastStamp }, cfg.maxEntries, cfg.keepTimeslots);
      chains.set(me, ch);
    }
    return ch;
  }

  /** The latest Timeslot held of each active server (capped where we asked to ignore it). */
  function currentHeads(): Timeslot['heads'] {
    const heads: Timeslot['heads'] = [];
    for (const [id, ch] of chains) {
      if (id === me) continue;
      const m = members.get(id);
      if (!m || !isActive(m)) continue;
      let seq = ch.top.seq;
      const fr = frozen.get(id);
      if (fr) seq = Math.min(seq, fr.seq);
      const hash = ch.hashOf(seq);
      if (seq < 1 || hash === undefined) continue;
      heads.push([id, seq, hash]);
    }
    return heads;
  }

  /**
   * Echo: after new Timeslots arrive, tell the others what we hold at once, so a window can close
   * about two hops after its last Timeslot instead of waiting for our next Timeslot. Sent when
   * every active server's Timeslot of this round is in, or T_timeslot / 3 after the first one.
   */
  function maybeEcho(force: boolean): void {
    if (status === 'waiting' || status === 'evicted') return;
    const now = opts.now();
    const grid = Math.floor(now / T + 1e-9) * T;
    if (!force) {
      if (echoedGrid >= grid) {
        if (echoDueAt === null) echoDueAt = now + T / 3;
        return;
      }
      for (const id of activeIds()) {
        if (id === me || frozen.has(id)) continue;
        const ch = chains.get(id);
        if (!ch || ch.top.stamp < grid) {
          if (echoDueAt === null) echoDueAt = now + T / 3;
          return;
        }
      }
    }
    echoedGrid = grid;
    echoDueAt = null;
    const msg: PeerMessage = {
      type: 'echo',
      site,
      heads: currentHeads(),
      ...(frozen.size > 0 ? { ignoring: [...frozen.keys()].sort() } : {}),
    };
    for (const id of activeIds()) if (id !== me) opts.send(id, msg);
  }

  function clampArrival(t: number): number {
    return t > lastStamp ? t : lastStamp + EPS;
  }

  function emitTimeslot(): void {
    const now = opts.now();
    if (checkSelf) {
      const others = [...members.values()].filter((m) => m.id !== me && m.slot !== null).length;
      if (selfChecked.size < Math.min(Math.max(1, N_maj - 1), others)) {
        nextSlotAt = (Math.floor(now / T + 1e-9) + 1) * T;
        return;
      }
      checkSelf = false;
    }
    const entries = outbox;
    outbox = [];
    let stamp = Math.max(now, lastStamp + EPS);
    for (const e of entries) stamp = Math.max(stamp, e[2]);
    const heads = currentHeads();
    echoDueAt = null;
    const mine = myChain();
    const body: TimeslotBody = {
      site,
      server: me,
      seq: mine.top.seq + 1,
      stamp,
      prevHash: mine.top.hash,
      epoch: membership?.epoch ?? 0,
      entries,
      heads,
      update: lastSeq > 0 && status === 'running' ? [lastSeq, lastHash] : null,
      ...(frozen.size > 0 ? { ignoring: [...frozen.keys()].sort() } : {}),
    };
    const ts = signTimeslot(body, opts.secretKey, crypto);
    const r = mine.offer(ts, now);
    if (r.kind === 'added') for (const it of r.items) indexItem(me, it, frontier);
    lastStamp = stamp;
    nextSlotAt = (Math.floor(stamp / T + 1e-9) + 1) * T;
    const msg: PeerMessage = { type: 'timeslot', ...ts };
    for (const m of members.values()) if (m.id !== me && m.slot !== null) opts.send(m.id, msg);
    for (const [k, at] of recorded) if (at < frontier - HORIZON_WINDOWS * T) recorded.delete(k);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving Timeslots
  // -------------------------------------------------------------------------------------------

  function onTimeslot(ts: Timeslot, from: string, direct: boolean): void {
    if (ts.site !== site) return reject(from, 'timeslot', 'ERR_WRONG_SITE', `site ${ts.site}`);
    if (ts.server === me) return; // our own, echoed back
    if (direct && from !== ts.server) return reject(from, 'timeslot', 'ERR_UNKNOWN_PEER', 'timeslot not from its server');
    const m = members.get(ts.server);
    if (!m) {
      if (status === 'waiting' || (membership && ts.epoch > membership.epoch)) return askRecords(from);
      return reject(from, 'timeslot', 'ERR_UNKNOWN_PEER', `unknown server ${ts.server}`);
    }
    if (!verifyTimeslot(ts, m.key, crypto)) return reject(from, 'timeslot', 'ERR_BAD_SIGNATURE', `from ${ts.server}`);
    const ch = chainOf(ts.server, ts);
    if (!ch) return;
    const now = opts.now();
    const r = ch.offer(ts, now);
    switch (r.kind) {
      case 'added':
        for (const it of r.items) {
          indexItem(ts.server, it, frontier);
          if (it.update) noteAnnounce(ts.server, it.update[0], it.update[1]);
          onHeads(ts.server, it);
        }
        recheckPendingHeads(ts.server);
        if (ts.stamp > lastStamp - cfg.T_timeout) trm.delete(ts.server);
        if (membership && ts.epoch > membership.epoch) askRecords(from);
        maybeEcho(false);
        break;
      case 'duplicate':
        if (direct) reject(from, 'timeslot', 'ERR_REPLAYED', `${ts.server}#${ts.seq}`);
        break;
      case 'conflict':
        onConflict(r.held, ts);
        onCutBranchMismatch(ts, from);
        break;
      case 'buffered':
        fetchRange(ts.server, ch.top.seq + 1, ts.seq - 1, 'gap');
        break;
      case 'old':
        if (direct) reject(from, 'timeslot', 'ERR_REPLAYED', `${ts.server}#${ts.seq} below anchor`);
        break;
      case 'invalid': {
        // Validly signed, yet linked to another predecessor than the one S signed for us: S signed
        // two chains. The pair is a proof, even if its other branch never reaches us.
        const held = ts.seq === ch.top.seq + 1 ? ch.get(ch.top.seq) : undefined;
        if (held?.full && timeslotsConflict(held.full, ts)) {
          onConflict(held, ts);
          onCutBranchMismatch(ts, from);
          return;
        }
        reject(from, 'timeslot', codeFor(r.reason), `${ts.server}#${ts.seq}: ${r.reason}`);
        break;
      }
    }
  }

  /** Rate limit: true (and noted) when `k` was last done at least `every` ago, or never. */
  function due(times: Map<string, number>, k: string, every: number): boolean {
    const now = opts.now();
    const last = times.get(k);
    if (last !== undefined && now - last < every) return false;
    times.set(k, now);
    return true;
  }

  /** Asks a peer for the signed siteInit and membership record we lack. Rate-limited. */
  function askRecords(peer: string): void {
    if (!due(lastFetch, `records:${peer}`, cfg.T_timeout)) return;
    opts.send(peer, { type: 'recordRequest', site, epoch: membership?.epoch ?? 0 });
  }

  function codeFor(reason: string): ErrorCode {
    if (reason.includes('hash chain') || reason.includes('does not follow')) return 'ERR_BROKEN_CHAIN';
    if (reason.includes('arrival') || reason.includes('twice')) return 'ERR_ARRIVAL_WINDOW';
    if (reason.includes('stamp')) return 'ERR_STAMP_ORDER';
    if (reason.includes('ahead')) return 'ERR_TOO_FAR_AHEAD';
    return 'ERR_MALFORMED';
  }

  function onConflict(held: ChainItem, ts: Timeslot): void {
    const k = `${ts.server}\u0000${ts.seq}`;
    if (equivSeen.has(k)) return;
    equivSeen.add(k);
    equivs.push({ server: ts.server, seq: ts.seq });
    liars.add(ts.server);
    observe({ kind: 'equivocation', server: ts.server, seq: ts.seq });
    reject(ts.server, 'timeslot', 'ERR_EQUIVOCATION', `${ts.server}#${ts.seq}`);
    if (held.full) opts.send(ADMIN_ID, { type: 'equivocationProof', site, a: held.full, b: ts });
    // It will be evicted; ask for the cut now (holding back our heads of it) rather than wait.
    const m = members.get(ts.server);
    if (m && isActive(m)) requestIgnore(ts.server);
  }

  function onHeads(p: string, item: ChainItem): void {
    if (checkSelf) {
      selfChecked.add(p);
      const mine = item.heads.find((h) => h[0] === me);
      if (mine && mine[1] > (chains.get(me)?.top.seq ?? 0)) {
        status = 'evicted';
        sync = null;
        reject(p, 'timeslot', 'ERR_EQUIVOCATION', `peers hold our Timeslot #${mine[1]}: a restarted server must not sign again`);
        return;
      }
    }
    const now = opts.now();
    let d = declared.get(p);
    if (!d) declared.set(p, (d = new Map()));
    for (const y of [...d.keys()]) if (!item.ignoring.includes(y)) d.delete(y);
    for (const y of item.ignoring) if (!d.has(y)) d.set(y, now);
    for (const [y, h, hash] of item.heads) {
      if (y === p) continue;
      checkHead(p, y, h, hash);
    }
  }

  function checkHead(p: string, y: string, h: number, hash: string): void {
    const ch = chains.get(y);
    if (!ch || h > ch.top.seq) {
      let m = pendingHead.get(p);
      if (!m) pendingHead.set(p, (m = new Map()));
      let claims = m.get(y);
      if (!claims) m.set(y, (claims = new Map()));
      claims.set(h, hash);
      if (claims.size > MAX_PENDING_CLAIMS) claims.delete(Math.min(...claims.keys()));
      // P holds Timeslots of Y that we lack: ask P for them now rather than T_timeout later
      // (a server that withholds its Timeslots from us costs one hop, not a timeout).
      if (ch && y !== me && members.has(y)) {
        if (due(lastFetch, `echo-fetch:${y}`, T / 2)) {
          opts.send(p, {
            type: 'timeslotRequest',
            site,
            server: y,
            fromSeq: ch.top.seq + 1,
            toSeq: Math.min(h, ch.top.seq + MAX_TIMESLOTS_PER_REPLY),
          });
        }
      }
      return;
    }
    let c = cover.get(p);
    if (!c) cover.set(p, (c = new Map()));
    if (h <= ch.anchor.seq) {
      if (h === ch.anchor.seq && ch.anchor.hash !== hash) return suspect(p, y, h);
      if ((c.get(y) ?? -1) < h) c.set(y, h);
      return;
    }
    if (ch.hashOf(h) === hash) {
      if ((c.get(y) ?? -1) < h) c.set(y, h);
    } else suspect(p, y, h);
  }

  /** P echoed a different Y#h than ours: fetch P's copy (a proof if Y signed both). */
  function suspect(p: string, y: string, h: number): void {
    if (!due(suspicion, `${p}\u0000${y}\u0000${h}`, cfg.T_timeout)) return;
    if (y === me) return; // someone claims another version of our own: nothing to fetch
    opts.send(p, { type: 'timeslotRequest', site, server: y, fromSeq: h, toSeq: h });
  }

  function recheckPendingHeads(y: string): void {
    const ch = chains.get(y);
    if (!ch) return;
    for (const [p, m] of pendingHead) {
      const claims = m.get(y);
      if (!claims) continue;
      for (const [h, hash] of [...claims]) {
        if (h > ch.top.seq) continue;
        claims.delete(h);
        checkHead(p, y, h, hash);
      }
      if (claims.size === 0) m.delete(y);
    }
  }

  function noteAnnounce(server: string, seq: number, hash: string): void {
    let m = announced.get(server);
    if (!m) announced.set(server, (m = new Map()));
    m.set(seq, hash);
    if (m.size > 4 * cfg.keepUpdates) {
      const min = Math.min(...m.keys());
      m.delete(min);
    }
  }

  /** Asks the other servers (and the server itself) for Y's Timeslots [from, to]. Rate-limited. */
  function fetchRange(y: string, from: number, to: number, why: string): void {
    if (to < from) return;
    if (!due(lastFetch, `${y}:${why}`, cfg.T_timeout / 2)) return;
    const msg: PeerMessage = {
      type: 'timeslotRequest',
      site,
      server: y,
      fromSeq: from,
      toSeq: Math.min(to, from + MAX_TIMESLOTS_PER_REPLY - 1),
    };
    for (const id of activeIds()) if (id !== me && id !== y) opts.send(id, msg);
    if (y !== me && members.get(y)?.slot !== null) opts.send(y, msg); // it has its own, even while ignored
  }

  // -------------------------------------------------------------------------------------------
  // Liveness: TRM, ignore requests, echo lag, readmission and replacement (section 4.4)
  // -------------------------------------------------------------------------------------------

  function requestMembership(kind: 'ignore' | 'readmit' | 'replace', target: string, every: number): void {
    const k = `${kind}:${target}`;
    // Not while a withdrawal is unanswered: its answer would let us unfreeze with this request pending.
    if (kind === 'ignore' && withdrawing.has(target)) return;
    if (!due(lastRequest, k, every)) return;
    const no = nextRequestNo++;
    requestNo.set(k, no);
    const ch = chains.get(target);
    let held: Timeslot | null = null;
    if (ch) {
      const seq = kind === 'ignore' ? (frozen.get(target)?.seq ?? ch.top.seq) : ch.top.seq;
      held = ch.get(seq)?.full ?? null;
    }
    observe({ kind: 'membershipRequest', request: kind, target });
    opts.send(ADMIN_ID, { type: 'membershipRequest', site, epoch: membership?.epoch ?? 0, no, kind, target, held });
  }

  /**
   * Y, which we froze, is back in time and in step: drop our ignore request now rather than hold
   * every window back until the admin declines it for want of a majority (one server's late view
   * of a peer must not stall the site). Y stays frozen until the admin answers this withdrawal.
   */
  function withdrawIgnore(y: string): void {
    if (!due(lastRequest, `withdraw:${y}`, cfg.T_req_timeout)) return;
    withdrawing.add(y);
    const no = nextRequestNo++;
    requestNo.set(`ignore:${y}`, no);
    opts.send(ADMIN_ID, { type: 'withdrawRequest', site, epoch: membership?.epoch ?? 0, no, target: y });
  }

  function requestIgnore(y: string): void {
    const self = members.get(me);
    if (!self || !isActive(self)) return; // a server that is itself ignored has no say (and no echo to hold back)
    if (!frozen.has(y)) {
      const ch = chains.get(y);
      frozen.set(y, { seq: ch ? ch.top.seq : 0, at: opts.now() });
    }
    requestMembership('ignore', y, 4 * cfg.T_req_timeout);
  }

  function livenessChecks(): void {
    if (!membership || status === 'waiting' || status === 'evicted') return;
    const now = opts.now();
    const active = activeIds();
    /** Frozen servers that look fine again (on time, echoing in step): candidates for withdrawal. */
    const recovered = new Set<string>();
    for (const y of active) {
      if (y === me) continue;
      const ch = chains.get(y);
      const since = Math.max(startedAt, memberSince.get(y) ?? startedAt);
      const last = ch && Number.isFinite(ch.top.stamp) ? Math.max(ch.top.stamp, since) : since;
      const fr = frozen.get(y);
      if (fr) {
        if (now - last <= cfg.T_timeout && (ch?.top.seq ?? 0) > fr.seq) recovered.add(y);
        continue;
      }
      if (now - last <= cfg.T_timeout) {
        trm.delete(y);
        continue;
      }
      const t = trm.get(y);
      if (!t) {
        const from = (ch?.top.seq ?? 0) + 1;
        const asked = new Set(active.filter((id) => id !== y && id !== me));
        const msg: PeerMessage = { type: 'timeslotRequest', site, server: y, fromSeq: from, toSeq: from + MAX_TIMESLOTS_PER_REPLY - 1 };
        for (const id of asked) opts.send(id, msg);
        trm.set(y, { sentAt: now, asked, noHelp: new Set() });
      } else if (now - t.sentAt >= cfg.T_req_timeout || [...t.asked].every((id) => t.noHelp.has(id))) {
        requestIgnore(y);
      }
    }
    // Echo lag: a server that does not confirm what everyone else holds blocks stability.
    for (const p of active) {
      if (p === me) continue;
      let lag: { y: string; from: number; to: number } | null = null;
      for (const [y, ch] of chains) {
        // Our own Timeslots are skipped: if peers echo another version of them, someone rewrote
        // what we sent (only a cheating host does), and blaming the peers would not help.
        // A proven liar's branches make honest echoes differ: not the echoer's fault.
        if (y === p || y === me || liars.has(y)) continue;
        const my = members.get(y);
        if (!my || !isActive(my)) continue;
        // P asked the admin to ignore Y and holds its heads of Y back: not lag, unless the admin
        // should long have answered (then P is stalling on purpose).
        const since = declared.get(p)?.get(y);
        if (since !== undefined && now - since < declineAfter(cfg) + cfg.T_timeout) continue;
        let j = -1;
        for (let i = ch.items.length - 1; i >= 0; i--) {
          const it = ch.items[i];
          if (it && now - it.receivedAt > cfg.T_timeout) {
            j = it.seq;
            break;
          }
        }
        const fr = frozen.get(y);
        if (fr) j = Math.min(j, fr.seq);
        const c = cover.get(p)?.get(y) ?? ch.anchor.seq;
        if (j > c) {
          lag = { y, from: c + 1, to: j };
          break;
        }
      }
      if (frozen.has(p)) {
        if (lag) recovered.delete(p);
        continue;
      }
      if (!lag) {
        lagSince.delete(p);
        continue;
      }
      if (!lagSince.has(p)) lagSince.set(p, now);
      const lp = lastPush.get(p);
      if (lp === undefined || now - lp >= cfg.T_timeout) {
        lastPush.set(p, now);
        const ts = chains.get(lag.y)?.range(lag.from, lag.to, MAX_TIMESLOTS_PER_REPLY) ?? [];
        if (ts.length > 0) opts.send(p, { type: 'timeslotReply', site, timeslots: ts });
      }
      if (now - (lagSince.get(p) ?? now) > cfg.T_req_timeout) requestIgnore(p);
    }
    // Our ignore requests stay until the admin answers (a cut, or declined): ask again now and then,
    // in case the request or the answer was lost. (Unfreezing without an answer could break the cut.)
    for (const y of frozen.keys()) {
      if (recovered.has(y) && !liars.has(y) && !calledWhileWithdrawing.has(y)) withdrawIgnore(y);
      else if (withdrawing.has(y)) withdrawIgnore(y); // repeated until answered, in case it was lost
      else requestMembership('ignore', y, repeatRequestAfter(cfg));
    }
    // Ignored servers: back in time and in step -> readmit; silent for T_ignore -> replace.
    for (const m of members.values()) {
      if (m.id === me || m.slot === null || !latestStint(m).cut) continue;
      const ch = chains.get(m.id);
      const at = ignoredAt.get(m.id) ?? now;
      const fresh = ch && Number.isFinite(ch.top.stamp) && now - ch.top.stamp <= cfg.T_timeout && ch.top.seq > (latestStint(m).cut?.seq ?? 0);
      const mineTop = chains.get(me)?.top.seq ?? 0;
      const inStep =
        (declared.get(m.id)?.size ?? 0) === 0 && (cover.get(m.id)?.get(me) ?? -1) >= mineTop - Math.ceil(cfg.T_timeout / T) - 1;
      if (fresh && inStep) {
        requestMembership('readmit', m.id, cfg.T_ignore);
      } else if (now - at >= cfg.T_ignore) {
        requestMembership('replace', m.id, cfg.T_ignore);
      }
    }
    // Gaps in chains (buffered Timeslots waiting for missing ones).
    for (const [y, ch] of chains) {
      if (y === me || ch.future.size === 0) continue;
      const next = Math.min(...ch.future.keys());
      fetchRange(y, ch.top.seq + 1, next - 1, 'gap');
    }
  }

  function requestContent(): void {
    const now = opts.now();
    const byServer = new Map<string, Array<[string, number, string]>>();
    for (const [k, w] of wanted) {
      if (contents.has(k)) {
        wanted.delete(k);
        continue;
      }
      if (now - w.since < cfg.T_content) continue;
      if (w.askedAt !== null && now - w.askedAt < cfg.T_content) continue;
      w.askedAt = now;
      const rec = actions.get(k);
      if (!rec) {
        wanted.delete(k);
        continue;
      }
      for (const server of rec.reports.keys()) {
        if (server === me) continue;
        let list = byServer.get(server);
        if (!list) byServer.set(server, (list = []));
        if (list.length < 256) list.push([rec.user, rec.actionNo, rec.hash]);
      }
    }
    for (const [server, items] of byServer) opts.send(server, { type: 'contentRequest', site, items });
  }

  // -------------------------------------------------------------------------------------------
  // Out of step: resync by state transfer from the majority
  // -------------------------------------------------------------------------------------------

  function checkOutOfStep(): void {
    if (status !== 'running') return;
    const others = activeIds().filter((id) => id !== me);
    for (const entry of log.slice(Math.max(checkFrom, log.length - cfg.keepUpdates))) {
      const tally = new Map<string, number>();
      for (const id of others) {
        const h = announced.get(id)?.get(entry.seq);
        if (h !== undefined) tally.set(h, (tally.get(h) ?? 0) + 1);
      }
      for (const [h, n] of tally) {
        if (h !== entry.hash && n >= N_maj) return startSync(`update ${entry.seq} differs from the majority`);
      }
    }
    let ahead = 0;
    for (const id of others) {
      const m = announced.get(id);
      if (m && m.size > 0 && Math.max(...m.keys()) > lastSeq + Math.floor(cfg.keepUpdates / 2)) ahead++;
    }
    if (ahead >= N_maj) startSync('far behind the majority');
  }

  function startSync(reason: string): void {
    if (status === 'syncing' || status === 'evicted') return;
    status = 'syncing';
    observe({ kind: 'resync', reason, seq: lastSeq });
    sync = {
      reason,
      tried: new Set(),
      provider: null,
      startedAt: opts.now(),
      seq: null,
      hash: null,
      count: 0,
      chunks: [],
      payload: null,
      askedHashesAt: null,
    };
    askNextProvider();
  }

  function askNextProvider(): void {
    if (!sync) return;
    const cands = activeIds().filter((id) => id !== me);
    if (cands.length === 0) return;
    let pool = cands.filter((id) => !sync?.tried.has(id));
    if (pool.length === 0) {
      sync.tried.clear();
      pool = cands;
    }
    const latest = (id: string): number => {
      const m = announced.get(id);
      return m && m.size > 0 ? Math.max(...m.keys()) : -1;
    };
    pool.sort((a, b) => latest(b) - latest(a) || (a < b ? -1 : 1));
    const p = pool[0];
    if (p === undefined) return;
    sync.tried.add(p);
    sync.provider = p;
    sync.startedAt = opts.now();
    sync.seq = null;
    sync.hash = null;
    sync.count = 0;
    sync.chunks = [];
    sync.payload = null;
    sync.askedHashesAt = null;
    opts.send(p, { type: 'stateRequest', site, seq: null });
  }

  function onStateChunk(from: string, msg: PeerOf<'stateChunk'>): void {
    if (!sync || from !== sync.provider || sync.payload) return;
    if (sync.seq === null) {
      sync.seq = msg.seq;
      sync.hash = msg.hash;
      sync.count = msg.count;
      sync.chunks = new Array<Uint8Array | undefined>(msg.count);
    }
    if (msg.seq !== sync.seq || msg.hash !== sync.hash || msg.count !== sync.count || msg.index >= sync.count) {
      reject(from, 'stateChunk', 'ERR_STALE', 'chunk of another transfer');
      return;
    }
    sync.chunks[msg.index] = msg.data;
    if (sync.chunks.some((c) => c === undefined) || sync.chunks.length !== sync.count) return;
    const total = sync.chunks.reduce((n, c) => n + (c?.byteLength ?? 0), 0);
    const bytes = new Uint8Array(total);
    let off = 0;
    for (const c of sync.chunks) {
      if (c) bytes.set(c, off);
      off += c?.byteLength ?? 0;
    }
    const parsed = decodeTransfer(bytes);
    if (!parsed.ok) {
      reject(from, 'stateChunk', 'ERR_MALFORMED', parsed.message);
      return askNextProvider();
    }
    const p = parsed.value;
    const { hash: claimed, ...body } = p.update;
    if (
      p.update.site !== site ||
      p.state.site !== site ||
      p.update.seq !== sync.seq ||
      claimed !== sync.hash ||
      updateHash(body) !== claimed ||
      hashOf(p.state) !== p.update.stateHash ||
      p.state.window !== p.update.window
    ) {
      reject(from, 'stateChunk', 'ERR_BAD_HASH', 'transferred state does not match its hashes');
      return askNextProvider();
    }
    sync.payload = p;
    tryAdopt();
  }

  function vouchers(seq: number, hash: string): number {
    let n = 0;
    for (const id of activeIds()) {
      if (id === me) continue;
      if (announced.get(id)?.get(seq) === hash) n++;
    }
    return n;
  }

  function tryAdopt(): void {
    if (!sync?.payload) return;
    const p = sync.payload;
    if (vouchers(p.update.seq, p.update.hash) < N_maj) {
      if (sync.askedHashesAt === null) {
        sync.askedHashesAt = opts.now();
        for (const id of activeIds()) if (id !== me) opts.send(id, { type: 'hashRequest', site, seq: p.update.seq });
      }
      return;
    }
    adopt(p);
  }

  function adopt(p: TransferPayload): void {
    const st = p.state;
    snapshot = st.snapshot;
    frontier = st.window;
    lastSeq = p.update.seq;
    lastHash = p.update.hash;
    hashBySeq.set(lastSeq, lastHash);
    dedupe = AppliedSet.fromList(st.applied);
    actions.clear();
    wanted.clear();
    for (const [user, actionNo, hash, reps] of st.pending) {
      for (const [server, arrival] of reps) addReport(server, user, actionNo, hash, arrival, 0);
    }
    // Chains: anchor at the hinted positions unless what we hold already covers them.
    for (const [id, seq, hash, stamp] of p.hints.chains) {
      if (id === me) continue;
      const ch = chains.get(id);
      const anchor = { seq, hash, stamp: stamp <= -1e299 ? -Infinity : stamp };
      if (!ch) {
        chains.set(id, new Chain(id, anchor, cfg.maxEntries, cfg.keepTimeslots));
        continue;
      }
      const held = ch.hashOf(seq);
      if (held === hash) continue;
      ch.reset(anchor);
    }
    for (const [id, epoch, seq, stamp] of p.hints.marks) {
      const ch = chains.get(id);
      if (ch && !ch.marks.some((m) => m.seq === seq)) {
        ch.marks.push({ epoch, seq, stamp });
        ch.marks.sort((a, b) => a.seq - b.seq);
      }
    }
    admissionCache.clear();
    for (const [id, ch] of chains) for (const it of ch.items) indexItem(id, it, frontier);
    const upd = p.update;
    const entry: AppliedUpdate = {
      seq: upd.seq,
      hash: upd.hash,
      prev: upd.prev,
      window: upd.window,
      applied: upd.applied.map(([user, actionNo]) => ({ user, actionNo, hash: '', median: Number.NaN })),
      events: upd.events,
      adopted: true,
    };
    log.push(entry);
    checkFrom = log.length - 1; // what we produced before is superseded, not to be compared again
    stored.push({ update: { ...p.update, type: 'update' }, state: st, hints: p.hints });
    while (stored.length > cfg.keepUpdates) stored.shift();
    sync = null;
    status = 'running';
    observe({ kind: 'resynced', seq: lastSeq, hash: lastHash });
    for (const [id, ch] of chains) if (id !== me) fetchRange(id, ch.top.seq + 1, ch.top.seq + MAX_TIMESLOTS_PER_REPLY, 'resync');
  }

  function syncTimeouts(): void {
    if (!sync) return;
    const now = opts.now();
    const limit = 3 * cfg.T_req_timeout + 10 * T;
    if (now - sync.startedAt > limit) askNextProvider();
  }

  function serveState(from: string, seq: number | null): void {
    if (initMsg && status === 'running' && (stored.length === 0 || (seq !== null && seq <= initMsg.seq))) {
      // No update yet: the state is the hand-over itself, which the admin signed.
      opts.send(from, initMsg);
      return;
    }
    const s = seq === null ? stored[stored.length - 1] : stored.find((x) => x.update.seq === seq);
    if (!s || status !== 'running') return;
    const { type: _t, ...update } = s.update;
    void _t;
    const bytes = encodeTransfer({ update, state: s.state, hints: s.hints });
    const count = Math.max(1, Math.ceil(bytes.byteLength / STATE_CHUNK_BYTES));
    for (let i = 0; i < count; i++) {
      opts.send(from, {
        type: 'stateChunk',
        site,
        seq: s.update.seq,
        hash: s.update.hash,
        index: i,
        count,
        data: bytes.slice(i * STATE_CHUNK_BYTES, (i + 1) * STATE_CHUNK_BYTES),
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Membership and start
  // -------------------------------------------------------------------------------------------

  function applyMembership(rec: Membership, from: string): void {
    if (rec.site !== site) return reject(from, 'membership', 'ERR_WRONG_SITE', rec.site);
    if (!verifyMembership(rec, opts.adminKey, crypto)) return reject(from, 'membership', 'ERR_BAD_SIGNATURE', 'membership');
    if (membership && rec.epoch <= membership.epoch) return;
    const before = members;
    membership = rec;
    members = new Map(rec.members.map((m) => [m.id, m]));
    observe({ kind: 'membership', epoch: rec.epoch, change: rec.change.kind, target: rec.change.target });
    const now = opts.now();
    for (const m of members.values()) {
      if (!memberSince.has(m.id)) memberSince.set(m.id, now);
      const was = before.get(m.id);
      const cut = latestStint(m).cut;
      if (cut) {
        frozen.delete(m.id);
        trm.delete(m.id);
        lagSince.delete(m.id);
        withdrawing.delete(m.id);
        calledWhileWithdrawing.delete(m.id);
        if (!was || latestStint(was).cut === null || was.stints.length !== m.stints.length) {
          ignoredAt.set(m.id, now);
          observe({ kind: 'ignored', server: m.id, cutSeq: cut.seq, epoch: rec.epoch });
        }
      } else if (was && (latestStint(was).cut !== null || was.stints.length !== m.stints.length)) {
        ignoredAt.delete(m.id);
        memberSince.set(m.id, now);
        observe({ kind: 'admitted', server: m.id, epoch: rec.epoch });
      } else if (!was && before.size > 0) {
        observe({ kind: 'admitted', server: m.id, epoch: rec.epoch });
      }
    }
    const self = members.get(me);
    if (self && latestStint(self).cut) {
      frozen.clear(); // we are ignored: our heads count for nothing
      withdrawing.clear();
      calledWhileWithdrawing.clear();
    }
    if (!self || self.slot === null) {
      if (status !== 'waiting' || self) {
        status = 'evicted';
        sync = null;
      }
      return;
    }
    if (status === 'waiting' && isActive(self)) {
      startedAt = now;
      if (nextSlotAt === null) nextSlotAt = (Math.floor(now / T) + 1) * T;
      startSync('joining');
    }
  }

  function start(init: SiteInit): void {
    if (status !== 'waiting') return;
    if (init.site !== site) return reject(ADMIN_ID, 'siteInit', 'ERR_WRONG_SITE', init.site);
    if (!verifySiteInit(init, opts.adminKey, crypto) || !verifyMembership(init.membership, opts.adminKey, crypto)) {
      return reject(ADMIN_ID, 'siteInit', 'ERR_BAD_SIGNATURE', 'siteInit');
    }
    initMsg = init;
    if (!init.membership.members.some((m) => m.id === me)) return; // not for us (a forwarded hand-over)
    membership = init.membership;
    members = new Map(init.membership.members.map((m) => [m.id, m]));
    snapshot = init.state;
    frontier = ceilGrid(init.start);
    lastStamp = frontier;
    lastSeq = init.seq;
    lastHash = init.prev;
    for (const [user, no] of init.lastActionNo) dedupe.setFloor(user, no);
    for (const m of members.values()) {
      chains.set(m.id, new Chain(m.id, { seq: 0, hash: ZERO_HASH, stamp: frontier }, cfg.maxEntries, cfg.keepTimeslots));
    }
    startedAt = opts.now();
    nextSlotAt = Math.max(frontier + T, (Math.floor(startedAt / T) + 1) * T);
    status = 'running';
    observe({ kind: 'membership', epoch: init.membership.epoch, change: 'init', target: null });
  }

  /** A joiner before any update exists: start from the (admin-signed) hand-over and replay. */
  function adoptInit(init: SiteInit): void {
    if (init.site !== site) return;
    if (!verifySiteInit(init, opts.adminKey, crypto) || !verifyMembership(init.membership, opts.adminKey, crypto)) {
      return reject(ADMIN_ID, 'siteInit', 'ERR_BAD_SIGNATURE', 'siteInit');
    }
    initMsg = init;
    snapshot = init.state;
    frontier = ceilGrid(init.start);
    lastSeq = init.seq;
    lastHash = init.prev;
    dedupe.clear();
    for (const [user, no] of init.lastActionNo) dedupe.setFloor(user, no);
    actions.clear();
    for (const m of init.membership.members) {
      if (m.id === me) continue;
      const ch = chains.get(m.id);
      const anchor = { seq: 0, hash: ZERO_HASH, stamp: frontier };
      if (!ch) chains.set(m.id, new Chain(m.id, anchor, cfg.maxEntries, cfg.keepTimeslots));
      else if (ch.anchor.seq === 0 && ch.anchor.hash === ZERO_HASH) ch.anchor = anchor;
      else ch.reset(anchor);
    }
    admissionCache.clear();
    for (const [id, ch] of chains) for (const it of ch.items) indexItem(id, it, frontier);
    sync = null;
    status = 'running';
    observe({ kind: 'resynced', seq: lastSeq, hash: lastHash });
    for (const [id, ch] of chains) if (id !== me) fetchRange(id, ch.top.seq + 1, ch.top.seq + MAX_TIMESLOTS_PER_REPLY, 'resync');
  }

  // -------------------------------------------------------------------------------------------
  // Entry points
  // -------------------------------------------------------------------------------------------

  function onAction(from: string, msg: PeerOf<'action'>): void {
    if (msg.site !== site) return reject(from, 'action', 'ERR_WRONG_SITE', msg.site);
    const hash = actionContentHash(msg);
    const k = key3(msg.user, msg.actionNo, hash);
    if (from !== msg.user) {
      // A server forwarding content we asked for: accepted only for a known (user, no, hash).
      if (members.has(from) && actions.has(k) && !contents.has(k)) {
        contents.set(k, { kind: 'user', action: msg.action });
        finalizeLoop();
      } else if (!members.has(from)) reject(from, 'action', 'ERR_UNKNOWN_PEER', 'action not from its user');
      return;
    }
    if (msg.user === SYSTEM_ACTOR || members.has(msg.user)) return reject(from, 'action', 'ERR_UNKNOWN_PEER', 'reserved name');
    record(msg.user, msg.actionNo, hash, k, { kind: 'user', action: msg.action }, from, 'action');
  }

  function onSysAction(from: string, msg: SysActionMessage): void {
    if (msg.site !== site) return reject(from, 'sysAction', 'ERR_WRONG_SITE', msg.site);
    if (!verifySysAction(msg, opts.adminKey, crypto)) return reject(from, 'sysAction', 'ERR_BAD_SIGNATURE', 'sysAction');
    const hash = sysActionContentHash(msg);
    const k = key3(SYSTEM_ACTOR, msg.sysNo, hash);
    if (from !== ADMIN_ID) {
      if (members.has(from) && actions.has(k) && !contents.has(k)) {
        contents.set(k, { kind: 'sys', msg });
        finalizeLoop();
      }
      return;
    }
    record(SYSTEM_ACTOR, msg.sysNo, hash, k, { kind: 'sys', msg }, from, 'sysAction');
  }

  function record(user: string, no: number, hash: string, k: string, content: Content, from: string, type: string): void {
    if (status === 'waiting' || status === 'evicted') return;
    const rk = key2(user, no);
    if (recorded.has(rk) || isApplied(user, no)) return;
    if (outbox.length >= cfg.maxEntries) return reject(from, type, 'ERR_RATE_LIMITED', 'timeslot full');
    const arrival = clampArrival(opts.now());
    recorded.set(rk, arrival);
    outbox.push([user, no, arrival, hash]);
    if (!contents.has(k)) contents.set(k, content);
  }

  function onContentRequest(from: string, msg: PeerOf<'contentRequest'>): void {
    if (!members.has(from)) return;
    for (const [user, actionNo, hash] of msg.items) {
      const c = contents.get(key3(user, actionNo, hash));
      if (!c) continue;
      if (c.kind === 'user') opts.send(from, { type: 'action', site, user, actionNo, action: c.action });
      else opts.send(from, c.msg);
    }
  }

  function onTimeslotRequest(from: string, msg: PeerOf<'timeslotRequest'>): void {
    if (!members.has(from)) return reject(from, 'timeslotRequest', 'ERR_UNKNOWN_PEER', 'not a member');
    const ch = chains.get(msg.server);
    const to = Math.min(msg.toSeq, msg.fromSeq + MAX_TIMESLOTS_PER_REPLY - 1);
    const timeslots = ch ? ch.range(msg.fromSeq, to, MAX_TIMESLOTS_PER_REPLY) : [];
    opts.send(from, { type: 'timeslotReply', site, timeslots });
  }

  function onTimeslotReply(from: string, msg: PeerOf<'timeslotReply'>): void {
    if (!members.has(from)) return reject(from, 'timeslotReply', 'ERR_UNKNOWN_PEER', 'not a member');
    if (msg.timeslots.length === 0) {
      for (const t of trm.values()) if (t.asked.has(from)) t.noHelp.add(from);
      return;
    }
    const sorted = [...msg.timeslots].sort((a, b) => a.seq - b.seq);
    for (const ts of sorted) onTimeslot(ts, from, false);
  }

  function handle(from: string, msg: PeerMessage): void {
    // Admin-signed records are accepted from anyone: the signature is what counts.
    if (msg.type === 'siteInit') {
      if (status === 'waiting') {
        start(msg);
        if (from !== ADMIN_ID && (status as ServerStatus) === 'running') checkSelf = true;
        return;
      }
      if (status === 'syncing' && snapshot === null) return adoptInit(msg);
      return;
    }
    if (msg.type === 'membership') {
      const { type: _t, ...rec } = msg;
      void _t;
      return applyMembership(rec, from);
    }
    if (msg.site !== site) return reject(from, msg.type, 'ERR_WRONG_SITE', msg.site);
    switch (msg.type) {
      case 'action':
        return onAction(from, msg);
      case 'sysAction':
        return onSysAction(from, msg);
      case 'timeslot': {
        const { type: _t, ...ts } = msg;
        void _t;
        return onTimeslot(ts, from, true);
      }
      case 'timeslotRequest':
        return onTimeslotRequest(from, msg);
      case 'timeslotReply':
        return onTimeslotReply(from, msg);
      case 'contentRequest':
        return onContentRequest(from, msg);
      case 'stateRequest':
        // Servers (joining, resyncing), users on the site (entering a running P2P site) and the
        // admin (taking the site back, saving it).
        if (!members.has(from) && !isUserHere(from) && from !== ADMIN_ID) return reject(from, msg.type, 'ERR_UNKNOWN_PEER', 'not a member');
        return serveState(from, msg.seq);
      case 'stateChunk':
        return onStateChunk(from, msg);
      case 'hashRequest': {
        if (!members.has(from) && !isUserHere(from) && from !== ADMIN_ID) return;
        const h = hashBySeq.get(msg.seq);
        if (h !== undefined && status === 'running') opts.send(from, { type: 'updateHash', site, seq: msg.seq, hash: h });
        return;
      }
      case 'updateHash':
      case 'update':
        if (members.has(from)) {
          noteAnnounce(from, msg.seq, msg.hash);
          tryAdopt();
        }
        return;
      case 'echo': {
        if (!members.has(from) || from === me) return;
        const fake: ChainItem = {
          seq: 0,
          hash: '',
          stamp: 0,
          epoch: 0,
          entries: [],
          heads: msg.heads,
          update: null,
          ignoring: msg.ignoring ?? [],
          full: null,
          receivedAt: 0,
        };
        onHeads(from, fake);
        return;
      }
      case 'recordRequest': {
        if (initMsg && msg.epoch === 0) opts.send(from, initMsg);
        if (membership && membership.epoch > msg.epoch) opts.send(from, { type: 'membership', ...membership });
        return;
      }
      case 'updateRequest': {
        const st = stored.find((x) => x.update.seq === msg.seq);
        if (st && status === 'running') opts.send(from, st.update);
        return;
      }
      case 'ignoreCall': {
        if (from !== ADMIN_ID) return;
        const m = members.get(msg.target);
        if (m && isActive(m) && msg.target !== me) {
          liars.add(msg.target); // the admin verified a proof against it: never withdraw this request
          if (withdrawing.has(msg.target)) {
            calledWhileWithdrawing.add(msg.target);
            return;
          }
          // Keep an existing freeze point: a request we sent with it may already be the admin's
          // cut, and moving it up would let us use the target's Timeslots past that cut.
          lastRequest.delete(`ignore:${msg.target}`);
          requestIgnore(msg.target);
        }
        return;
      }
      case 'requestDeclined': {
        if (from !== ADMIN_ID) return;
        const k = `${msg.kind}:${msg.target}`;
        // An answer to an older request: a newer one (a repeat, a withdrawal) may still be pending.
        if (msg.no !== requestNo.get(k)) return;
        requestNo.delete(k);
        if (msg.kind === 'ignore') {
          frozen.delete(msg.target);
          trm.delete(msg.target);
          lagSince.delete(msg.target);
          withdrawing.delete(msg.target);
          lastRequest.delete(`withdraw:${msg.target}`);
          if (calledWhileWithdrawing.delete(msg.target)) requestIgnore(msg.target);
        }
        lastRequest.delete(k);
        return;
      }
      default:
        return; // equivocationProof, membershipRequest, flagReport: for the admin
    }
  }

  if (opts.init) start(opts.init);

  return {
    id: me,
    receive(from, raw) {
      try {
        const parsed = parsePeerMessage(raw);
        if (!parsed.ok) {
          reject(from, String((raw as { type?: unknown } | null)?.type ?? '?'), parsed.code, parsed.message);
          return;
        }
        handle(from, parsed.value);
        finalizeLoop();
      } catch (e) {
        reject(from, '?', 'ERR_INTERNAL', e instanceof Error ? e.message : String(e));
      }
    },
    nextWakeAt() {
      if (status === 'waiting' || status === 'evicted') return null;
      if (echoDueAt !== null && (nextSlotAt === null || echoDueAt < nextSlotAt)) return echoDueAt;
      return nextSlotAt;
    },
    tick() {
      try {
        if (status === 'waiting' || status === 'evicted') return;
        const now = opts.now();
        if (nextSlotAt !== null && now >= nextSlotAt) emitTimeslot();
        if (echoDueAt !== null && now >= echoDueAt) maybeEcho(true);
        livenessChecks();
        requestContent();
        syncTimeouts();
        checkOutOfStep();
        finalizeLoop();
        prune();
      } catch (e) {
        reject(me, 'tick', 'ERR_INTERNAL', e instanceof Error ? e.message : String(e));
      }
    },
    status: () => status,
    appliedLog: () => log,
    lastUpdate: () => ({ seq: lastSeq, hash: lastHash }),
    ignored: () =>
      [...members.values()]
        .filter((m) => latestStint(m).cut !== null)
        .map((m) => ({ server: m.id, cutSeq: latestStint(m).cut?.seq ?? 0 })),
    membership: () => membership,
    snapshot: () => snapshot,
    timeslotSeq: () => chains.get(me)?.top.seq ?? 0,
    equivocations: () => equivs,
    blockedReason: () => blocked,
    frontier: () => frontier,
  };

  function prune(): void {
    if (!Number.isFinite(frontier)) return;
    const horizon = frontier - HORIZON_WINDOWS * T;
    for (const [id, ch] of chains) {
      let keepFrom = ch.anchor.seq;
      for (const it of ch.items) {
        if (it.stamp < horizon) keepFrom = it.seq;
        else break;
      }
      const m = members.get(id);
      const cut = m ? latestStint(m).cut : null;
      if (cut) keepFrom = Math.min(keepFrom, cut.seq);
      keepFrom = Math.min(keepFrom, stableSeq(id, true));
      ch.prune(keepFrom, cfg.keepTimeslots);
    }
  }
}
