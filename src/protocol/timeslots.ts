/**
 * Timeslots of a Site Server: emitting our own (entries, heads of the others, our latest update)
 * and echoes of the heads; receiving the others' with their signatures, chain rules and conflict
 * checks (two signed versions are an equivocation proof); cross-checking the heads peers echo;
 * and serving and asking for ranges of Timeslots (TRM).
 */
import { Chain, type ChainItem } from './chain.js';
import { ZERO_HASH } from './crypto.js';
import type { ErrorCode } from './errors.js';
import { dropBranch } from './finality.js';
import { requestIgnore } from './liveness.js';
import { ADMIN_ID, MAX_TIMESLOTS_PER_REPLY, type PeerMessage, type PeerOf, type Timeslot } from './messages.js';

/** Suspicions (a peer echoed another hash than ours) remembered at once; each lasts T_timeout. */
export const MAX_SUSPICIONS = 1024;
import { indexItem } from './reports.js';
import {
  activeIds,
  askRecords,
  chainOf,
  due,
  fromUnknownPeer,
  EPS,
  fetchRange,
  HORIZON_WINDOWS,
  isActive,
  latestStint,
  MAX_PENDING_CLAIMS,
  observe,
  reject,
  timeslotReply,
  timeslotRequest,
  type ServerCtx,
} from './serverContext.js';
import { signTimeslot, timeslotHash, timeslotsConflict, verifyTimeslot, type TimeslotBody } from './signed.js';
import { noteAnnounce } from './stateSync.js';

// ---------------------------------------------------------------------------------------------
// Own Timeslots and echoes
// ---------------------------------------------------------------------------------------------

function myChain(ctx: ServerCtx): Chain {
  let ch = ctx.chains.get(ctx.me);
  if (!ch) {
    ch = new Chain(ctx.me, { seq: 0, hash: ZERO_HASH, stamp: ctx.lastStamp }, ctx.cfg.maxEntries, ctx.cfg.keepTimeslots);
    ctx.chains.set(ctx.me, ch);
  }
  return ch;
}

/** The latest Timeslot held of each active server (capped where we asked to ignore it). */
function currentHeads(ctx: ServerCtx): Timeslot['heads'] {
  const heads: Timeslot['heads'] = [];
  for (const [id, ch] of ctx.chains) {
    if (id === ctx.me) continue;
    const m = ctx.members.get(id);
    if (!m || !isActive(m)) continue;
    let seq = ch.top.seq;
    const fr = ctx.frozen.get(id);
    if (fr) seq = Math.min(seq, fr.seq);
    const hash = ch.hashOf(seq);
    if (seq < 1 || hash === undefined) continue;
    heads.push([id, seq, hash]);
  }
  return heads;
}

/**
 * Echo: after new Timeslots arrive, tell the others what we hold at once, so a window can close
 * about two hops after its last Timeslot instead of waiting for our next Timeslot. Sent when
 * every active server's Timeslot of this round is in, or T_timeslot / 3 after the first one.
 */
export function maybeEcho(ctx: ServerCtx, force: boolean): void {
  if (ctx.status === 'waiting' || ctx.status === 'evicted') return;
  const { T } = ctx;
  const now = ctx.opts.now();
  const grid = Math.floor(now / T + 1e-9) * T;
  if (!force) {
    if (ctx.echoedGrid >= grid) {
      if (ctx.echoDueAt === null) ctx.echoDueAt = now + T / 3;
      return;
    }
    for (const id of activeIds(ctx)) {
      if (id === ctx.me || ctx.frozen.has(id)) continue;
      const ch = ctx.chains.get(id);
      if (!ch || ch.top.stamp < grid) {
        if (ctx.echoDueAt === null) ctx.echoDueAt = now + T / 3;
        return;
      }
    }
  }
  ctx.echoedGrid = grid;
  ctx.echoDueAt = null;
  const msg: PeerMessage = {
    type: 'echo',
    site: ctx.site,
    heads: currentHeads(ctx),
    ...(ctx.frozen.size > 0 ? { ignoring: [...ctx.frozen.keys()].sort() } : {}),
  };
  for (const id of activeIds(ctx)) if (id !== ctx.me) ctx.opts.send(id, msg);
}

export function emitTimeslot(ctx: ServerCtx): void {
  const { T, me } = ctx;
  const now = ctx.opts.now();
  if (ctx.checkSelf) {
    const others = [...ctx.members.values()].filter((m) => m.id !== me && m.slot !== null).length;
    if (ctx.selfChecked.size < Math.min(Math.max(1, ctx.N_maj - 1), others)) {
      ctx.nextSlotAt = (Math.floor(now / T + 1e-9) + 1) * T;
      return;
    }
    ctx.checkSelf = false;
  }
  const entries = ctx.outbox;
  ctx.outbox = [];
  let stamp = Math.max(now, ctx.lastStamp + EPS);
  for (const e of entries) stamp = Math.max(stamp, e[2]);
  const heads = currentHeads(ctx);
  ctx.echoDueAt = null;
  const mine = myChain(ctx);
  const body: TimeslotBody = {
    site: ctx.site,
    server: me,
    seq: mine.top.seq + 1,
    stamp,
    prevHash: mine.top.hash,
    epoch: ctx.membership?.epoch ?? 0,
    entries,
    heads,
    update: ctx.lastSeq > 0 && ctx.status === 'running' ? [ctx.lastSeq, ctx.lastHash] : null,
    ...(ctx.frozen.size > 0 ? { ignoring: [...ctx.frozen.keys()].sort() } : {}),
  };
  const ts = signTimeslot(body, ctx.opts.secretKey, ctx.crypto);
  const r = mine.offer(ts, now, true);
  if (r.kind === 'added') for (const it of r.items) indexItem(ctx, me, it, ctx.frontier);
  ctx.lastStamp = stamp;
  ctx.nextSlotAt = (Math.floor(stamp / T + 1e-9) + 1) * T;
  const msg: PeerMessage = { type: 'timeslot', ...ts };
  for (const m of ctx.members.values()) if (m.id !== me && m.slot !== null) ctx.opts.send(m.id, msg);
  for (const [k, at] of ctx.recorded) if (at < ctx.frontier - HORIZON_WINDOWS * T) ctx.recorded.delete(k);
}

// ---------------------------------------------------------------------------------------------
// Receiving Timeslots
// ---------------------------------------------------------------------------------------------

/** A Timeslot from its server (`direct`) or relayed by another (a reply to a TRM or a push). */
export function onTimeslot(ctx: ServerCtx, ts: Timeslot, from: string, direct: boolean): void {
  if (ts.site !== ctx.site) return reject(ctx, from, 'timeslot', 'ERR_WRONG_SITE', `site ${ts.site}`);
  if (ts.server === ctx.me) return; // our own, echoed back
  if (direct && from !== ts.server) return reject(ctx, from, 'timeslot', 'ERR_UNKNOWN_PEER', 'timeslot not from its server');
  const m = ctx.members.get(ts.server);
  if (!m) return fromUnknownPeer(ctx, from, 'timeslot', ts.epoch, `unknown server ${ts.server}`);
  if (!heldAndVerified(ctx, ts) && !verifyTimeslot(ts, m.key, ctx.crypto)) {
    return reject(ctx, from, 'timeslot', 'ERR_BAD_SIGNATURE', `from ${ts.server}`);
  }
  const ch = chainOf(ctx, ts.server, ts);
  if (!ch) return;
  const now = ctx.opts.now();
  const r = ch.offer(ts, now, direct);
  switch (r.kind) {
    case 'added':
      for (const it of r.items) {
        indexItem(ctx, ts.server, it, ctx.frontier);
        if (it.update) noteAnnounce(ctx, ts.server, it.update[0], it.update[1]);
        onHeads(ctx, ts.server, it);
      }
      recheckPendingHeads(ctx, ts.server);
      if (ts.stamp > ctx.lastStamp - ctx.cfg.T_timeout) ctx.trm.delete(ts.server);
      if (ctx.membership && ts.epoch > ctx.membership.epoch) askRecords(ctx, from);
      maybeEcho(ctx, false);
      break;
    case 'duplicate':
      // Only a second copy from its server is a replay: a relayed copy (an answer to a fetch after
      // a peer's echo) can overtake the server's own on a slower link (FINDINGS 13).
      if (direct && r.heldDirect) reject(ctx, from, 'timeslot', 'ERR_REPLAYED', `${ts.server}#${ts.seq}`);
      break;
    case 'conflict':
      onConflict(ctx, r.held, ts);
      onCutBranchMismatch(ctx, ts, from, direct);
      break;
    case 'buffered':
      fetchRange(ctx, ts.server, ch.top.seq + 1, ts.seq - 1, 'gap');
      break;
    case 'old':
      if (direct) reject(ctx, from, 'timeslot', 'ERR_REPLAYED', `${ts.server}#${ts.seq} below anchor`);
      break;
    case 'invalid': {
      // Validly signed, yet linked to another predecessor than the one S signed for us: S signed
      // two chains. The pair is a proof, even if its other branch never reaches us.
      const held = ts.seq === ch.top.seq + 1 ? ch.get(ch.top.seq) : undefined;
      if (held?.full && timeslotsConflict(held.full, ts)) {
        onConflict(ctx, held, ts);
        onCutBranchMismatch(ctx, ts, from, direct);
        return;
      }
      reject(ctx, from, 'timeslot', codeFor(r.reason), `${ts.server}#${ts.seq}: ${r.reason}`);
      break;
    }
  }
}

/**
 * Whether `ts` is a copy of a Timeslot we hold (or buffered) and verified: same server, seq,
 * signed content and signature, so verifying it again would only repeat a success. Relayed copies
 * (TRM answers, pushes, fetches after an echo) mostly are, and signature checks are a server's
 * largest CPU cost. A copy with other content (an equivocation) or another signature is verified.
 * (A server id keeps its key: a restarted server comes back under a new id.)
 */
function heldAndVerified(ctx: ServerCtx, ts: Timeslot): boolean {
  const ch = ctx.chains.get(ts.server);
  if (!ch) return false;
  const held = ch.get(ts.seq);
  if (held?.full) return held.full.sig === ts.sig && held.hash === timeslotHash(ts);
  const buffered = ch.future.get(ts.seq);
  return buffered !== undefined && buffered.ts.sig === ts.sig && buffered.hash === timeslotHash(ts);
}

function codeFor(reason: string): ErrorCode {
  if (reason.includes('hash chain') || reason.includes('does not follow')) return 'ERR_BROKEN_CHAIN';
  if (reason.includes('arrival') || reason.includes('twice')) return 'ERR_ARRIVAL_WINDOW';
  if (reason.includes('stamp')) return 'ERR_STAMP_ORDER';
  if (reason.includes('ahead')) return 'ERR_TOO_FAR_AHEAD';
  return 'ERR_MALFORMED';
}

/** Two signed versions of one Timeslot: a proof for the admin, and we ask to ignore the liar. */
function onConflict(ctx: ServerCtx, held: ChainItem, ts: Timeslot): void {
  const k = `${ts.server}\u0000${ts.seq}`;
  if (ctx.equivSeen.has(k)) return;
  ctx.equivSeen.add(k);
  ctx.equivs.push({ server: ts.server, seq: ts.seq });
  ctx.liars.add(ts.server);
  observe(ctx, { kind: 'equivocation', server: ts.server, seq: ts.seq });
  reject(ctx, ts.server, 'timeslot', 'ERR_EQUIVOCATION', `${ts.server}#${ts.seq}`);
  if (held.full) ctx.opts.send(ADMIN_ID, { type: 'equivocationProof', site: ctx.site, a: held.full, b: ts });
  // It will be evicted; ask for the cut now (holding back our heads of it) rather than wait.
  const m = ctx.members.get(ts.server);
  if (m && isActive(m)) requestIgnore(ctx, ts.server);
}

/**
 * A Timeslot of a cut server, up to its cut, that contradicts what we hold while our copy does
 * not reach the cut yet: what we hold below it is another branch than the cut's (the stable
 * prefix can be one too when a second liar echoed both). Start that chain again from its anchor
 * and fetch the cut's branch; only the cut's branch counts, and windows already closed stay.
 */
function onCutBranchMismatch(ctx: ServerCtx, ts: Timeslot, from: string, direct: boolean): void {
  const y = ts.server;
  const m = ctx.members.get(y);
  const cut = m ? latestStint(m).cut : null;
  const ch = ctx.chains.get(y);
  if (!cut || !ch || ts.seq > cut.seq) return;
  if (ch.top.seq >= cut.seq && ch.hashOf(cut.seq) === cut.hash) return; // we hold the cut's branch
  dropBranch(ctx, y, ch.anchor.seq);
  // Offered again to a chain that now holds nothing above its anchor: it cannot conflict again.
  onTimeslot(ctx, ts, from, direct);
  fetchRange(ctx, y, ch.top.seq + 1, cut.seq, 'cut-branch');
}

// ---------------------------------------------------------------------------------------------
// Heads: what the others say they hold (Timeslots and echoes)
// ---------------------------------------------------------------------------------------------

export function onHeads(ctx: ServerCtx, p: string, item: ChainItem): void {
  if (ctx.checkSelf) {
    ctx.selfChecked.add(p);
    const mine = item.heads.find((h) => h[0] === ctx.me);
    if (mine && mine[1] > (ctx.chains.get(ctx.me)?.top.seq ?? 0)) {
      ctx.status = 'evicted';
      ctx.sync = null;
      reject(ctx, p, 'timeslot', 'ERR_EQUIVOCATION', `peers hold our Timeslot #${mine[1]}: a restarted server must not sign again`);
      return;
    }
  }
  const now = ctx.opts.now();
  let d = ctx.declared.get(p);
  if (!d) ctx.declared.set(p, (d = new Map()));
  for (const y of [...d.keys()]) if (!item.ignoring.includes(y)) d.delete(y);
  for (const y of item.ignoring) if (!d.has(y)) d.set(y, now);
  for (const [y, h, hash] of item.heads) {
    if (y === p) continue;
    checkHead(ctx, p, y, h, hash);
  }
}

/** An echo: the heads of a Timeslot, sent without one. */
export function onEcho(ctx: ServerCtx, from: string, msg: PeerOf<'echo'>): void {
  if (!ctx.members.has(from) || from === ctx.me) return;
  const fake: ChainItem = {
    seq: 0,
    hash: '',
    stamp: 0,
    epoch: 0,
    entries: [],
    heads: msg.heads,
    update: null,
    ignoring: msg.ignoring ?? [],
    full: null,
    receivedAt: 0,
    direct: false,
  };
  onHeads(ctx, from, fake);
}

/** P says it holds Y#h with `hash`: credit P's cover of Y if we hold the same, else find out why. */
function checkHead(ctx: ServerCtx, p: string, y: string, h: number, hash: string): void {
  const ch = ctx.chains.get(y);
  if (!ch || h > ch.top.seq) {
    // Claims are kept only about members (heads may name any id: they must not grow the map).
    if (!ctx.members.has(y)) return;
    let m = ctx.pendingHead.get(p);
    if (!m) ctx.pendingHead.set(p, (m = new Map()));
    let claims = m.get(y);
    if (!claims) m.set(y, (claims = new Map()));
    claims.set(h, hash);
    if (claims.size > MAX_PENDING_CLAIMS) claims.delete(Math.min(...claims.keys()));
    // P holds Timeslots of Y that we lack: ask P for them now rather than T_timeout later
    // (a server that withholds its Timeslots from us costs one hop, not a timeout).
    if (ch && y !== ctx.me && ctx.members.has(y)) {
      if (due(ctx, ctx.lastFetch, `echo-fetch:${y}`, ctx.T / 2)) {
        ctx.opts.send(p, timeslotRequest(ctx, y, ch.top.seq + 1, Math.min(h, ch.top.seq + MAX_TIMESLOTS_PER_REPLY)));
      }
    }
    return;
  }
  let c = ctx.cover.get(p);
  if (!c) ctx.cover.set(p, (c = new Map()));
  if (h <= ch.anchor.seq) {
    if (h === ch.anchor.seq && ch.anchor.hash !== hash) return suspect(ctx, p, y, h);
    if ((c.get(y) ?? -1) < h) c.set(y, h);
    return;
  }
  if (ch.hashOf(h) === hash) {
    if ((c.get(y) ?? -1) < h) c.set(y, h);
  } else suspect(ctx, p, y, h);
}

/** P echoed a different Y#h than ours: fetch P's copy (a proof if Y signed both). */
function suspect(ctx: ServerCtx, p: string, y: string, h: number): void {
  if (ctx.suspicion.size >= MAX_SUSPICIONS) {
    // An entry only matters for T_timeout (the `due` below): older ones go.
    const now = ctx.opts.now();
    for (const [k, t] of ctx.suspicion) if (now - t >= ctx.cfg.T_timeout) ctx.suspicion.delete(k);
    if (ctx.suspicion.size >= MAX_SUSPICIONS) return;
  }
  if (!due(ctx, ctx.suspicion, `${p}\u0000${y}\u0000${h}`, ctx.cfg.T_timeout)) return;
  if (y === ctx.me) return; // someone claims another version of our own: nothing to fetch
  ctx.opts.send(p, timeslotRequest(ctx, y, h, h));
}

/** Claims about Y#seq beyond what we held, checked now that we hold more of Y; those about ex-members go. */
function recheckPendingHeads(ctx: ServerCtx, y: string): void {
  const ch = ctx.chains.get(y);
  if (!ch) return;
  for (const [p, m] of ctx.pendingHead) {
    if (!ctx.members.has(p)) {
      ctx.pendingHead.delete(p);
      continue;
    }
    const claims = m.get(y);
    if (!claims) continue;
    for (const [h, hash] of [...claims]) {
      if (h > ch.top.seq) continue;
      claims.delete(h);
      checkHead(ctx, p, y, h, hash);
    }
    if (claims.size === 0) m.delete(y);
  }
}

// ---------------------------------------------------------------------------------------------
// Ranges (TRM and its answers)
// ---------------------------------------------------------------------------------------------

export function onTimeslotRequest(ctx: ServerCtx, from: string, msg: PeerOf<'timeslotRequest'>): void {
  if (!ctx.members.has(from)) return fromUnknownPeer(ctx, from, 'timeslotRequest', msg.epoch, 'not a member');
  const ch = ctx.chains.get(msg.server);
  const to = Math.min(msg.toSeq, msg.fromSeq + MAX_TIMESLOTS_PER_REPLY - 1);
  const timeslots = ch ? ch.range(msg.fromSeq, to, MAX_TIMESLOTS_PER_REPLY) : [];
  ctx.opts.send(from, timeslotReply(ctx, timeslots));
}

export function onTimeslotReply(ctx: ServerCtx, from: string, msg: PeerOf<'timeslotReply'>): void {
  if (!ctx.members.has(from)) return fromUnknownPeer(ctx, from, 'timeslotReply', msg.epoch, 'not a member');
  if (msg.timeslots.length === 0) {
    for (const t of ctx.trm.values()) if (t.asked.has(from)) t.noHelp.add(from);
    return;
  }
  const sorted = [...msg.timeslots].sort((a, b) => a.seq - b.seq);
  for (const ts of sorted) onTimeslot(ctx, ts, from, false);
}
