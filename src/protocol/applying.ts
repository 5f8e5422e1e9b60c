/**
 * Applying of a Site Server: recording arrivals of actions, closing windows (the final actions in
 * median order, applied with the game rules), building and sending updates (full or hash,
 * rotating), and fetching the content of final actions we lack.
 */
import { applyAction } from '../game/rules.js';
import type { GameEvent, SiteAction, SiteSnapshot } from '../game/types.js';
import type { AppliedAction } from './api.js';
import { hashOf } from './crypto.js';
import {
  ADMIN_ID,
  SYSTEM_ACTOR,
  type OrderingState,
  type PeerOf,
  type SysActionMessage,
  type TransferPayload,
  type UpdateMessage,
} from './messages.js';
import { counted, windowReady } from './finality.js';
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
} from './serverContext.js';
import {
  actionContentHash,
  sendsFullUpdate,
  sysActionContentHash,
  updateHash,
  verifySysAction,
} from './signed.js';
import { finalCandidates } from './window.js';

/** Closes every window that may close now. */
export function finalizeLoop(ctx: ServerCtx): void {
  for (let i = 0; i < 1000; i++) {
    if (!windowReady(ctx)) return;
    if (!closeWindow(ctx)) return;
  }
}

/** Closes one window; false when content is missing. */
export function closeWindow(ctx: ServerCtx): boolean {
  if (!ctx.snapshot) return false;
  const { actions, contents, wanted, appliedAt, T } = ctx;
  const b = ctx.frontier + T;
  for (const [k, rec] of actions) if (isApplied(ctx, rec.user, rec.actionNo)) actions.delete(k);
  const finals = finalCandidates(actions.values(), b, ctx.N_maj, (server, r) => counted(ctx, server, r)).map((f) => ({
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
      const w = wanted.get(k);
      if (!w) wanted.set(k, { since: -Infinity, askedAt: null });
      else if (w.askedAt === null) w.since = -Infinity;
    }
  }
  if (missing) {
    requestContent(ctx);
    ctx.blocked = `content missing for a final action of window ${b}`;
    return false;
  }

  let snap = ctx.snapshot;
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
    ctx.dedupe.add(user, actionNo);
    applied.push({ user, actionNo, hash, median: f.median });
  }
  // Contents of applied actions stay a while: a server still behind may ask for them.
  for (const a of applied) appliedAt.set(key3(a.user, a.actionNo, a.hash), b);
  for (const [k, rec] of actions) {
    if (isApplied(ctx, rec.user, rec.actionNo)) {
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
  ctx.frontier = b;
  ctx.snapshot = snap;
  if (applied.length > 0) produceUpdate(ctx, b, applied, events);
  return true;
}

/** The ordering state after window `b`: what the state hash covers and state transfer carries. */
export function buildState(ctx: ServerCtx, b: number): OrderingState {
  const pending: OrderingState['pending'] = [];
  const keys = [...ctx.actions.keys()].sort();
  for (const k of keys) {
    const rec = ctx.actions.get(k);
    if (!rec || isApplied(ctx, rec.user, rec.actionNo)) continue;
    const reps: Array<[string, number]> = [];
    for (const [server, r] of rec.reports) if (r.arrival <= b && counted(ctx, server, r)) reps.push([server, r.arrival]);
    if (reps.length === 0) continue;
    reps.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    pending.push([rec.user, rec.actionNo, rec.hash, reps]);
  }
  const applied: OrderingState['applied'] = ctx.dedupe.toList();
  return { site: ctx.site, window: b, snapshot: ctx.snapshot as SiteSnapshot, applied, pending };
}

/** Where each chain stood at window `b`, and the epoch marks: where an adopter anchors. */
export function buildHints(ctx: ServerCtx, b: number): TransferPayload['hints'] {
  const hintChains: TransferPayload['hints']['chains'] = [];
  const marks: TransferPayload['hints']['marks'] = [];
  for (const [id, ch] of ctx.chains) {
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

function produceUpdate(ctx: ServerCtx, b: number, applied: AppliedAction[], events: GameEvent[]): void {
  const state = buildState(ctx, b);
  const body = {
    site: ctx.site,
    seq: ctx.lastSeq + 1,
    prev: ctx.lastHash,
    window: b,
    applied: applied.map((a): [string, number] => [a.user, a.actionNo]),
    events,
    stateHash: hashOf(state),
  };
  const hash = updateHash(body);
  const update: UpdateMessage = { type: 'update', ...body, hash };
  ctx.lastSeq = body.seq;
  ctx.lastHash = hash;
  ctx.hashBySeq.set(ctx.lastSeq, hash);
  ctx.log.push({ seq: ctx.lastSeq, hash, prev: body.prev, window: b, applied, events });
  ctx.stored.push({ update, state, hints: buildHints(ctx, b) });
  while (ctx.stored.length > ctx.cfg.keepUpdates) ctx.stored.shift();
  for (const s of ctx.hashBySeq.keys()) if (s < ctx.lastSeq - 4 * ctx.cfg.keepUpdates) ctx.hashBySeq.delete(s);
  observe(ctx, { kind: 'applied', seq: ctx.lastSeq, hash, window: b, applied });
  sendUpdate(ctx, update);
}

/** To the users (and, for a `left` event, the leaver and the admin): in full or as a hash. */
function sendUpdate(ctx: ServerCtx, update: UpdateMessage): void {
  const slot = mySlot(ctx);
  if (slot === null || ctx.status !== 'running') return;
  const full = sendsFullUpdate(slot, update.seq, ctx.cfg.N_server, ctx.N_maj);
  const to = new Set<string>();
  for (const u of ctx.snapshot?.users ?? []) to.add(u.name);
  let left = false;
  for (const e of update.events) {
    if (e.kind === 'left') {
      to.add(e.user.name);
      left = true;
    }
  }
  if (left) to.add(ADMIN_ID);
  to.delete(ctx.me);
  for (const u of to) {
    if (full) ctx.opts.send(u, update);
    else ctx.opts.send(u, { type: 'updateHash', site: ctx.site, seq: update.seq, hash: update.hash });
  }
}

/** Asks the servers that reported an action for its content, when we lacked it T_content long. */
export function requestContent(ctx: ServerCtx): void {
  const now = ctx.opts.now();
  const byServer = new Map<string, Array<[string, number, string]>>();
  for (const [k, w] of ctx.wanted) {
    if (ctx.contents.has(k)) {
      ctx.wanted.delete(k);
      continue;
    }
    if (now - w.since < ctx.cfg.T_content) continue;
    if (w.askedAt !== null && now - w.askedAt < ctx.cfg.T_content) continue;
    w.askedAt = now;
    const rec = ctx.actions.get(k);
    if (!rec) {
      ctx.wanted.delete(k);
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
    if (ctx.members.has(from) && ctx.actions.has(k) && !ctx.contents.has(k)) {
      ctx.contents.set(k, { kind: 'user', action: msg.action });
      finalizeLoop(ctx);
    } else if (!ctx.members.has(from)) reject(ctx, from, 'action', 'ERR_UNKNOWN_PEER', 'action not from its user');
    return;
  }
  if (msg.user === SYSTEM_ACTOR || ctx.members.has(msg.user)) return reject(ctx, from, 'action', 'ERR_UNKNOWN_PEER', 'reserved name');
  record(ctx, msg.user, msg.actionNo, hash, k, { kind: 'user', action: msg.action }, from, 'action');
}

export function onSysAction(ctx: ServerCtx, from: string, msg: SysActionMessage): void {
  if (msg.site !== ctx.site) return reject(ctx, from, 'sysAction', 'ERR_WRONG_SITE', msg.site);
  if (!verifySysAction(msg, ctx.opts.adminKey, ctx.crypto)) return reject(ctx, from, 'sysAction', 'ERR_BAD_SIGNATURE', 'sysAction');
  const hash = sysActionContentHash(msg);
  const k = key3(SYSTEM_ACTOR, msg.sysNo, hash);
  if (from !== ADMIN_ID) {
    if (ctx.members.has(from) && ctx.actions.has(k) && !ctx.contents.has(k)) {
      ctx.contents.set(k, { kind: 'sys', msg });
      finalizeLoop(ctx);
    }
    return;
  }
  record(ctx, SYSTEM_ACTOR, msg.sysNo, hash, k, { kind: 'sys', msg }, from, 'sysAction');
}

/** Notes our own arrival of an action, for our next Timeslot. */
function record(ctx: ServerCtx, user: string, no: number, hash: string, k: string, content: Content, from: string, type: string): void {
  if (ctx.status === 'waiting' || ctx.status === 'evicted') return;
  const rk = key2(user, no);
  if (ctx.recorded.has(rk) || isApplied(ctx, user, no)) return;
  if (ctx.outbox.length >= ctx.cfg.maxEntries) return reject(ctx, from, type, 'ERR_RATE_LIMITED', 'timeslot full');
  const now = ctx.opts.now();
  // A user's new actions are held to the admin's action budget (resends of one it has are free).
  if (content.kind === 'user' && !ctx.actionBudget.take(user, now)) return reject(ctx, from, type, 'ERR_RATE_LIMITED', 'over the action budget');
  // Arrivals of one server strictly grow past its last stamp: a Timeslot's entries lie in (prev stamp, stamp].
  const arrival = now > ctx.lastStamp ? now : ctx.lastStamp + EPS;
  ctx.recorded.set(rk, arrival);
  ctx.outbox.push([user, no, arrival, hash]);
  if (!ctx.contents.has(k)) ctx.contents.set(k, content);
}

export function onContentRequest(ctx: ServerCtx, from: string, msg: PeerOf<'contentRequest'>): void {
  if (!ctx.members.has(from)) return;
  for (const [user, actionNo, hash] of msg.items) {
    const c = ctx.contents.get(key3(user, actionNo, hash));
    if (!c) continue;
    if (c.kind === 'user') ctx.opts.send(from, { type: 'action', site: ctx.site, user, actionNo, action: c.action });
    else ctx.opts.send(from, c.msg);
  }
}
