/**
 * State sync of a Site Server (docs/protocol.md "Out of step"): noticing that our updates differ
 * from the majority's (or that we fell far behind), taking the majority's state by the one
 * state-transfer path (stateFetch.ts) and adopting it; serving our state and hashes to others.
 * Owns no part of the state: it changes the others' through their owners' functions.
 */
import { adoptOrdering, vouchAdopted } from './applying.js';
import { cutBytes } from './chunks.js';
import { forgetAdmissions } from './finality.js';
import { encodeTransfer, MAX_TIMESLOTS_PER_REPLY, STATE_CHUNK_BYTES, type PeerOf, type TransferPayload } from './messages.js';
import { addReport, forgetReports, indexItem } from './reports.js';
import { activeIds, becomeRunning, becomeSyncing, fetchRange, myEpoch, observe, reject, type ServerCtx } from './serverContext.js';
import { createStateFetch } from './stateFetch.js';
import { anchorAtHints, noteAnnounce } from './timeslots.js';

/**
 * Runs every tick: whether the majority announced another hash for one of our recent updates, or
 * is far ahead of us. Allocates nothing in the usual case (no announcement differs from ours).
 */
export function checkOutOfStep(ctx: ServerCtx): void {
  if (ctx.lifecycle.status !== 'running') return;
  const others = activeIds(ctx).filter((id) => id !== ctx.me);
  const { announced, announcedTop, announcedVersion } = ctx.timeslots;
  const { log, checkFrom, lastSeq, lastHash } = ctx.ordering;
  // Everything the answer depends on: the same inputs as the last clean check give the same answer.
  const inputs = `${announcedVersion}|${log.length}|${checkFrom}|${lastSeq}|${lastHash}|${ctx.N_maj}|${others.join(',')}`;
  if (inSteps.get(ctx) === inputs) return;
  const heard = others.flatMap((id) => announced.get(id) ?? []);
  for (let i = Math.max(0, checkFrom, log.length - ctx.cfg.keepUpdates); i < log.length; i++) {
    const entry = log[i] as (typeof log)[number];
    let differing = 0;
    for (const m of heard) {
      const h = m.get(entry.seq);
      if (h !== undefined && h !== entry.hash) differing++;
    }
    // Fewer differing announcements than a majority: no other hash can have one.
    if (differing < ctx.N_maj) continue;
    const tally = new Map<string, number>();
    for (const id of others) {
      const h = announced.get(id)?.get(entry.seq);
      if (h !== undefined) tally.set(h, (tally.get(h) ?? 0) + 1);
    }
    for (const [h, n] of tally) {
      if (h !== entry.hash && n >= ctx.N_maj) return startSync(ctx, `update ${entry.seq} differs from the majority`);
    }
  }
  let ahead = 0;
  for (const id of others) {
    const top = announcedTop.get(id);
    if (top !== undefined && top > lastSeq + Math.floor(ctx.cfg.keepUpdates / 2)) ahead++;
  }
  if (ahead >= ctx.N_maj) return startSync(ctx, 'far behind the majority');
  inSteps.set(ctx, inputs);
}

/** The inputs of each server's last check that found it in step (a memo, not state: see above). */
const inSteps = new WeakMap<ServerCtx, string>();

export function startSync(ctx: ServerCtx, reason: string): void {
  if (ctx.lifecycle.status === 'syncing' || ctx.lifecycle.status === 'evicted') return;
  observe(ctx, { kind: 'resync', reason, seq: ctx.ordering.lastSeq });
  const others = (): string[] => activeIds(ctx).filter((id) => id !== ctx.me);
  const latest = (id: string): number => ctx.timeslots.announcedTop.get(id) ?? -1;
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
    known: (id, seq) => ctx.timeslots.announced.get(id)?.get(seq),
    epoch: () => myEpoch(ctx),
  });
  becomeSyncing(ctx, { reason, fetch });
  fetch.start();
}

export function onStateChunk(ctx: ServerCtx, from: string, msg: PeerOf<'stateChunk'>): void {
  ctx.lifecycle.sync?.fetch.onChunk(from, msg);
}

/** A peer announced its hash of update `seq` (an `update` or `updateHash`): maybe the majority's. */
export function onAnnounce(ctx: ServerCtx, from: string, seq: number, hash: string): void {
  noteAnnounce(ctx, from, seq, hash);
  ctx.lifecycle.sync?.fetch.onHash(from, seq, hash);
}

function adopt(ctx: ServerCtx, p: TransferPayload, from: string): void {
  // An update we hold already (applied or taken before) had our word then: a second is a replay.
  const held = ctx.ordering.hashBySeq.get(p.update.seq) === p.update.hash;
  adoptOrdering(ctx, p);
  forgetReports(ctx, false);
  for (const [user, actionNo, hash, reps] of p.state.pending) {
    for (const [server, arrival] of reps) addReport(ctx, server, user, actionNo, hash, arrival, 0);
  }
  anchorAtHints(ctx, p.hints);
  forgetAdmissions(ctx);
  for (const [id, ch] of ctx.timeslots.chains) for (const it of ch.items) indexItem(ctx, id, it, ctx.ordering.frontier);
  becomeRunning(ctx);
  if (!held) vouchAdopted(ctx);
  observe(ctx, { kind: 'resynced', seq: ctx.ordering.lastSeq, hash: ctx.ordering.lastHash, from });
  fetchAfterAdopting(ctx);
}

/** After adopting a state: what the others hold beyond the anchors we took. */
export function fetchAfterAdopting(ctx: ServerCtx): void {
  for (const [id, ch] of ctx.timeslots.chains) {
    if (id !== ctx.me) fetchRange(ctx, id, ch.top.seq + 1, ch.top.seq + MAX_TIMESLOTS_PER_REPLY, 'resync');
  }
}

/** A provider that has not delivered in time: ask the next one. */
export function syncTimeouts(ctx: ServerCtx): void {
  ctx.lifecycle.sync?.fetch.tick();
}

export function serveState(ctx: ServerCtx, from: string, seq: number | null): void {
  const { initMsg } = ctx.roster;
  const { stored } = ctx.ordering;
  // Out of the server set, a server still gives what it has (its player walked in and hands it
  // to the replacement, which checks it against the majority's hashes).
  const serving = ctx.lifecycle.status === 'running' || ctx.lifecycle.status === 'evicted';
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
  const h = ctx.ordering.hashBySeq.get(msg.seq);
  if (h !== undefined && ctx.lifecycle.status === 'running') ctx.opts.send(from, { type: 'updateHash', site: ctx.site, seq: msg.seq, hash: h });
}

/** A user whose votes for update `seq` were lost asks for it in full. */
export function onUpdateRequest(ctx: ServerCtx, from: string, msg: PeerOf<'updateRequest'>): void {
  const st = ctx.ordering.stored.find((x) => x.update.seq === msg.seq);
  if (st && ctx.lifecycle.status === 'running') ctx.opts.send(from, st.update);
}
