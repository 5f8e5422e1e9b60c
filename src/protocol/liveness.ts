/**
 * Liveness of a Site Server (paper 4.4; docs/protocol.md "Liveness"): noticing late servers
 * (TRM, then an ignore request), servers that do not echo in step, withdrawing an ignore request
 * for a server back in time, and asking for readmission or replacement of ignored servers.
 */
import { declineAfter, repeatRequestAfter } from './config.js';
import { admission, latestMarker } from './finality.js';
import { ADMIN_ID, MAX_TIMESLOTS_PER_REPLY, type PeerOf, type Timeslot } from './messages.js';
import {
  activeIds,
  due,
  fetchRange,
  isActive,
  latestStint,
  observe,
  timeslotReply,
  timeslotRequest,
  type ServerCtx,
  own,
} from './serverContext.js';

function requestMembership(ctx: ServerCtx, kind: 'ignore' | 'readmit' | 'replace', target: string, every: number): void {
  const k = `${kind}:${target}`;
  // Not while a withdrawal is unanswered: its answer would let us unfreeze with this request pending.
  if (kind === 'ignore' && own(ctx, 'liveness').withdrawing.has(target)) return;
  if (!due(ctx, own(ctx, 'liveness').lastRequest, k, every)) return;
  // A repeat of an unanswered ignore request keeps its number, as a withdrawal does: with a round
  // trip to the admin longer than the repeat, a new number per repeat made every answer stale on
  // arrival (sim/FINDINGS.md 22). The admin declines a late copy of a request it declined again
  // (coordinator.ts): no copy counts once we may have unfrozen on the answer.
  const l = own(ctx, 'liveness');
  let no = kind === 'ignore' ? l.requestNo.get(k) : undefined;
  if (no === undefined) {
    no = l.nextRequestNo++;
    l.requestNo.set(k, no);
  }
  const ch = ctx.timeslots.chains.get(target);
  let held: Timeslot | null = null;
  if (ch) {
    const seq = kind === 'ignore' ? (own(ctx, 'liveness').frozen.get(target)?.seq ?? ch.top.seq) : ch.top.seq;
    held = ch.get(seq)?.full ?? null;
  }
  // The cut must cover every Timeslot of the target we echoed (docs/protocol.md "Decision", point
  // 2): others may have used it as stable. A state transfer since may have re-anchored our chain
  // of it below that (at the state's hints), and a frozen Timeslot's signed copy may be pruned.
  const echoed = ctx.timeslots.echoed.get(target);
  if (kind === 'ignore' && echoed && echoed.seq > (held?.seq ?? 0)) held = echoed;
  observe(ctx, { kind: 'membershipRequest', request: kind, target });
  const epoch = ctx.roster.membership?.epoch ?? 0;
  const covers = kind === 'ignore' ? { covers: heldCovers(ctx, target, held) } : {};
  ctx.opts.send(ADMIN_ID, { type: 'membershipRequest', site: ctx.site, epoch, no, kind, target, held, ...covers });
}

/**
 * Whether `held` covers every Timeslot of `target` that any server may have used (docs/protocol.md
 * "Decision", point 2); the admin cuts only on a request that does. A server that applied the
 * record admitting our stint counts us active and waits for our echoes; one that had not closed no
 * window ending at or past our stint's latest marker M (the admission point before its rounding).
 * `held` covers those windows if it is stamped at M or later, or if the target's stint counts only
 * from M on. A replacement still syncing holds nothing of a server gone before it came
 * (sim/FINDINGS.md 39).
 */
function heldCovers(ctx: ServerCtx, target: string, held: Timeslot | null): boolean {
  const self = ctx.roster.members.get(ctx.me);
  const t = ctx.roster.members.get(target);
  if (!self || !t) return false;
  const mark = latestMarker(ctx, self, latestStint(self));
  if (mark === null) return false;
  if (mark === -Infinity || (held !== null && held.stamp >= mark)) return true;
  const theirs = admission(ctx, t, latestStint(t));
  return theirs.known ? theirs.at >= mark : theirs.exceeds(mark);
}

/**
 * Y, which we froze, is back in time and in step: drop our ignore request now rather than hold
 * every window back until the admin declines it for want of a majority (one server's late view
 * of a peer must not stall the site). Y stays frozen until the admin answers this withdrawal.
 */
function withdrawIgnore(ctx: ServerCtx, y: string): void {
  if (!due(ctx, own(ctx, 'liveness').lastRequest, `withdraw:${y}`, ctx.cfg.T_req_timeout)) return;
  const l = own(ctx, 'liveness');
  // A repeat keeps the withdrawal's number: the admin's answer to the first may arrive after the
  // repeat left (a round trip to the admin longer than T_req_timeout) and must still count. Safe:
  // nothing of ours about Y crosses it (no ignore request is sent while withdrawing; links are FIFO).
  let no = l.withdrawing.has(y) ? l.requestNo.get(`ignore:${y}`) : undefined;
  if (no === undefined) {
    no = l.nextRequestNo++;
    l.requestNo.set(`ignore:${y}`, no);
  }
  l.withdrawing.add(y);
  ctx.opts.send(ADMIN_ID, { type: 'withdrawRequest', site: ctx.site, epoch: ctx.roster.membership?.epoch ?? 0, no, target: y });
}

/** Freezes Y (our heads of it stop at what we hold now) and asks the admin to ignore it. */
export function requestIgnore(ctx: ServerCtx, y: string): void {
  const self = ctx.roster.members.get(ctx.me);
  if (!self || !isActive(self)) return; // a server that is itself ignored has no say (and no echo to hold back)
  // No record can decide it (too few active servers besides Y to make N_majority requests; a proven
  // liar needs fewer): freezing Y would only hold every window back until the admin declines it.
  const l = own(ctx, 'liveness');
  if (!l.frozen.has(y) && !l.liars.has(y) && activeIds(ctx).filter((id) => id !== y).length < ctx.cfg.N_majority) return;
  if (!l.frozen.has(y)) {
    const ch = ctx.timeslots.chains.get(y);
    l.frozen.set(y, { seq: ch ? ch.top.seq : 0, at: ctx.opts.now() });
  }
  requestMembership(ctx, 'ignore', y, 4 * ctx.cfg.T_req_timeout);
}

export function livenessChecks(ctx: ServerCtx): void {
  if (!ctx.roster.membership || ctx.lifecycle.status === 'waiting' || ctx.lifecycle.status === 'evicted') return;
  const { cfg, me } = ctx;
  const { chains } = ctx.timeslots;
  const { cover } = ctx.finality;
  const { frozen, trm } = own(ctx, 'liveness');
  const now = ctx.opts.now();
  const active = activeIds(ctx);
  /** Frozen servers that look fine again (on time, echoing in step): candidates for withdrawal. */
  const recovered = new Set<string>();
  for (const y of active) {
    if (y === me) continue;
    const ch = chains.get(y);
    const since = Math.max(ctx.roster.startedAt, ctx.roster.memberSince.get(y) ?? ctx.roster.startedAt);
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
      const msg = timeslotRequest(ctx, y, from, from + MAX_TIMESLOTS_PER_REPLY - 1);
      for (const id of asked) ctx.opts.send(id, msg);
      trm.set(y, { sentAt: now, asked, noHelp: new Set() });
    } else if (now - t.sentAt >= cfg.T_req_timeout || [...t.asked].every((id) => t.noHelp.has(id))) {
      requestIgnore(ctx, y);
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
      if (y === p || y === me || own(ctx, 'liveness').liars.has(y)) continue;
      const my = ctx.roster.members.get(y);
      if (!my || !isActive(my)) continue;
      // P asked the admin to ignore Y and holds its heads of Y back: not lag, unless the admin
      // should long have answered (then P is stalling on purpose).
      const since = ctx.timeslots.declared.get(p)?.get(y);
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
      own(ctx, 'liveness').lagSince.delete(p);
      continue;
    }
    if (!own(ctx, 'liveness').lagSince.has(p)) own(ctx, 'liveness').lagSince.set(p, now);
    const lp = own(ctx, 'liveness').lastPush.get(p);
    if (lp === undefined || now - lp >= cfg.T_timeout) {
      own(ctx, 'liveness').lastPush.set(p, now);
      const ts = chains.get(lag.y)?.range(lag.from, lag.to, MAX_TIMESLOTS_PER_REPLY) ?? [];
      if (ts.length > 0) ctx.opts.send(p, timeslotReply(ctx, ts));
    }
    if (now - (own(ctx, 'liveness').lagSince.get(p) ?? now) > cfg.T_req_timeout) requestIgnore(ctx, p);
  }
  // Our ignore requests stay until the admin answers (a cut, or declined): ask again now and then,
  // in case the request or the answer was lost. (Unfreezing without an answer could break the cut.)
  for (const y of frozen.keys()) {
    if (recovered.has(y) && !own(ctx, 'liveness').liars.has(y) && !own(ctx, 'liveness').calledWhileWithdrawing.has(y)) withdrawIgnore(ctx, y);
    else if (own(ctx, 'liveness').withdrawing.has(y)) withdrawIgnore(ctx, y); // repeated until answered, in case it was lost
    else requestMembership(ctx, 'ignore', y, repeatRequestAfter(cfg));
  }
  // Ignored servers: back in time and in step -> readmit; silent for T_ignore -> replace.
  for (const m of ctx.roster.members.values()) {
    if (m.id === me || m.slot === null || !latestStint(m).cut) continue;
    const ch = chains.get(m.id);
    const at = own(ctx, 'liveness').ignoredAt.get(m.id) ?? now;
    const fresh = ch && Number.isFinite(ch.top.stamp) && now - ch.top.stamp <= cfg.T_timeout && ch.top.seq > (latestStint(m).cut?.seq ?? 0);
    const mineTop = chains.get(me)?.top.seq ?? 0;
    const inStep =
      (ctx.timeslots.declared.get(m.id)?.size ?? 0) === 0 && (cover.get(m.id)?.get(me) ?? -1) >= mineTop - Math.ceil(cfg.T_timeout / ctx.T) - 1;
    if (fresh && inStep) {
      requestMembership(ctx, 'readmit', m.id, cfg.T_ignore);
    } else if (now - at >= cfg.T_ignore) {
      requestMembership(ctx, 'replace', m.id, cfg.T_ignore);
    }
  }
  // Gaps in chains (buffered Timeslots waiting for missing ones).
  for (const [y, ch] of chains) {
    if (y === me || ch.future.size === 0) continue;
    const next = Math.min(...ch.future.keys());
    fetchRange(ctx, y, ch.top.seq + 1, next - 1, 'gap');
  }
}

/** The admin verified a proof against `target` and wants our ignore request for it. */
export function onIgnoreCall(ctx: ServerCtx, from: string, msg: PeerOf<'ignoreCall'>): void {
  if (from !== ADMIN_ID) return;
  const m = ctx.roster.members.get(msg.target);
  if (m && isActive(m) && msg.target !== ctx.me) {
    own(ctx, 'liveness').liars.add(msg.target); // the admin verified a proof against it: never withdraw this request
    if (own(ctx, 'liveness').withdrawing.has(msg.target)) {
      own(ctx, 'liveness').calledWhileWithdrawing.add(msg.target);
      return;
    }
    // Keep an existing freeze point: a request we sent with it may already be the admin's
    // cut, and moving it up would let us use the target's Timeslots past that cut. A new number:
    // the admin may decline the old one before this request reaches it, and this one must count.
    own(ctx, 'liveness').lastRequest.delete(`ignore:${msg.target}`);
    own(ctx, 'liveness').requestNo.delete(`ignore:${msg.target}`);
    requestIgnore(ctx, msg.target);
  }
}

/** The admin found no majority for our request, or accepted our withdrawal. */
export function onRequestDeclined(ctx: ServerCtx, from: string, msg: PeerOf<'requestDeclined'>): void {
  if (from !== ADMIN_ID) return;
  const k = `${msg.kind}:${msg.target}`;
  // An answer to an older request: a newer one (a repeat, a withdrawal) may still be pending.
  if (msg.no !== own(ctx, 'liveness').requestNo.get(k)) return;
  own(ctx, 'liveness').requestNo.delete(k);
  if (msg.kind === 'ignore') {
    own(ctx, 'liveness').frozen.delete(msg.target);
    own(ctx, 'liveness').trm.delete(msg.target);
    own(ctx, 'liveness').lagSince.delete(msg.target);
    own(ctx, 'liveness').withdrawing.delete(msg.target);
    own(ctx, 'liveness').lastRequest.delete(`withdraw:${msg.target}`);
    if (own(ctx, 'liveness').calledWhileWithdrawing.delete(msg.target)) requestIgnore(ctx, msg.target);
  }
  own(ctx, 'liveness').lastRequest.delete(k);
}

// ---------------------------------------------------------------------------------------------
// What the others learn that concerns liveness (the only ways they change this module's part)
// ---------------------------------------------------------------------------------------------

/** A Timeslot of `server` arrived in time: no TRM is pending for it. */
export function heardInTime(ctx: ServerCtx, server: string): void {
  own(ctx, 'liveness').trm.delete(server);
}

/** We hold an equivocation proof against `server`: never withdraw an ignore request for it. */
export function markLiar(ctx: ServerCtx, server: string): void {
  own(ctx, 'liveness').liars.add(server);
}

/** A record cuts `server`: nothing is pending about it any more; `fresh`: the cut is new (since `now`). */
export function onCut(ctx: ServerCtx, server: string, fresh: boolean, now: number): void {
  const l = own(ctx, 'liveness');
  l.requestNo.delete(`ignore:${server}`); // answered: a later request is a new one
  l.frozen.delete(server);
  l.trm.delete(server);
  l.lagSince.delete(server);
  l.withdrawing.delete(server);
  l.calledWhileWithdrawing.delete(server);
  if (fresh) l.ignoredAt.set(server, now);
}

/** A record readmits `server`. */
export function onReadmitted(ctx: ServerCtx, server: string): void {
  own(ctx, 'liveness').ignoredAt.delete(server);
}

/** A record cuts us: our heads count for nothing, so our ignore requests go. */
export function onSelfCut(ctx: ServerCtx): void {
  const l = own(ctx, 'liveness');
  for (const k of [...l.requestNo.keys()]) if (k.startsWith('ignore:')) l.requestNo.delete(k);
  l.frozen.clear();
  l.withdrawing.clear();
  l.calledWhileWithdrawing.clear();
}
