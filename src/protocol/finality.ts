/**
 * Finality of a Site Server (docs/protocol.md "Finality"): which Timeslots are stable, where a
 * server's stint starts counting (its admission point), which reports count, whether a cut
 * server's chain is held up to its cut, and so whether the next window may close. The
 * safety-critical part: every honest server must reach the same answers from what it holds.
 */
import type { Chain } from './chain.js';
import { ADMIN_ID, MAX_TIMESLOTS_PER_REPLY, type Member } from './messages.js';
import { dropReportsAbove } from './reports.js';
import { activeIds, ceilGrid, fetchRange, latestStint, own, type ServerCtx, type Stint } from './serverContext.js';
import type { Report } from './window.js';

/** A stint's admission point, or (not known yet) whether it surely lies past a time. */
export type Admission = { known: true; at: number } | { known: false; exceeds: (t: number) => boolean };

/**
 * Highest seq of Y that every other active member has echoed with our hash (and we may use).
 * Capped at the freeze point if we asked to ignore Y, and at Y's cut unless `ignoreCut`.
 */
export function stableSeq(ctx: ServerCtx, y: string, ignoreCut = false): number {
  const ch = ctx.timeslots.chains.get(y);
  if (!ch) return -1;
  let s = ch.top.seq;
  const fr = ctx.liveness.frozen.get(y);
  if (fr) s = Math.min(s, fr.seq);
  const m = ctx.roster.members.get(y);
  const cut = m ? latestStint(m).cut : null;
  if (cut && !ignoreCut) s = Math.min(s, cut.seq);
  for (const p of activeIds(ctx)) {
    if (p === y || p === ctx.me) continue;
    s = Math.min(s, ctx.finality.cover.get(p)?.get(y) ?? ch.anchor.seq);
  }
  return s;
}

/** Stamp of `seq` in `ch` (the top's if beyond it), -Infinity below the anchor or unknown. */
export function stampAt(ch: Chain, seq: number): number {
  if (seq < ch.anchor.seq) return -Infinity;
  return ch.stampOf(Math.min(seq, ch.top.seq)) ?? -Infinity;
}

export function stableStamp(ctx: ServerCtx, y: string): number {
  const ch = ctx.timeslots.chains.get(y);
  if (!ch) return -Infinity;
  return stampAt(ch, stableSeq(ctx, y));
}

/** Where a stint starts counting: a grid point after every other member marked its epoch. */
export function admission(ctx: ServerCtx, m: Member, stint: Stint): Admission {
  if (stint.admit === 0) return { known: true, at: -Infinity };
  const ck = `${m.id}:${stint.admit}`;
  const cached = own(ctx, 'finality').admissionCache.get(ck);
  if (cached !== undefined) return { known: true, at: cached };
  const { knownMax, unknownLb, allKnown } = markers(ctx, m, stint);
  if (allKnown) {
    const at = ceilGrid(ctx, knownMax);
    own(ctx, 'finality').admissionCache.set(ck, at);
    return { known: true, at };
  }
  return { known: false, exceeds: (t: number) => unknownLb >= t || knownMax > t };
}

/**
 * The latest of a stint's contributors' markers (or cut stamps), before `admission` rounds it up
 * to the grid, or null while one is not known. A server that had not applied the record admitting
 * the stint closed no window ending at or past it (docs/protocol.md "Decision", point 2). Read
 * from the chains as held, not only their stable prefixes: a marker is a fact of its signed chain,
 * and this serves one server's own `covers`, which nobody else must compute alike. A newcomer that
 * never echoes a gone server keeps that server's marker unstable for good (sim/FINDINGS.md 58).
 */
export function latestMarker(ctx: ServerCtx, m: Member, stint: Stint): number | null {
  if (stint.admit === 0) return -Infinity;
  const { knownMax, allKnown } = markers(ctx, m, stint, true);
  return allKnown ? knownMax : null;
}

/** `held`: read marks up to each chain's top, not its stable prefix (`latestMarker` says when). */
function markers(ctx: ServerCtx, m: Member, stint: Stint, held = false): { knownMax: number; unknownLb: number; allKnown: boolean } {
  let knownMax = -Infinity;
  let unknownLb = -Infinity;
  let allKnown = true;
  for (const q of ctx.roster.members.values()) {
    if (q.id === m.id) continue;
    const prior = q.stints.filter((s) => s.admit < stint.admit).at(-1);
    if (!prior) continue;
    const ch = ctx.timeslots.chains.get(q.id);
    // The stint q was serving when this one was admitted, even if q came back since: a later
    // readmission must not move an admission point others already computed from q's cut.
    const cut = prior.cut;
    const limit = cut ? cut.seq : held ? (ch?.top.seq ?? -1) : stableSeq(ctx, q.id);
    const mark = ch?.marks.find((mk) => mk.epoch >= stint.admit && mk.seq <= limit);
    if (mark && ch && !markIsFirst(ch, mark)) {
      // q's first Timeslot of an epoch >= admit may lie below what we hold: this mark only bounds
      // it from above, and another server holding q's chain whole takes the earlier one
      // (sim/FINDINGS.md 105). Unknown until the chain is backfilled.
      allKnown = false;
    } else if (mark) knownMax = Math.max(knownMax, mark.stamp);
    else if (cut) {
      if (cut.seq === 0) continue;
      // The record says whether q was cut before it marked (its cut Timeslot's epoch) and where
      // (its stamp): a server that took a state since holds q's chain from later on only, and
      // nobody may keep that Timeslot any more. If q marked before its cut, the mark is needed
      // (not held yet: unknown). A record without them (from before) leaves it to the chain.
      let st: number | undefined;
      if (cut.epoch === undefined || cut.stamp === undefined) st = ch?.stampOf(cut.seq);
      else if (cut.epoch < stint.admit) st = cut.stamp;
      if (st === undefined) {
        allKnown = false;
      } else knownMax = Math.max(knownMax, st);
    } else {
      allKnown = false;
      unknownLb = Math.max(unknownLb, ch ? stampAt(ch, limit) : -Infinity);
    }
  }
  return { knownMax, unknownLb, allKnown };
}

/**
 * Whether a mark is surely the chain's first Timeslot of an epoch at or past its own: the marks
 * below the chain's first held Timeslot are known (held from #0, or an anchor whose stamp is known,
 * a hand-over's or a transferred state's with its marks), or the mark lies past that Timeslot, so
 * the one before it is held with a lower epoch. A chain joined midway marks its first held
 * Timeslot, whatever epochs it missed below.
 */
function markIsFirst(ch: Chain, mk: { seq: number }): boolean {
  return ch.complete() || mk.seq > (ch.items[0]?.seq ?? Infinity);
}

/** Whether a report of `server` counts: it arrived after a stint's admission and is not past its cut. */
export function counted(ctx: ServerCtx, server: string, r: Report): boolean {
  if (r.tsSeq === 0) return true;
  const m = ctx.roster.members.get(server);
  if (!m) return false;
  for (const st of m.stints) {
    const a = admission(ctx, m, st);
    const from = a.known ? a.at : Infinity;
    if (r.arrival > from && (st.cut === null || r.tsSeq <= st.cut.seq)) return true;
  }
  return false;
}

/**
 * Whether our own report of an arrival at `arrival`, in our next Timeslot, would count: our
 * stint's admission point is known and passed, and we are not cut.
 */
export function ownReportCounts(ctx: ServerCtx, arrival: number): boolean {
  const next = (ctx.timeslots.chains.get(ctx.me)?.top.seq ?? 0) + 1;
  return counted(ctx, ctx.me, { arrival, tsSeq: next });
}

/** Whether a cut member's chain is held up to its cut, with the cut's hash; fetches otherwise. */
export function cutComplete(ctx: ServerCtx, m: Member, cut: { seq: number; hash: string }): boolean {
  if (m.id === ctx.me) return true;
  let ch = ctx.timeslots.chains.get(m.id);
  if (cut.seq === 0) return true;
  if (!ch) {
    if (cut.seq > 0) fetchRange(ctx, m.id, 1, cut.seq, 'cut');
    return false;
  }
  if (cut.seq <= ch.anchor.seq) return cut.seq < ch.anchor.seq || ch.anchor.hash === cut.hash;
  if (ch.top.seq >= cut.seq) {
    if (ch.hashOf(cut.seq) === cut.hash) return true;
    // Our copy is another branch (the server equivocated): keep only what everyone echoed.
    dropBranch(ctx, m.id, Math.min(cut.seq - 1, stableSeq(ctx, m.id, true)));
    ch = ctx.timeslots.chains.get(m.id);
  }
  if (ch) fetchRange(ctx, m.id, ch.top.seq + 1, cut.seq, 'cut');
  return false;
}

/** Forgets what we hold of `y`'s chain above `keep` (another branch than the cut's). */
export function dropBranch(ctx: ServerCtx, y: string, keep: number): void {
  const ch = ctx.timeslots.chains.get(y);
  if (!ch) return;
  ch.truncate(keep);
  dropReportsAbove(ctx, y, keep);
  for (const c of own(ctx, 'finality').cover.values()) {
    const v = c.get(y);
    if (v !== undefined && v > keep) c.set(y, keep);
  }
}

/**
 * Whether reports a member's chain lacks below its first held Timeslot may count after `since`:
 * it is not cut, or cut above the chain's anchor, or (a chain joined midway starts past the cut)
 * the cut Timeslot is stamped after `since`, so it and those before it may carry such reports
 * (sim/FINDINGS.md 43). A cut at 0 counts nothing.
 */
function mayCountBelow(cut: Stint['cut'], ch: Chain, since: number): boolean {
  if (cut === null || cut.seq > ch.anchor.seq) return true;
  return cut.seq > 0 && (cut.stamp ?? Infinity) > since;
}

/** Whether window (frontier, frontier + T] can be closed now (else `ctx.finality.blocked` says why). */
export function windowReady(ctx: ServerCtx): boolean {
  if (!ctx.roster.membership || ctx.lifecycle.status !== 'running') {
    block(ctx, `status ${ctx.lifecycle.status}`);
    return false;
  }
  const frontier = ctx.ordering.frontier;
  const b = frontier + ctx.T;
  for (const m of ctx.roster.members.values()) {
    for (const st of m.stints) {
      if (st.admit === 0) continue;
      const a = admission(ctx, m, st);
      if (!a.known && !a.exceeds(frontier)) {
        backfillMidway(ctx);
        block(ctx, `admission of ${m.id} (epoch ${st.admit}) not known yet`);
        return false;
      }
    }
    const last = latestStint(m);
    // Reports of this server may count here: we must hold its chain back to the frontier, or to
    // the admission point of a stint that may count when that is later (none before it counts,
    // and a server gone may be the only one that had them: sim/FINDINGS.md 38).
    const ch = ctx.timeslots.chains.get(m.id);
    let since = Infinity;
    for (const st of m.stints) {
      if (st.cut?.seq === 0) continue;
      const a = admission(ctx, m, st);
      since = Math.min(since, a.known ? Math.max(frontier, a.at) : frontier);
    }
    if (m.id !== ctx.me && ch && since !== Infinity && !ch.complete(since) && mayCountBelow(last.cut, ch, since)) {
      fetchRange(ctx, m.id, Math.max(1, ch.anchor.seq - MAX_TIMESLOTS_PER_REPLY + 1), ch.anchor.seq, 'backfill');
      block(ctx, `backfilling ${m.id}'s Timeslots before #${ch.anchor.seq + 1}`);
      // A cut server's Timeslots below its cut are as much the cut's as those above what we hold:
      // when nobody gives them, the admin must hear it as for those (sim/FINDINGS.md 106, seed 48968).
      if (last.cut) cutWaiting(ctx, m.id, last.cut.seq);
      return false;
    }
    // An earlier stint's reports count up to its cut, whatever the latest stint says: hold its
    // chain up to that cut when the cut may lie past the frontier (a readmitted server whose
    // latest stint counts only later: sim/FINDINGS.md 50).
    for (const st of m.stints) {
      if (st === last || st.cut === null || st.cut.seq === 0 || (st.cut.stamp ?? Infinity) <= frontier) continue;
      if (!cutComplete(ctx, m, st.cut)) {
        block(ctx, `fetching ${m.id}'s Timeslots up to its earlier cut ${st.cut.seq}`);
        return false;
      }
    }
    if (last.cut) {
      if (!cutComplete(ctx, m, last.cut)) {
        block(ctx, `fetching ${m.id}'s Timeslots up to its cut ${last.cut.seq}`);
        cutWaiting(ctx, m.id, last.cut.seq);
        return false;
      }
      continue;
    }
    if (m.slot === null) continue;
    const a = admission(ctx, m, last);
    const required = a.known ? a.at <= frontier : false;
    if (!required) continue;
    if (stableStamp(ctx, m.id) < b) {
      const id = m.id;
      block(ctx, `${id} not stable past ${b}`, () => {
        const ch = ctx.timeslots.chains.get(id);
        const echo = activeIds(ctx)
          .filter((p) => p !== id && p !== ctx.me)
          .map((p) => `${p}:${ctx.finality.cover.get(p)?.get(id) ?? '-'}`)
          .join(' ');
        return `(held #${ch?.top.seq ?? '-'} @${ch?.top.stamp ?? '-'}, frozen ${ctx.liveness.frozen.get(id)?.seq ?? '-'}, echoes ${echo})`;
      });
      return false;
    }
  }
  block(ctx, '');
  own(ctx, 'finality').cutWait = null;
  return true;
}

/**
 * An admission point waits for marks below the first held Timeslot of chains joined midway:
 * fetch those chains back (the same request, and pace, as windowReady's backfill).
 */
function backfillMidway(ctx: ServerCtx): void {
  for (const [id, ch] of ctx.timeslots.chains)
    if (id !== ctx.me && ctx.roster.members.has(id) && !ch.complete()) fetchRange(ctx, id, Math.max(1, ch.anchor.seq - MAX_TIMESLOTS_PER_REPLY + 1), ch.anchor.seq, 'backfill');
}

/**
 * Blocked on a cut's Timeslots that no active member gave us (asked every T_timeout / 2): past
 * 2 T_timeout, tell the admin, every T_req_timeout while it lasts. When N_majority active servers
 * say so, no update past their states can be accepted, and the admin finds the site lost on a
 * read (its holders are gone: sim/FINDINGS.md 90).
 */
function cutWaiting(ctx: ServerCtx, target: string, seq: number): void {
  const f = own(ctx, 'finality');
  const now = ctx.opts.now();
  if (f.cutWait?.target !== target || f.cutWait.seq !== seq) f.cutWait = { target, seq, since: now, sentAt: -Infinity };
  if (now - f.cutWait.since < 2 * ctx.cfg.T_timeout || now - f.cutWait.sentAt < ctx.cfg.T_req_timeout) return;
  f.cutWait.sentAt = now;
  ctx.opts.send(ADMIN_ID, { type: 'cutWait', site: ctx.site, epoch: ctx.roster.membership?.epoch ?? 0, target, seq });
}

/**
 * Forgets Timeslots stamped before the reports horizon, but never what finality may still need:
 * a cut server's Timeslots from its cut on, and every server's from its last stable one on.
 */
export function pruneChains(ctx: ServerCtx, horizon: number): void {
  for (const [id, ch] of ctx.timeslots.chains) {
    let keepFrom = ch.anchor.seq;
    for (const it of ch.items) {
      if (it.stamp < horizon) keepFrom = it.seq;
      else break;
    }
    const m = ctx.roster.members.get(id);
    const cut = m ? latestStint(m).cut : null;
    if (cut) keepFrom = Math.min(keepFrom, cut.seq);
    keepFrom = Math.min(keepFrom, stableSeq(ctx, id, true));
    ch.prune(keepFrom, ctx.cfg.keepTimeslots);
  }
}

/** Why the next window cannot close, when another module finds out (content missing). */
export function noteBlocked(ctx: ServerCtx, why: string): void {
  block(ctx, why);
}

/** Records why the window is blocked; `detail` is worked out only if someone asks (blockedReason). */
function block(ctx: ServerCtx, why: string, detail: (() => string) | null = null): void {
  const f = own(ctx, 'finality');
  f.blocked = why;
  f.blockedDetail = detail;
}

/** Why the next window cannot close, with its details ('' when it can). */
export function blockedReason(ctx: ServerCtx): string {
  const { blocked, blockedDetail } = ctx.finality;
  return blockedDetail ? `${blocked} ${blockedDetail()}` : blocked;
}

/** A state was adopted: admission points are worked out again from the chains now held. */
export function forgetAdmissions(ctx: ServerCtx): void {
  own(ctx, 'finality').admissionCache.clear();
}

/** P echoed Y#h with the hash we hold: P covers Y up to h. */
export function creditCover(ctx: ServerCtx, p: string, y: string, h: number): void {
  const { cover } = own(ctx, 'finality');
  let c = cover.get(p);
  if (!c) cover.set(p, (c = new Map()));
  if ((c.get(y) ?? -1) < h) c.set(y, h);
}
