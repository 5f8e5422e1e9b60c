/**
 * State sync of a Site Server (docs/protocol.md "Out of step"): noticing that our updates differ
 * from the majority's (or that we fell far behind), fetching the ordering state from a peer and
 * adopting it once N_majority peers vouch for its hash; serving our state and hashes to others;
 * and starting from a hand-over when we join before any update exists.
 */
import { AppliedSet } from './applied.js';
import { Chain } from './chain.js';
import { hashOf, ZERO_HASH } from './crypto.js';
import {
  ADMIN_ID,
  decodeTransfer,
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
import { updateHash, verifyMembership, verifySiteInit } from './signed.js';

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
  ctx.sync = {
    reason,
    tried: new Set(),
    provider: null,
    startedAt: ctx.opts.now(),
    seq: null,
    hash: null,
    count: 0,
    chunks: [],
    payload: null,
    askedHashesAt: null,
  };
  askNextProvider(ctx);
}

/** Asks the next peer (the one announcing the latest update first) for its latest state. */
function askNextProvider(ctx: ServerCtx): void {
  const sync = ctx.sync;
  if (!sync) return;
  const cands = activeIds(ctx).filter((id) => id !== ctx.me);
  if (cands.length === 0) return;
  let pool = cands.filter((id) => !sync.tried.has(id));
  if (pool.length === 0) {
    sync.tried.clear();
    pool = cands;
  }
  const latest = (id: string): number => {
    const m = ctx.announced.get(id);
    return m && m.size > 0 ? Math.max(...m.keys()) : -1;
  };
  pool.sort((a, b) => latest(b) - latest(a) || (a < b ? -1 : 1));
  // Joining in the slot of a server whose player walked in: its copy first (it holds no slot now).
  const from = ctx.opts.stateFrom;
  const p = sync.reason === 'joining' && from !== undefined && from !== ctx.me && !sync.tried.has(from) ? from : pool[0];
  if (p === undefined) return;
  sync.tried.add(p);
  sync.provider = p;
  sync.startedAt = ctx.opts.now();
  sync.seq = null;
  sync.hash = null;
  sync.count = 0;
  sync.chunks = [];
  sync.payload = null;
  sync.askedHashesAt = null;
  ctx.opts.send(p, { type: 'stateRequest', site: ctx.site, seq: null, epoch: myEpoch(ctx) });
}

export function onStateChunk(ctx: ServerCtx, from: string, msg: PeerOf<'stateChunk'>): void {
  const sync = ctx.sync;
  if (!sync || from !== sync.provider || sync.payload) return;
  if (sync.seq === null) {
    sync.seq = msg.seq;
    sync.hash = msg.hash;
    sync.count = msg.count;
    sync.chunks = new Array<Uint8Array | undefined>(msg.count);
  }
  if (msg.seq !== sync.seq || msg.hash !== sync.hash || msg.count !== sync.count || msg.index >= sync.count) {
    reject(ctx, from, 'stateChunk', 'ERR_STALE', 'chunk of another transfer');
    return;
  }
  sync.chunks[msg.index] = msg.data;
  if (sync.chunks.some((c) => c === undefined) || sync.chunks.length !== sync.count) return;
  const total = sync.chunks.reduce((n, c) => n + (c?.byteLength ?? 0), 0);
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const c of sync.chunks) {
    if (c) bytes.set(c, off);
    off += c?.byteLength ?? 0;
  }
  const parsed = decodeTransfer(bytes);
  if (!parsed.ok) {
    reject(ctx, from, 'stateChunk', 'ERR_MALFORMED', parsed.message);
    return askNextProvider(ctx);
  }
  const p = parsed.value;
  const { hash: claimed, ...body } = p.update;
  if (
    p.update.site !== ctx.site ||
    p.state.site !== ctx.site ||
    p.update.seq !== sync.seq ||
    claimed !== sync.hash ||
    updateHash(body) !== claimed ||
    hashOf(p.state) !== p.update.stateHash ||
    p.state.window !== p.update.window
  ) {
    reject(ctx, from, 'stateChunk', 'ERR_BAD_HASH', 'transferred state does not match its hashes');
    return askNextProvider(ctx);
  }
  sync.payload = p;
  tryAdopt(ctx);
}

/** How many other active servers announced update `seq` with `hash`. */
function vouchers(ctx: ServerCtx, seq: number, hash: string): number {
  let n = 0;
  for (const id of activeIds(ctx)) {
    if (id === ctx.me) continue;
    if (ctx.announced.get(id)?.get(seq) === hash) n++;
  }
  return n;
}

/** Adopts the transferred state once N_majority peers vouch for it; asks for their hashes once. */
export function tryAdopt(ctx: ServerCtx): void {
  const sync = ctx.sync;
  if (!sync?.payload) return;
  const p = sync.payload;
  if (vouchers(ctx, p.update.seq, p.update.hash) < ctx.N_maj) {
    if (sync.askedHashesAt === null) {
      sync.askedHashesAt = ctx.opts.now();
      for (const id of activeIds(ctx)) if (id !== ctx.me) ctx.opts.send(id, { type: 'hashRequest', site: ctx.site, seq: p.update.seq });
    }
    return;
  }
  adopt(ctx, p);
}

function adopt(ctx: ServerCtx, p: TransferPayload): void {
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
  const from = ctx.sync?.provider ?? undefined;
  ctx.sync = null;
  ctx.status = 'running';
  observe(ctx, { kind: 'resynced', seq: ctx.lastSeq, hash: ctx.lastHash, ...(from !== undefined ? { from } : {}) });
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
  if (!ctx.sync) return;
  const now = ctx.opts.now();
  const limit = 3 * ctx.cfg.T_req_timeout + 10 * ctx.T;
  if (now - ctx.sync.startedAt > limit) askNextProvider(ctx);
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
  const bytes = encodeTransfer({ update, state: s.state, hints: s.hints });
  const count = Math.max(1, Math.ceil(bytes.byteLength / STATE_CHUNK_BYTES));
  for (let i = 0; i < count; i++) {
    ctx.opts.send(from, {
      type: 'stateChunk',
      site: ctx.site,
      seq: s.update.seq,
      hash: s.update.hash,
      index: i,
      count,
      data: bytes.slice(i * STATE_CHUNK_BYTES, (i + 1) * STATE_CHUNK_BYTES),
    });
  }
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
