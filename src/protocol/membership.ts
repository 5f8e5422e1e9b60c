/**
 * The admin-signed records a Site Server runs on: the hand-over that starts it (`siteInit`) and
 * the membership records that ignore, readmit, replace and evict servers. Accepted from anyone,
 * since the signature is what counts.
 */
import { Chain } from './chain.js';
import { ZERO_HASH } from './crypto.js';
import { ADMIN_ID, type Membership, type PeerOf, type SiteInit } from './messages.js';
import { ceilGrid, isActive, latestStint, observe, reject, type ServerCtx } from './serverContext.js';
import { verifyMembership, verifySiteInit } from './signed.js';
import { startSync } from './stateSync.js';

/** A newer membership record: who is in, who is cut where; a server it lists for the first time joins. */
export function applyMembership(ctx: ServerCtx, rec: Membership, from: string): void {
  if (rec.site !== ctx.site) return reject(ctx, from, 'membership', 'ERR_WRONG_SITE', rec.site);
  if (!verifyMembership(rec, ctx.opts.adminKey, ctx.crypto)) return reject(ctx, from, 'membership', 'ERR_BAD_SIGNATURE', 'membership');
  if (ctx.membership && rec.epoch <= ctx.membership.epoch) return;
  const before = ctx.members;
  ctx.membership = rec;
  ctx.members = new Map(rec.members.map((m) => [m.id, m]));
  observe(ctx, { kind: 'membership', epoch: rec.epoch, change: rec.change.kind, target: rec.change.target });
  const now = ctx.opts.now();
  for (const m of ctx.members.values()) {
    // Only a server new to the membership starts its grace period now; the others (initial
    // members included, which start() leaves to startedAt) keep theirs (FINDINGS 15).
    if (!ctx.memberSince.has(m.id) && !before.has(m.id)) ctx.memberSince.set(m.id, now);
    const was = before.get(m.id);
    const cut = latestStint(m).cut;
    if (cut) {
      ctx.frozen.delete(m.id);
      ctx.trm.delete(m.id);
      ctx.lagSince.delete(m.id);
      ctx.withdrawing.delete(m.id);
      ctx.calledWhileWithdrawing.delete(m.id);
      if (!was || latestStint(was).cut === null || was.stints.length !== m.stints.length) {
        ctx.ignoredAt.set(m.id, now);
        observe(ctx, { kind: 'ignored', server: m.id, cutSeq: cut.seq, epoch: rec.epoch });
      }
    } else if (was && (latestStint(was).cut !== null || was.stints.length !== m.stints.length)) {
      ctx.ignoredAt.delete(m.id);
      ctx.memberSince.set(m.id, now);
      observe(ctx, { kind: 'admitted', server: m.id, epoch: rec.epoch });
    } else if (!was && before.size > 0) {
      observe(ctx, { kind: 'admitted', server: m.id, epoch: rec.epoch });
    }
  }
  const self = ctx.members.get(ctx.me);
  if (self && latestStint(self).cut) {
    ctx.frozen.clear(); // we are ignored: our heads count for nothing
    ctx.withdrawing.clear();
    ctx.calledWhileWithdrawing.clear();
  }
  if (!self || self.slot === null) {
    if (ctx.status !== 'waiting' || self) {
      ctx.status = 'evicted';
      ctx.sync = null;
    }
    return;
  }
  if (ctx.status === 'waiting' && isActive(self)) {
    ctx.startedAt = now;
    if (ctx.nextSlotAt === null) ctx.nextSlotAt = (Math.floor(now / ctx.T) + 1) * ctx.T;
    startSync(ctx, 'joining');
  }
}

/** Starts an initial server from the hand-over (the admin's, or one a peer forwarded). */
export function start(ctx: ServerCtx, init: SiteInit): void {
  if (ctx.status !== 'waiting') return;
  const { opts, cfg, T } = ctx;
  if (init.site !== ctx.site) return reject(ctx, ADMIN_ID, 'siteInit', 'ERR_WRONG_SITE', init.site);
  if (!verifySiteInit(init, opts.adminKey, ctx.crypto) || !verifyMembership(init.membership, opts.adminKey, ctx.crypto)) {
    return reject(ctx, ADMIN_ID, 'siteInit', 'ERR_BAD_SIGNATURE', 'siteInit');
  }
  ctx.initMsg = init;
  if (!init.membership.members.some((m) => m.id === ctx.me)) return; // not for us (a forwarded hand-over)
  ctx.membership = init.membership;
  ctx.members = new Map(init.membership.members.map((m) => [m.id, m]));
  ctx.snapshot = init.state;
  const frontier = ceilGrid(ctx, init.start);
  ctx.frontier = frontier;
  ctx.lastStamp = frontier;
  ctx.lastSeq = init.seq;
  ctx.lastHash = init.prev;
  for (const [user, no] of init.lastActionNo) ctx.dedupe.setFloor(user, no);
  for (const m of ctx.members.values()) {
    ctx.chains.set(m.id, new Chain(m.id, { seq: 0, hash: ZERO_HASH, stamp: frontier }, cfg.maxEntries, cfg.keepTimeslots));
  }
  ctx.startedAt = opts.now();
  ctx.nextSlotAt = Math.max(frontier + T, (Math.floor(ctx.startedAt / T) + 1) * T);
  ctx.status = 'running';
  observe(ctx, { kind: 'membership', epoch: init.membership.epoch, change: 'init', target: null });
}

/** A peer lacks our signed records: forward the hand-over and the newer membership. */
export function onRecordRequest(ctx: ServerCtx, from: string, msg: PeerOf<'recordRequest'>): void {
  if (ctx.initMsg && msg.epoch === 0) ctx.opts.send(from, ctx.initMsg);
  if (ctx.membership && ctx.membership.epoch > msg.epoch) ctx.opts.send(from, { type: 'membership', ...ctx.membership });
}
