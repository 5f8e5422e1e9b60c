/**
 * The admin-signed records a Site Server runs on: the hand-over that starts it (`siteInit`) and
 * the membership records that ignore, readmit, replace and evict servers. Accepted from anyone,
 * since the signature is what counts. This module alone writes `ctx.roster`.
 */
import { startOrdering } from './applying.js';
import { forgetAdmissions } from './finality.js';
import { onCut, onReadmitted, onSelfCut } from './liveness.js';
import { ADMIN_ID, type Membership, type PeerOf, type SiteInit } from './messages.js';
import { forgetReports, indexItem } from './reports.js';
import { becomeEvicted, becomeRunning, ceilGrid, isActive, latestStint, observe, own, reject, type ServerCtx } from './serverContext.js';
import { verifyMembership, verifySiteInit } from './signed.js';
import { fetchAfterAdopting, startSync } from './stateSync.js';
import { anchorAtHandOver, scheduleFirstSlot, startChains, takeEarlyTimeslots } from './timeslots.js';

/** A newer membership record: who is in, who is cut where; a server it lists for the first time joins. */
export function applyMembership(ctx: ServerCtx, rec: Membership, from: string): void {
  if (rec.site !== ctx.site) return reject(ctx, from, 'membership', 'ERR_WRONG_SITE', rec.site);
  if (!verifyMembership(rec, ctx.opts.adminKey, ctx.crypto)) return reject(ctx, from, 'membership', 'ERR_BAD_SIGNATURE', 'membership');
  const r = own(ctx, 'roster');
  // Epochs start again at each stay: a record of another one (a stay before ours, or after it at
  // a core kept past its end) is none of ours, whatever its epoch (sim/FINDINGS.md 92).
  if (r.membership && rec.stay !== r.membership.stay) return reject(ctx, from, 'membership', 'ERR_STALE', `another stay ${rec.stay}`);
  if (r.membership && rec.epoch <= r.membership.epoch) return;
  const before = r.members;
  r.membership = rec;
  r.members = new Map(rec.members.map((m) => [m.id, m]));
  observe(ctx, { kind: 'membership', epoch: rec.epoch, change: rec.change.kind, target: rec.change.target });
  const now = ctx.opts.now();
  for (const m of r.members.values()) {
    // Only a server new to the membership starts its grace period now; the others (initial
    // members included, which start() leaves to startedAt) keep theirs (FINDINGS 15).
    if (!r.memberSince.has(m.id) && !before.has(m.id)) r.memberSince.set(m.id, now);
    const was = before.get(m.id);
    const cut = latestStint(m).cut;
    if (cut) {
      const fresh = !was || latestStint(was).cut === null || was.stints.length !== m.stints.length;
      onCut(ctx, m.id, fresh, now);
      if (fresh) observe(ctx, { kind: 'ignored', server: m.id, cutSeq: cut.seq, epoch: rec.epoch });
    } else if (was && (latestStint(was).cut !== null || was.stints.length !== m.stints.length)) {
      onReadmitted(ctx, m.id);
      r.memberSince.set(m.id, now);
      observe(ctx, { kind: 'admitted', server: m.id, epoch: rec.epoch });
    } else if (!was && before.size > 0) {
      observe(ctx, { kind: 'admitted', server: m.id, epoch: rec.epoch });
    }
  }
  const self = r.members.get(ctx.me);
  if (self && latestStint(self).cut) onSelfCut(ctx);
  if (!self || self.slot === null) {
    if (ctx.lifecycle.status !== 'waiting' || self) becomeEvicted(ctx);
    return;
  }
  if (ctx.lifecycle.status === 'waiting' && isActive(self)) {
    r.startedAt = now;
    scheduleFirstSlot(ctx, now);
    startSync(ctx, 'joining');
  }
  takeEarlyTimeslots(ctx);
}

/** Starts an initial server from the hand-over (the admin's, or one a peer forwarded). */
export function start(ctx: ServerCtx, init: SiteInit): void {
  if (ctx.lifecycle.status !== 'waiting') return;
  if (init.site !== ctx.site) return reject(ctx, ADMIN_ID, 'siteInit', 'ERR_WRONG_SITE', init.site);
  if (!verified(ctx, init)) return;
  const r = own(ctx, 'roster');
  if (!sameStay(ctx, init, ADMIN_ID)) return;
  r.initMsg = init;
  if (!init.membership.members.some((m) => m.id === ctx.me)) return; // not for us (a forwarded hand-over)
  r.membership = init.membership;
  r.members = new Map(init.membership.members.map((m) => [m.id, m]));
  const frontier = ceilGrid(ctx, init.start);
  startOrdering(ctx, init, frontier);
  r.startedAt = ctx.opts.now();
  startChains(ctx, [...r.members.keys()], frontier, r.startedAt);
  becomeRunning(ctx);
  observe(ctx, { kind: 'membership', epoch: init.membership.epoch, change: 'init', target: null });
}

/** A joiner before any update exists: start from the (admin-signed) hand-over and replay. */
export function adoptInit(ctx: ServerCtx, init: SiteInit, from: string): void {
  if (init.site !== ctx.site) return;
  if (!verified(ctx, init)) return;
  if (!sameStay(ctx, init, from)) return;
  own(ctx, 'roster').initMsg = init;
  const frontier = ceilGrid(ctx, init.start);
  startOrdering(ctx, init, frontier);
  forgetReports(ctx, true);
  anchorAtHandOver(
    ctx,
    init.membership.members.map((m) => m.id),
    frontier,
  );
  forgetAdmissions(ctx);
  for (const [id, ch] of ctx.timeslots.chains) for (const it of ch.items) indexItem(ctx, id, it, frontier);
  becomeRunning(ctx);
  observe(ctx, { kind: 'resynced', seq: ctx.ordering.lastSeq, hash: ctx.ordering.lastHash, from });
  fetchAfterAdopting(ctx);
}

/** Both the hand-over and its membership record carry the admin's signature. */
function verified(ctx: ServerCtx, init: SiteInit): boolean {
  if (verifySiteInit(init, ctx.opts.adminKey, ctx.crypto) && verifyMembership(init.membership, ctx.opts.adminKey, ctx.crypto)) return true;
  reject(ctx, ADMIN_ID, 'siteInit', 'ERR_BAD_SIGNATURE', 'siteInit');
  return false;
}

/** A hand-over of another stay than the records we hold (a peer's from an earlier one) is not ours to start from. */
function sameStay(ctx: ServerCtx, init: SiteInit, from: string): boolean {
  const held = ctx.roster.membership;
  if (!held || held.stay === init.membership.stay) return true;
  reject(ctx, from, 'siteInit', 'ERR_STALE', `another stay ${init.membership.stay}`);
  return false;
}

/**
 * A peer lacks our signed records: forward the newer membership, and the hand-over to a server it
 * names (one that never started). Another has no use for it but to take it as its state, which is
 * only right before any update (a provider with none answers its stateRequest with it: stateSync.ts
 * `serveState`); answered after its record, while it syncs, it would replay from the hand-over
 * through windows long pruned (sim/FINDINGS.md 84).
 */
export function onRecordRequest(ctx: ServerCtx, from: string, msg: PeerOf<'recordRequest'>): void {
  const { initMsg, membership } = ctx.roster;
  if (initMsg && msg.epoch === 0 && initMsg.membership.members.some((m) => m.id === from)) ctx.opts.send(from, initMsg);
  if (membership && membership.epoch > msg.epoch) ctx.opts.send(from, { type: 'membership', ...membership });
}
