/**
 * State sync of a Site Server (docs/protocol.md "Out of step"): noticing that our updates differ
 * from the majority's (or that we fell far behind), fetching the ordering state from a peer and
 * adopting it once N_majority peers vouch for its hash; serving our state and hashes to others;
 * and starting from a hand-over when we join before any update exists.
 */
import { AppliedSet } from './applied.js';
import { Chain } from './chain.js';
import { cutBytes } from './chunks.js';
import { ZERO_HASH } from './crypto.js';
import {
  ADMIN_ID,
  encodeTransfer,
  MAX_TIMESLOTS_PER_REPLY,
  STATE_CHUNK_BYTES,
  type PeerOf,
  type SiteInit,
  type TransferPayload,
} from './messages.js';
import type { AppliedUpdate } from './api.js';
import { addReport, indexItem } from './reports.js';
import { activeIds, ceilGrid, fetchRange, myEpoch, observe, reject, type ServerCtx } from './serverContext.js';
import { verifyMembership, verifySiteInit } from './signed.js';
import { createStateFetch } from './stateFetch.js';

/** Server `server` says its update `seq` has `hash` (in a Timeslot, an update or a hash). */
export function noteAnnounce(ctx: ServerCtx, server: string, seq: number, hash: string): void {
  let m = ctx.announced.get(server);
  if (!m) ctx.announced.set(server, (m = new Map()));
  m.set(seq, hash);
  if (m.size > 4 * ctx.cfg.keepUpdates) {
    const min = Math.min(...m.keys());
    m.delete(min);
  }
}

export function checkOutOfStep(ctx: ServerCtx): void {
  if (ctx.status !== 'running') return;
  const others = activeIds(ctx).filter((id) => id !== ctx.me);
  const { log } = ctx;
  for (const entry of log.slice(Math.max(ctx.checkFrom, log.length - ctx.cfg.keepUpdates))) {
    const tally = new Map<string, number>();
    for (const id of others) {
      const h = ctx.announced.get(id)?.get(entry.seq);
      if (h !== undefined) tally.set(h, (tally.get(h) ?? 0) + 1);
    }
    for (const [h, n] of tally) {
      if (h !== entry.hash && n >= ctx.N_maj) return startSync(ctx, `update ${entry.seq} differs from the majority`);
    }
  }
  let ahead = 0;
  for (const id of others) {
    const m = ctx.announced.get(id);
    if (m && m.size > 0 && Math.max(...m.keys()) > ctx.lastSeq + Math.floor(ctx.cfg.keepUpdates / 2)) ahead++;
  }
  if (ahead >= ctx.N_maj) startSync(ctx, 'far behind the majority');
}

export function startSync(ctx: ServerCtx, reason: string): void {
  if (ctx.status === 'syncing' || ctx.status === 'evicted') return;
  ctx.status = 'syncing';
  observe(ctx, { kind: 'resync', reason, seq: ctx.lastSeq });
  const others = (): string[] => activeIds(ctx).filter((id) => id !== ctx.me);
  const latest = (id: string): number => {
    const m = ctx.announced.get(id);
    return m && m.size > 0 ? Math.max(...m.keys()) : -1;
  };
  // Joining in the slot of a server whose player walked in: its copy first (it holds no slot now).
  const from = ctx.opts.stateFrom;
  const fetch = createStateFetch({
    config: ctx.cfg,
    now: ctx.opts.now,
    send: ctx.opts.send,
    servers: others,
    onDone: (r) => adopt(ctx, r.payload, r.from),
    onRejected: (peer, code, why) => reject(ctx, peer, 'stateChunk', code, why),
    patienceMs: 3 * ctx.cfg.T_req_timeout + 10 * ctx.T,
    // The peer announcing the latest update first.
    order: (pool) => [...pool].sort((a, b) => latest(b) - latest(a) || (a < b ? -1 : 1)),
    ...(reason === 'joining' && from !== undefined && from !== ctx.me ? { preferred: from } : {}),
    known: (id, seq) => ctx.announced.get(id)?.get(seq),
    epoch: () => myEpoch(ctx),
  });
  ctx.sync = { reason, fetch };
  fetch.start();
}

export function onStateChunk(ctx: ServerCtx, from: string, msg: PeerOf<'stateChunk'>): void {
  ctx.sync?.fetch.onChunk(from, msg);
}

/** A peer announced its hash of update `seq` (an `update` or `updateHash`): maybe the majority's. */
export function onAnnounce(ctx: ServerCtx, from: string, seq: number, hash: string): void {
  noteAnnounce(ctx, from, seq, hash);
  ctx.sync?.fetch.onHash(from, seq, hash);
}

function adopt(ctx: ServerCtx, p: TransferPayload, from: string): void {
  const { cfg, chains } = ctx;
  const st = p.state;
  ctx.snapshot = st.snapshot;
  ctx.frontier = st.window;
  ctx.lastSeq = p.update.seq;
  ctx.lastHash = p.update.hash;
  ctx.hashBySeq.set(ctx.lastSeq, ctx.lastHash);
  ctx.dedupe = AppliedSet.fromList(st.applied);
  ctx.actions.clear();
  ctx.wanted.clear();
  for (const [user, actionNo, hash, reps] of st.pending) {
    for (const [server, arrival] of reps) addReport(ctx, server, user, actionNo, hash, arrival, 0);
  }
  // Chains: anchor at the hinted positions unless what we hold already covers them.
  for (const [id, seq, hash, stamp] of p.hints.chains) {
    if (id === ctx.me) continue;
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
  ctx.admissionCache.clear();
  for (const [id, ch] of chains) for (const it of ch.items) indexItem(ctx, id, it, ctx.frontier);
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
  ctx.log.push(entry);
  ctx.checkFrom = ctx.log.length - 1; // what we produced before is superseded, not to be compared again
  ctx.stored.push({ update: { ...p.update, type: 'update' }, state: st, hints: p.hints });
  while (ctx.stored.length > cfg.keepUpdates) ctx.stored.shift();
  ctx.sync = null;
  ctx.status = 'running';
  observe(ctx, { kind: 'resynced', seq: ctx.lastSeq, hash: ctx.lastHash, from });
  fetchAfterAdopting(ctx);
}

/** After adopting a state: what the others hold beyond the anchors we took. */
function fetchAfterAdopting(ctx: ServerCtx): void {
  for (const [id, ch] of ctx.chains) {
    if (id !== ctx.me) fetchRange(ctx, id, ch.top.seq + 1, ch.top.seq + MAX_TIMESLOTS_PER_REPLY, 'resync');
  }
}

/** A provider that has not delivered in time: ask the next one. */
export function syncTimeouts(ctx: ServerCtx): void {
  ctx.sync?.fetch.tick();
}

export function serveState(ctx: ServerCtx, from: string, seq: number | null): void {
  const { initMsg, stored } = ctx;
  // Out of the server set, a server still gives what it has (its player walked in and hands it
  // to the replacement, which checks it against the majority's hashes).
  const serving = ctx.status === 'running' || ctx.status === 'evicted';
  if (initMsg && serving && (stored.length === 0 || (seq !== null && seq <= initMsg.seq))) {
    // No update yet: the state is the hand-over itself, which the admin signed.
    ctx.opts.send(from, initMsg);
    return;
  }
  const s = seq === null ? stored[stored.length - 1] : stored.find((x) => x.update.seq === seq);
  if (!s || !serving) return;
  const { type: _t, ...update } = s.update;
  void _t;
  const pieces = cutBytes(encodeTransfer({ update, state: s.state, hints: s.hints }), STATE_CHUNK_BYTES);
  pieces.forEach((data, index) => {
    ctx.opts.send(from, { type: 'stateChunk', site: ctx.site, seq: s.update.seq, hash: s.update.hash, index, count: pieces.length, data });
  });
}

export function onHashRequest(ctx: ServerCtx, from: string, msg: PeerOf<'hashRequest'>): void {
  const h = ctx.hashBySeq.get(msg.seq);
  if (h !== undefined && ctx.status === 'running') ctx.opts.send(from, { type: 'updateHash', site: ctx.site, seq: msg.seq, hash: h });
}

/** A user whose votes for update `seq` were lost asks for it in full. */
export function onUpdateRequest(ctx: ServerCtx, from: string, msg: PeerOf<'updateRequest'>): void {
  const st = ctx.stored.find((x) => x.update.seq === msg.seq);
  if (st && ctx.status === 'running') ctx.opts.send(from, st.update);
}

/** A joiner before any update exists: start from the (admin-signed) hand-over and replay. */
export function adoptInit(ctx: ServerCtx, init: SiteInit, from: string): void {
  if (init.site !== ctx.site) return;
  const { opts, cfg, chains } = ctx;
  if (!verifySiteInit(init, opts.adminKey, ctx.crypto) || !verifyMembership(init.membership, opts.adminKey, ctx.crypto)) {
    return reject(ctx, ADMIN_ID, 'siteInit', 'ERR_BAD_SIGNATURE', 'siteInit');
  }
  ctx.initMsg = init;
  ctx.snapshot = init.state;
  ctx.frontier = ceilGrid(ctx, init.start);
  ctx.lastSeq = init.seq;
  ctx.lastHash = init.prev;
  ctx.dedupe.clear();
  for (const [user, no] of init.lastActionNo) ctx.dedupe.setFloor(user, no);
  ctx.actions.clear();
  for (const m of init.membership.members) {
    if (m.id === ctx.me) continue;
    const ch = chains.get(m.id);
    const anchor = { seq: 0, hash: ZERO_HASH, stamp: ctx.frontier };
    if (!ch) chains.set(m.id, new Chain(m.id, anchor, cfg.maxEntries, cfg.keepTimeslots));
    else if (ch.anchor.seq === 0 && ch.anchor.hash === ZERO_HASH) ch.anchor = anchor;
    else ch.reset(anchor);
  }
  ctx.admissionCache.clear();
  for (const [id, ch] of chains) for (const it of ch.items) indexItem(ctx, id, it, ctx.frontier);
  ctx.sync = null;
  ctx.status = 'running';
  observe(ctx, { kind: 'resynced', seq: ctx.lastSeq, hash: ctx.lastHash, from });
  fetchAfterAdopting(ctx);
}
