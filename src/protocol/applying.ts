/**
 * Applying of a Site Server: recording arrivals of actions, closing windows (the final actions in
 * median order, applied with the game rules), building and sending updates (full or hash,
 * rotating), and fetching the content of final actions we lack. This module alone writes the
 * ordering state (`ctx.ordering`); a hand-over or a transferred state replaces it through
 * `startOrdering` / `adoptOrdering`.
 */
import { applyAction } from '../game/rules.js';
import type { GameEvent, SiteAction, SiteSnapshot } from '../game/types.js';
import type { AppliedAction } from './api.js';
import { AppliedSet } from './applied.js';
import { hashOf } from './crypto.js';
import {
  ADMIN_ID,
  SYSTEM_ACTOR,
  type OrderingState,
  type PeerOf,
  type SiteInit,
  type SysActionMessage,
  type TransferPayload,
  type UpdateMessage,
} from './messages.js';
import { counted, noteBlocked, ownReportCounts, windowReady } from './finality.js';
import { dropApplied, pruneReports, unwant, wantNow } from './reports.js';
import { recordArrival } from './timeslots.js';
import {
  EPS,
  HORIZON_WINDOWS,
  isApplied,
  key2,
  key3,
  mySlot,
  reject,
  observe,
  type Content,
  type ServerCtx,
  own,
} from './serverContext.js';
import {
  actionContentHash,
  sendsFullUpdate,
  sysActionContentHash,
  updateHash,
  verifySysAction,
} from './signed.js';
import { finalCandidates, serverArrival } from './window.js';

/** Closes every window that may close now. */
export function finalizeLoop(ctx: ServerCtx): void {
  for (let i = 0; i < 1000; i++) {
    if (!windowReady(ctx)) return;
    if (!closeWindow(ctx)) return;
  }
}

/** Closes one window; false when content is missing. */
export function closeWindow(ctx: ServerCtx): boolean {
  const start = ctx.ordering.snapshot;
  if (!start) return false;
  const { T } = ctx;
  const { contents, appliedAt } = own(ctx, 'ordering');
  const b = own(ctx, 'ordering').frontier + T;
  dropApplied(ctx);
  const finals = finalCandidates(ctx.reports.actions.values(), b, ctx.N_maj, (server, r) => counted(ctx, server, r)).map((f) => ({
    rec: f.candidate,
    median: f.median,
  }));
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
      wantNow(ctx, k);
    }
  }
  if (missing) {
    requestContent(ctx);
    noteBlocked(ctx, `content missing for a final action of window ${b}`);
    return false;
  }

  let snap = start;
  const events: GameEvent[] = [];
  const applied: AppliedAction[] = [];
  for (const f of finals) {
    const { user, actionNo, hash } = f.rec;
    if (isApplied(ctx, user, actionNo)) continue;
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
    own(ctx, 'ordering').dedupe.add(user, actionNo);
    applied.push({ user, actionNo, hash, median: f.median });
  }
  // Contents of applied actions stay a while: a server still behind may ask for them.
  for (const a of applied) appliedAt.set(key3(a.user, a.actionNo, a.hash), b);
  for (const k of pruneReports(ctx, b - HORIZON_WINDOWS * T)) if (!appliedAt.has(k)) contents.delete(k);
  for (const [k, at] of appliedAt) {
    if (at > b - HORIZON_WINDOWS * T) break;
    appliedAt.delete(k);
    contents.delete(k);
  }
  own(ctx, 'ordering').frontier = b;
  own(ctx, 'ordering').snapshot = snap;
  if (applied.length > 0) produceUpdate(ctx, b, applied, events);
  return true;
}

/** The ordering state after window `b`: what the state hash covers and state transfer carries. */
export function buildState(ctx: ServerCtx, b: number): OrderingState {
  const pending: OrderingState['pending'] = [];
  const keys = [...ctx.reports.actions.keys()].sort();
  for (const k of keys) {
    const rec = ctx.reports.actions.get(k);
    if (!rec || isApplied(ctx, rec.user, rec.actionNo)) continue;
    const reps: Array<[string, number]> = [];
    for (const [server, rs] of rec.reports) {
      // The report that stands for the server, as `finalCandidates` takes it (one per server: the
      // state's format and hash are those of one report each).
      const a = serverArrival(rs, (r) => r.arrival <= b && counted(ctx, server, r));
      if (a !== null) reps.push([server, a]);
    }
    if (reps.length === 0) continue;
    reps.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    pending.push([rec.user, rec.actionNo, rec.hash, reps]);
  }
  const applied: OrderingState['applied'] = own(ctx, 'ordering').dedupe.toList();
  return { site: ctx.site, window: b, snapshot: own(ctx, 'ordering').snapshot as SiteSnapshot, applied, pending };
}

/** Where each chain stood at window `b`, and the epoch marks: where an adopter anchors. */
export function buildHints(ctx: ServerCtx, b: number): TransferPayload['hints'] {
  const hintChains: TransferPayload['hints']['chains'] = [];
  const marks: TransferPayload['hints']['marks'] = [];
  for (const [id, ch] of ctx.timeslots.chains) {
    // The last item stamped at or before b: stamps grow strictly along a chain (chain.ts), so
    // search from the top, where the few items past b are (a chain holds up to keepTimeslots).
    let pos: { seq: number; hash: string; stamp: number } = ch.anchor;
    for (let i = ch.items.length - 1; i >= 0; i--) {
      const it = ch.items[i] as (typeof ch.items)[number];
      if (it.stamp <= b) {
        pos = it;
        break;
      }
    }
    if (Number.isFinite(pos.stamp) || pos.seq === 0) hintChains.push([id, pos.seq, pos.hash, Number.isFinite(pos.stamp) ? pos.stamp : -1e300]);
    for (const mk of ch.marks) marks.push([id, mk.epoch, mk.seq, mk.stamp]);
  }
  return { chains: hintChains, marks };
}

function produceUpdate(ctx: ServerCtx, b: number, applied: AppliedAction[], events: GameEvent[]): void {
  const state = buildState(ctx, b);
  const body = {
    site: ctx.site,
    seq: own(ctx, 'ordering').lastSeq + 1,
    prev: own(ctx, 'ordering').lastHash,
    window: b,
    applied: applied.map((a): [string, number] => [a.user, a.actionNo]),
    events,
    stateHash: hashOf(state),
  };
  const hash = updateHash(body);
  const update: UpdateMessage = { type: 'update', ...body, hash };
  own(ctx, 'ordering').lastSeq = body.seq;
  own(ctx, 'ordering').lastHash = hash;
  own(ctx, 'ordering').hashBySeq.set(own(ctx, 'ordering').lastSeq, hash);
  own(ctx, 'ordering').log.push({ seq: own(ctx, 'ordering').lastSeq, hash, prev: body.prev, window: b, applied, events });
  own(ctx, 'ordering').stored.push({ update, state, hints: buildHints(ctx, b) });
  while (own(ctx, 'ordering').stored.length > ctx.cfg.keepUpdates) own(ctx, 'ordering').stored.shift();
  for (const s of own(ctx, 'ordering').hashBySeq.keys()) if (s < own(ctx, 'ordering').lastSeq - 4 * ctx.cfg.keepUpdates) own(ctx, 'ordering').hashBySeq.delete(s);
  observe(ctx, { kind: 'applied', seq: own(ctx, 'ordering').lastSeq, hash, window: b, applied });
  sendUpdate(ctx, update);
}

/**
 * To the users (and, for a `left` event, the leaver; and the admin for a departure or an update
 * that applied a system action, so that it stops sending that action again): in full or as a hash.
 */
function sendUpdate(ctx: ServerCtx, update: UpdateMessage): void {
  const slot = mySlot(ctx);
  if (slot === null || ctx.lifecycle.status !== 'running') return;
  const full = sendsFullUpdate(slot, update.seq, ctx.cfg.N_server, ctx.N_maj);
  const to = new Set<string>();
  for (const u of own(ctx, 'ordering').snapshot?.users ?? []) to.add(u.name);
  for (const e of update.events) if (e.kind === 'left') to.add(e.user.name);
  if (adminWants(update)) to.add(ADMIN_ID);
  to.delete(ctx.me);
  for (const u of to) {
    if (full) ctx.opts.send(u, update);
    else ctx.opts.send(u, { type: 'updateHash', site: ctx.site, seq: update.seq, hash: update.hash });
  }
}

/** The admin counts the updates with a departure or a system action: it passes those on. */
function adminWants(update: UpdateMessage): boolean {
  return update.events.some((e) => e.kind === 'left') || update.applied.some(([user]) => user === SYSTEM_ACTOR);
}

/**
 * A state we took (the majority vouched for its update) whose update the admin counts: we give
 * the admin our word on it as those that applied it do (in full or as a hash, by our slot). They
 * may never give theirs: sent while the admin was down, resent by a server that lost its slot
 * since, and the departure waited for votes that never came (sim/FINDINGS.md 65, 74).
 */
export function vouchAdopted(ctx: ServerCtx): void {
  const top = own(ctx, 'ordering').stored.at(-1)?.update;
  const slot = mySlot(ctx);
  if (!top || slot === null || ctx.lifecycle.status !== 'running' || !adminWants(top)) return;
  if (sendsFullUpdate(slot, top.seq, ctx.cfg.N_server, ctx.N_maj)) ctx.opts.send(ADMIN_ID, top);
  else ctx.opts.send(ADMIN_ID, { type: 'updateHash', site: ctx.site, seq: top.seq, hash: top.hash });
}

/**
 * A content asked for again waits twice as long each time, up to this many doublings (T_content
 * 50 ms: 50, 100, 200, 400, then every 800 ms). Asked every T_content, a loaded server whose
 * answers queue behind its other input (a slow tab) asks again for all it lacks before they are
 * handled, every server that reported each one answers again, and the queue only grows: 4682
 * answers in 6 s at one replacement, 14 s behind (sim/FINDINGS.md 36). A lost copy is still asked
 * again after T_content, as before, unless other answers are coming in (see `requestContent`).
 */
const CONTENT_BACKOFF_MAX = 4;

/**
 * Asks the servers that reported an action for its content, when we lacked it T_content long
 * (again: backing off). While contents from servers are still coming in, our earlier asks are
 * being answered: a loaded server handles them from its input queue seconds late, and asking again
 * there only lengthens that queue (sim/FINDINGS.md 77). We ask at most once a tick (T apart), so a
 * stream of answers comes in batches about T apart: one taken within T + T_content means more are
 * coming. Such a re-ask waits until they stop, but no longer than the longest back-off, so a lost
 * copy on a busy site is still asked for again.
 */
export function requestContent(ctx: ServerCtx): void {
  const now = ctx.opts.now();
  const answering = now - ctx.ordering.contentAnswerAt < ctx.T + ctx.cfg.T_content;
  const longest = ctx.cfg.T_content * 2 ** CONTENT_BACKOFF_MAX;
  const byServer = new Map<string, Array<[string, number, string]>>();
  for (const [k, w] of ctx.reports.wanted) {
    if (ctx.ordering.contents.has(k)) {
      unwant(ctx, k);
      continue;
    }
    if (now - w.since < ctx.cfg.T_content) continue;
    if (w.askedAt !== null) {
      if (now - w.askedAt < ctx.cfg.T_content * 2 ** Math.min(w.again, CONTENT_BACKOFF_MAX)) continue;
      if (answering && now - w.askedAt < longest) continue;
      w.again++;
    }
    w.askedAt = now;
    const rec = ctx.reports.actions.get(k);
    if (!rec) {
      unwant(ctx, k);
      continue;
    }
    for (const server of rec.reports.keys()) {
      if (server === ctx.me) continue;
      let list = byServer.get(server);
      if (!list) byServer.set(server, (list = []));
      if (list.length < 256) list.push([rec.user, rec.actionNo, rec.hash]);
    }
  }
  for (const [server, items] of byServer) ctx.opts.send(server, { type: 'contentRequest', site: ctx.site, items });
}

// ---------------------------------------------------------------------------------------------
// Actions in: from their users (recorded) or from servers (content we asked for)
// ---------------------------------------------------------------------------------------------

export function onAction(ctx: ServerCtx, from: string, msg: PeerOf<'action'>): void {
  if (msg.site !== ctx.site) return reject(ctx, from, 'action', 'ERR_WRONG_SITE', msg.site);
  const hash = actionContentHash(msg);
  const k = key3(msg.user, msg.actionNo, hash);
  if (from !== msg.user) {
    // A server forwarding content we asked for: accepted only for a known (user, no, hash).
    if (!ctx.roster.members.has(from)) return reject(ctx, from, 'action', 'ERR_UNKNOWN_PEER', 'action not from its user');
    return takeContent(ctx, k, { kind: 'user', action: msg.action });
  }
  if (msg.user === SYSTEM_ACTOR || ctx.roster.members.has(msg.user)) return reject(ctx, from, 'action', 'ERR_UNKNOWN_PEER', 'reserved name');
  record(ctx, msg.user, msg.actionNo, hash, k, { kind: 'user', action: msg.action }, from, 'action');
}

export function onSysAction(ctx: ServerCtx, from: string, msg: SysActionMessage): void {
  if (msg.site !== ctx.site) return reject(ctx, from, 'sysAction', 'ERR_WRONG_SITE', msg.site);
  if (!verifySysAction(msg, ctx.opts.adminKey, ctx.crypto)) return reject(ctx, from, 'sysAction', 'ERR_BAD_SIGNATURE', 'sysAction');
  const hash = sysActionContentHash(msg);
  const k = key3(SYSTEM_ACTOR, msg.sysNo, hash);
  if (from !== ADMIN_ID) {
    if (ctx.roster.members.has(from)) takeContent(ctx, k, { kind: 'sys', msg });
    return;
  }
  record(ctx, SYSTEM_ACTOR, msg.sysNo, hash, k, { kind: 'sys', msg }, from, 'sysAction');
}

/** A content a member server sent (an answer to our ask): kept if it is of a candidate we lack. */
function takeContent(ctx: ServerCtx, k: string, content: Content): void {
  if (!ctx.reports.actions.has(k) || own(ctx, 'ordering').contents.has(k)) return;
  own(ctx, 'ordering').contents.set(k, content);
  own(ctx, 'ordering').contentAnswerAt = ctx.opts.now();
  finalizeLoop(ctx);
}

/** Notes our own arrival of an action, for our next Timeslot. */
function record(ctx: ServerCtx, user: string, no: number, hash: string, k: string, content: Content, from: string, type: string): void {
  if (ctx.lifecycle.status === 'waiting' || ctx.lifecycle.status === 'evicted') return;
  const rk = key2(user, no);
  const again = ctx.timeslots.recorded.has(rk);
  if (isApplied(ctx, user, no) || (again && !noteStopped(ctx, user, no, k))) return;
  if (ctx.timeslots.outbox.length >= ctx.cfg.maxEntries) return reject(ctx, from, type, 'ERR_RATE_LIMITED', 'timeslot full');
  const now = ctx.opts.now();
  // Our report counts only past our stint's admission point (docs/protocol.md "Admission point"):
  // noted before it, it would never count, and the copies sent again would be dropped as held
  // until the horizon. Not noted, the next copy (users and the admin send one every T_resend) is
  // noted once it counts (sim/FINDINGS.md 17).
  if (!ownReportCounts(ctx, Math.max(now, ctx.timeslots.lastStamp + EPS))) return;
  // A user's new actions are held to the admin's action budget (resends of one it has are free,
  // and so is noting one again: the user sent nothing new).
  if (content.kind === 'user' && !again && !ctx.actionBudget.take(user, now)) return reject(ctx, from, type, 'ERR_RATE_LIMITED', 'over the action budget');
  recordArrival(ctx, user, no, hash, now);
  if (!own(ctx, 'ordering').contents.has(k)) own(ctx, 'ordering').contents.set(k, content);
}

/**
 * Whether a note we hold of an action no longer counts: not in our outbox (noted since the last
 * check, it counts), and none of our reports of it in the index counts, since our stint was cut past
 * it (ignored, then readmitted) or a state we took left it out. Such a note would hold off every copy
 * until the horizon (10 s) while the action waited for another server's note (sim/FINDINGS.md 67,
 * 99); noted again, our new report stands for us if ours count by then (`serverArrival`).
 */
function noteStopped(ctx: ServerCtx, user: string, no: number, k: string): boolean {
  if (ctx.timeslots.outbox.some(([u, n]) => u === user && n === no)) return false;
  const mine = ctx.reports.actions.get(k)?.reports.get(ctx.me) ?? [];
  return !mine.some((r) => counted(ctx, ctx.me, r));
}

export function onContentRequest(ctx: ServerCtx, from: string, msg: PeerOf<'contentRequest'>): void {
  if (!ctx.roster.members.has(from)) return;
  for (const [user, actionNo, hash] of msg.items) {
    const c = own(ctx, 'ordering').contents.get(key3(user, actionNo, hash));
    if (!c) continue;
    if (c.kind === 'user') ctx.opts.send(from, { type: 'action', site: ctx.site, user, actionNo, action: c.action });
    else ctx.opts.send(from, c.msg);
  }
}

// ---------------------------------------------------------------------------------------------
// The ordering state replaced: from a hand-over, or by a transferred state
// ---------------------------------------------------------------------------------------------

/** Starts from a hand-over (`siteInit`): its snapshot, at `frontier`, after update `seq`/`hash`. */
export function startOrdering(ctx: ServerCtx, init: SiteInit, frontier: number): void {
  const o = own(ctx, 'ordering');
  o.snapshot = init.state;
  o.frontier = frontier;
  o.lastSeq = init.seq;
  o.lastHash = init.prev;
  o.dedupe.clear();
  for (const [user, no] of init.lastActionNo) o.dedupe.setFloor(user, no);
}

/** Takes a state the majority vouched for (stateSync.ts) as our latest update. */
export function adoptOrdering(ctx: ServerCtx, p: TransferPayload): void {
  const o = own(ctx, 'ordering');
  const st = p.state;
  const upd = p.update;
  o.snapshot = st.snapshot;
  o.frontier = st.window;
  o.lastSeq = upd.seq;
  o.lastHash = upd.hash;
  o.hashBySeq.set(upd.seq, upd.hash);
  o.dedupe = AppliedSet.fromList(st.applied);
  o.log.push({
    seq: upd.seq,
    hash: upd.hash,
    prev: upd.prev,
    window: upd.window,
    applied: upd.applied.map(([user, actionNo]) => ({ user, actionNo, hash: '', median: Number.NaN })),
    events: upd.events,
    adopted: true,
  });
  o.checkFrom = o.log.length - 1; // what we produced before is superseded, not to be compared again
  o.stored.push({ update: { ...upd, type: 'update' }, state: st, hints: p.hints });
  while (o.stored.length > ctx.cfg.keepUpdates) o.stored.shift();
}
