/**
 * The reports index of a Site Server: for each candidate (user, actionNo, content hash), which
 * server reported its arrival when, and in which of its Timeslots. Windows are closed from it
 * (applying.ts) and the ordering state is built from it. This module alone writes the index
 * (`ctx.reports`: the candidates, and the contents we want); the others call the functions here.
 */
import type { ChainItem } from './chain.js';
import { isApplied, key3, own, type ActionRec, type ServerCtx } from './serverContext.js';
import type { Report } from './window.js';

/** Indexes the entries of one held Timeslot of `server` that arrived after `after`. */
export function indexItem(ctx: ServerCtx, server: string, item: ChainItem, after: number): void {
  for (const [user, actionNo, arrival, hash] of item.entries) {
    if (arrival <= after) continue;
    addReport(ctx, server, user, actionNo, hash, arrival, item.seq);
  }
}

/**
 * `tsSeq` 0: from a transferred state (always counts). Every report of a server is kept, one per
 * Timeslot (the earliest arrival if a Timeslot lists it twice): which counts is decided when a
 * window closes, never here, since what `counted` says of a report depends on what this replica
 * knows when it indexes it (sim/FINDINGS.md 99). Bounded as the index is: one per entry of a held
 * Timeslot (at most maxEntries each) whose arrival lies within the reports horizon.
 */
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
  const { actions, wanted } = own(ctx, 'reports');
  let rec = actions.get(k);
  if (!rec) actions.set(k, (rec = { user, actionNo, hash, reports: new Map() }));
  let rs = rec.reports.get(server);
  if (!rs) rec.reports.set(server, (rs = []));
  const at = rs.findIndex((r) => r.tsSeq >= tsSeq);
  const same = at >= 0 ? rs[at] : undefined;
  if (same && same.tsSeq === tsSeq) same.arrival = Math.min(same.arrival, arrival);
  else rs.splice(at < 0 ? rs.length : at, 0, { arrival, tsSeq });
  // Another server has it and we do not: our copy was probably lost. Ask after T_content, before
  // it is final, so a lost action costs no extra delay when its window closes.
  if (server !== ctx.me && !ctx.ordering.contents.has(k) && !wanted.has(k)) wanted.set(k, { since: ctx.opts.now(), askedAt: null, again: 0 });
}

/** Keeps the reports of candidate `rec` that `keep` accepts; false when none is left. */
function filterReports(rec: ActionRec, keep: (server: string, r: Report) => boolean): boolean {
  for (const [server, rs] of rec.reports) {
    const left = rs.filter((r) => keep(server, r));
    if (left.length === 0) rec.reports.delete(server);
    else if (left.length < rs.length) rec.reports.set(server, left);
  }
  return rec.reports.size > 0;
}

/** Forgets the reports `server` made in its Timeslots above `seq` (a branch we dropped). */
export function dropReportsAbove(ctx: ServerCtx, server: string, seq: number): void {
  const { actions } = own(ctx, 'reports');
  for (const [k, rec] of actions) {
    if (!filterReports(rec, (s, r) => s !== server || r.tsSeq <= seq)) actions.delete(k);
  }
}

/** Drops the candidates already applied. */
export function dropApplied(ctx: ServerCtx): void {
  const { actions } = own(ctx, 'reports');
  for (const [k, rec] of actions) if (isApplied(ctx, rec.user, rec.actionNo)) actions.delete(k);
}

/**
 * After a window closed: drops applied candidates (returns their keys) and reports that arrived
 * before `horizon` (a candidate left without reports goes).
 */
export function pruneReports(ctx: ServerCtx, horizon: number): string[] {
  const { actions, wanted } = own(ctx, 'reports');
  const applied: string[] = [];
  for (const [k, rec] of actions) {
    if (isApplied(ctx, rec.user, rec.actionNo)) {
      actions.delete(k);
      wanted.delete(k);
      applied.push(k);
      continue;
    }
    if (!filterReports(rec, (_s, r) => r.arrival > horizon)) actions.delete(k);
  }
  return applied;
}

/** The content of candidate `k` is needed now (it is final): to be asked for at once. */
export function wantNow(ctx: ServerCtx, k: string): void {
  const { wanted } = own(ctx, 'reports');
  const w = wanted.get(k);
  if (!w) wanted.set(k, { since: -Infinity, askedAt: null, again: 0 });
  else if (w.askedAt === null) w.since = -Infinity;
}

/** The content of `k` arrived, or is no longer anyone's to give. */
export function unwant(ctx: ServerCtx, k: string): void {
  own(ctx, 'reports').wanted.delete(k);
}

/** A state was adopted: the candidates of the one we had go (`wanted` too unless `keepWanted`). */
export function forgetReports(ctx: ServerCtx, keepWanted: boolean): void {
  own(ctx, 'reports').actions.clear();
  if (!keepWanted) own(ctx, 'reports').wanted.clear();
}
