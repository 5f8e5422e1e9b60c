/**
 * The reports index of a Site Server: for each candidate (user, actionNo, content hash), which
 * server reported its arrival when, and in which of its Timeslots. Windows are closed from it
 * (applying.ts) and the ordering state is built from it.
 */
import type { ChainItem } from './chain.js';
import { isApplied, key3, type ServerCtx } from './serverContext.js';

/** Indexes the entries of one held Timeslot of `server` that arrived after `after`. */
export function indexItem(ctx: ServerCtx, server: string, item: ChainItem, after: number): void {
  for (const [user, actionNo, arrival, hash] of item.entries) {
    if (arrival <= after) continue;
    addReport(ctx, server, user, actionNo, hash, arrival, item.seq);
  }
}

/** `tsSeq` 0: from a transferred state (always counts). */
export function addReport(
  ctx: ServerCtx,
  server: string,
  user: string,
  actionNo: number,
  hash: string,
  arrival: number,
  tsSeq: number,
): void {
  if (isApplied(ctx, user, actionNo)) return;
  const k = key3(user, actionNo, hash);
  let rec = ctx.actions.get(k);
  if (!rec) ctx.actions.set(k, (rec = { user, actionNo, hash, reports: new Map() }));
  const had = rec.reports.get(server);
  if (!had || (had.tsSeq !== 0 && tsSeq !== 0 && tsSeq < had.tsSeq)) rec.reports.set(server, { arrival, tsSeq });
  // Another server has it and we do not: our copy was probably lost. Ask after T_content, before
  // it is final, so a lost action costs no extra delay when its window closes.
  if (server !== ctx.me && !ctx.contents.has(k) && !ctx.wanted.has(k)) ctx.wanted.set(k, { since: ctx.opts.now(), askedAt: null });
}

/** Forgets the reports `server` made in its Timeslots above `seq` (a branch we dropped). */
export function dropReportsAbove(ctx: ServerCtx, server: string, seq: number): void {
  for (const [k, rec] of ctx.actions) {
    const r = rec.reports.get(server);
    if (r && r.tsSeq > seq) {
      rec.reports.delete(server);
      if (rec.reports.size === 0) ctx.actions.delete(k);
    }
  }
}
