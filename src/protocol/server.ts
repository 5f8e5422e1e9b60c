/**
 * A Site Server (paper 4.3, 4.4; docs/protocol.md). Records arrivals, sends a signed Timeslot
 * every T_timeslot, orders actions by median arrival in fixed windows, applies them with the game
 * rules, sends Updates (full or hash, rotating), and keeps the site going when servers are late,
 * lie, or get replaced. Pure: time, sending and keys are injected; no timers.
 *
 * This is the facade: it parses and dispatches messages, runs the periodic work, and answers the
 * introspection calls. The work is done by the modules listed in src/protocol/README.md, around
 * one shared state (serverContext.ts).
 */
import type { ServerStatus, SiteServer, SiteServerOptions } from './api.js';
import { finalizeLoop, onAction, onContentRequest, onSysAction, requestContent } from './applying.js';
import { blockedReason, pruneChains } from './finality.js';
import { livenessChecks, onIgnoreCall, onRequestDeclined } from './liveness.js';
import { adoptInit, applyMembership, onRecordRequest, start } from './membership.js';
import { RECORD_COST, STATE_COST } from './budget.js';
import { ADMIN_ID, parsePeerMessage, type PeerMessage } from './messages.js';
import { alreadyParsed } from './parsed.js';
import { createContext, fromUnknownPeer, HORIZON_WINDOWS, isUserHere, latestStint, reject, type ServerCtx } from './serverContext.js';
import { checkOutOfStep, onAnnounce, onHashRequest, onStateChunk, onUpdateRequest, serveState, syncTimeouts } from './stateSync.js';
import { checkSelfFirst, emitTimeslot, maybeEcho, onEcho, onTimeslot, onTimeslotReply, onTimeslotRequest } from './timeslots.js';

function handle(ctx: ServerCtx, from: string, msg: PeerMessage): void {
  // Admin-signed records are accepted from anyone: the signature is what counts.
  if (msg.type === 'siteInit') {
    if (ctx.lifecycle.status === 'waiting') {
      start(ctx, msg);
      if (from !== ADMIN_ID && (ctx.lifecycle.status as ServerStatus) === 'running') checkSelfFirst(ctx);
      return;
    }
    if (ctx.lifecycle.status === 'syncing' && ctx.ordering.snapshot === null) return adoptInit(ctx, msg, from);
    return;
  }
  if (msg.type === 'membership') {
    const { type: _t, ...rec } = msg;
    void _t;
    return applyMembership(ctx, rec, from);
  }
  if (msg.site !== ctx.site) return reject(ctx, from, msg.type, 'ERR_WRONG_SITE', msg.site);
  switch (msg.type) {
    case 'action':
      return onAction(ctx, from, msg);
    case 'sysAction':
      return onSysAction(ctx, from, msg);
    case 'timeslot': {
      const { type: _t, ...ts } = msg;
      void _t;
      return onTimeslot(ctx, ts, from, true);
    }
    case 'timeslotRequest':
      return onTimeslotRequest(ctx, from, msg);
    case 'timeslotReply':
      return onTimeslotReply(ctx, from, msg);
    case 'contentRequest':
      return onContentRequest(ctx, from, msg);
    case 'stateRequest':
      // Servers (joining, resyncing), users on the site (entering a running P2P site) and the
      // admin (taking the site back, saving it).
      if (!ctx.roster.members.has(from) && !isUserHere(ctx, from) && from !== ADMIN_ID) return fromUnknownPeer(ctx, from, msg.type, msg.epoch, 'not a member');
      if (!withinBudget(ctx, from, msg.type, STATE_COST)) return;
      return serveState(ctx, from, msg.seq);
    case 'stateChunk':
      return onStateChunk(ctx, from, msg);
    case 'hashRequest':
      if (!ctx.roster.members.has(from) && !isUserHere(ctx, from) && from !== ADMIN_ID) return;
      if (!withinBudget(ctx, from, msg.type, 1)) return;
      return onHashRequest(ctx, from, msg);
    case 'updateHash':
    case 'update':
      if (ctx.roster.members.has(from)) onAnnounce(ctx, from, msg.seq, msg.hash);
      return;
    case 'echo':
      return onEcho(ctx, from, msg);
    case 'recordRequest':
      // Servers that missed a record; nobody else needs the hand-over's snapshot from us.
      if (!ctx.roster.members.has(from)) return fromUnknownPeer(ctx, from, msg.type, msg.epoch, 'not a member');
      if (!withinBudget(ctx, from, msg.type, RECORD_COST)) return;
      return onRecordRequest(ctx, from, msg);
    case 'updateRequest':
      // Users on the site that missed votes (servers take states and hashes instead). A server
      // still without a state (a replacement fetching it) cannot tell who is on the site, and has
      // no update to give: it stays silent, as to a hash request, and the user asks the others.
      if (ctx.ordering.snapshot === null && !ctx.roster.members.has(from)) return;
      if (!isUserHere(ctx, from) && !ctx.roster.members.has(from)) return reject(ctx, from, msg.type, 'ERR_UNKNOWN_PEER', 'not on the site');
      if (!withinBudget(ctx, from, msg.type, 1)) return;
      return onUpdateRequest(ctx, from, msg);
    case 'ignoreCall':
      return onIgnoreCall(ctx, from, msg);
    case 'requestDeclined':
      return onRequestDeclined(ctx, from, msg);
    default:
      return; // equivocationProof, membershipRequest, flagReport: for the admin
  }
}

/** A peer's request is answered only within its budget (the admin, which is trusted, has none). */
function withinBudget(ctx: ServerCtx, from: string, type: string, cost: number): boolean {
  if (from === ADMIN_ID || ctx.requestBudget.take(from, ctx.opts.now(), cost)) return true;
  reject(ctx, from, type, 'ERR_RATE_LIMITED', 'over the request budget');
  return false;
}

export function createSiteServer(opts: SiteServerOptions): SiteServer {
  const ctx = createContext(opts);
  const { me } = ctx;
  const stopped = (): boolean => ctx.lifecycle.status === 'waiting' || ctx.lifecycle.status === 'evicted';

  if (opts.init) start(ctx, opts.init);

  return {
    id: me,
    receive(from, raw) {
      try {
        const parsed = alreadyParsed(raw) ?? parsePeerMessage(raw);
        if (!parsed.ok) {
          reject(ctx, from, String((raw as { type?: unknown } | null)?.type ?? '?'), parsed.code, parsed.message);
          return;
        }
        handle(ctx, from, parsed.value);
        finalizeLoop(ctx);
      } catch (e) {
        reject(ctx, from, '?', 'ERR_INTERNAL', e instanceof Error ? e.message : String(e));
      }
    },
    nextWakeAt() {
      if (stopped()) return null;
      const { echoDueAt, nextSlotAt } = ctx.timeslots;
      if (echoDueAt !== null && (nextSlotAt === null || echoDueAt < nextSlotAt)) return echoDueAt;
      return nextSlotAt;
    },
    tick() {
      try {
        if (stopped()) return;
        const now = opts.now();
        if (ctx.timeslots.nextSlotAt !== null && now >= ctx.timeslots.nextSlotAt) emitTimeslot(ctx);
        if (ctx.timeslots.echoDueAt !== null && now >= ctx.timeslots.echoDueAt) maybeEcho(ctx, true);
        livenessChecks(ctx);
        requestContent(ctx);
        syncTimeouts(ctx);
        checkOutOfStep(ctx);
        finalizeLoop(ctx);
        if (Number.isFinite(ctx.ordering.frontier)) pruneChains(ctx, ctx.ordering.frontier - HORIZON_WINDOWS * ctx.T);
        // Full buckets carry nothing: the budgets hold only peers that spent lately.
        ctx.actionBudget.sweep(now);
        ctx.requestBudget.sweep(now);
      } catch (e) {
        reject(ctx, me, 'tick', 'ERR_INTERNAL', e instanceof Error ? e.message : String(e));
      }
    },
    status: () => ctx.lifecycle.status,
    appliedLog: () => ctx.ordering.log,
    lastUpdate: () => ({ seq: ctx.ordering.lastSeq, hash: ctx.ordering.lastHash }),
    ignored: () =>
      [...ctx.roster.members.values()]
        .filter((m) => latestStint(m).cut !== null)
        .map((m) => ({ server: m.id, cutSeq: latestStint(m).cut?.seq ?? 0 })),
    membership: () => ctx.roster.membership,
    snapshot: () => ctx.ordering.snapshot,
    timeslotSeq: () => ctx.timeslots.chains.get(me)?.top.seq ?? 0,
    equivocations: () => ctx.timeslots.equivs,
    blockedReason: () => blockedReason(ctx),
    frontier: () => ctx.ordering.frontier,
  };
}
