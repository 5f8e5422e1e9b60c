/**
 * Timeslots of a Site Server: emitting our own (entries, heads of the others, our latest update)
 * and echoes of the heads; receiving the others' with their signatures, chain rules and conflict
 * checks (two signed versions are an equivocation proof); cross-checking the heads peers echo;
 * and serving and asking for ranges of Timeslots (TRM). This module alone writes `ctx.timeslots`
 * (our chain and what goes in our next Timeslot, the chains held of the others, what the others
 * say: heads, echoes, announced updates); the others change it through the functions here.
 */
import { Chain, type ChainItem } from './chain.js';
import { ZERO_HASH } from './crypto.js';
import type { ErrorCode } from './errors.js';
import { creditCover, dropBranch } from './finality.js';
import { heardInTime, markLiar, requestIgnore } from './liveness.js';
import { ADMIN_ID, MAX_TIMESLOTS_PER_REPLY, type PeerMessage, type PeerOf, type Timeslot, type TransferPayload } from './messages.js';

/** Suspicions (a peer echoed another hash than ours) remembered at once; each lasts T_timeout. */
export const MAX_SUSPICIONS = 1024;
/** Timeslots kept of servers named by a record still on its way to us (a few per newcomer). */
export const MAX_EARLY_TIMESLOTS = 32;
import { indexItem } from './reports.js';
import {
  activeIds,
  askRecords,
  becomeEvicted,
  due,
  dueFetch,
  fromUnknownPeer,
  EPS,
  fetchRange,
  HORIZON_WINDOWS,
  key2,
  isActive,
  latestStint,
  MAX_PENDING_CLAIMS,
  myEpoch,
  observe,
  reject,
  timeslotReply,
  timeslotRequest,
  type ServerCtx,
  own,
  stayOf,
} from './serverContext.js';
import { signTimeslot, timeslotHash, timeslotsConflict, verifyTimeslot, type TimeslotBody } from './signed.js';

// ---------------------------------------------------------------------------------------------
// Own Timeslots and echoes
// ---------------------------------------------------------------------------------------------

/** Starts our chain and those of the hand-over's `members` at `frontier`; the first Timeslot follows. */
export function startChains(ctx: ServerCtx, members: readonly string[], frontier: number, startedAt: number): void {
  const t = own(ctx, 'timeslots');
  const { cfg, T } = ctx;
  t.lastStamp = frontier;
  for (const id of members) t.chains.set(id, new Chain(id, { seq: 0, hash: ZERO_HASH, stamp: frontier }, cfg.maxEntries, cfg.keepTimeslots, stayOf(ctx)));
  t.nextSlotAt = Math.max(frontier + T, (Math.floor(startedAt / T) + 1) * T);
}

/** Joining: our first Timeslot at the next period, unless one is due already. */
export function scheduleFirstSlot(ctx: ServerCtx, now: number): void {
  const t = own(ctx, 'timeslots');
  if (t.nextSlotAt === null) t.nextSlotAt = (Math.floor(now / ctx.T) + 1) * ctx.T;
}

/** Started from a hand-over a peer forwarded: sign nothing until the peers' heads clear us. */
export function checkSelfFirst(ctx: ServerCtx): void {
  own(ctx, 'timeslots').checkSelf = true;
}

/** Our own arrival of an action, for our next Timeslot; arrivals strictly grow past our last stamp. */
export function recordArrival(ctx: ServerCtx, user: string, no: number, hash: string, now: number): void {
  const t = own(ctx, 'timeslots');
  // A Timeslot's entries lie in (prev stamp, stamp].
  const arrival = now > t.lastStamp ? now : t.lastStamp + EPS;
  t.recorded.set(key2(user, no), arrival);
  t.outbox.push([user, no, arrival, hash]);
}

/** The chain we hold of `id`; created (anchored before it) on the first Timeslot seen of it. */
export function chainOf(ctx: ServerCtx, id: string, firstSeen?: Timeslot): Chain | undefined {
  let ch = own(ctx, 'timeslots').chains.get(id);
  if (!ch && firstSeen) {
    ch = new Chain(id, { seq: firstSeen.seq - 1, hash: firstSeen.prevHash, stamp: -Infinity }, ctx.cfg.maxEntries, ctx.cfg.keepTimeslots, stayOf(ctx));
    own(ctx, 'timeslots').chains.set(id, ch);
  }
  return ch;
}


/** Server `server` says its update `seq` has `hash` (in a Timeslot, an update or a hash). */
export function noteAnnounce(ctx: ServerCtx, server: string, seq: number, hash: string): void {
  const t = own(ctx, 'timeslots');
  const { announced, announcedTop } = t;
  t.announcedVersion++;
  let m = announced.get(server);
  if (!m) announced.set(server, (m = new Map()));
  m.set(seq, hash);
  if (!(seq <= (announcedTop.get(server) ?? -Infinity))) announcedTop.set(server, seq);
  if (m.size > 4 * ctx.cfg.keepUpdates) {
    // Drops the lowest seq (never the top: the map holds more than one). A loop, not a spread:
    // this runs on every announcement once the map is full.
    let min = Infinity;
    for (const k of m.keys()) if (k < min) min = k;
    m.delete(min);
  }
}

/** Anchors the chains of the hand-over's `members` at seq 0 (a joiner that takes the hand-over as its state). */
export function anchorAtHandOver(ctx: ServerCtx, members: readonly string[], frontier: number): void {
  const { chains } = own(ctx, 'timeslots');
  const { cfg } = ctx;
  for (const id of members) {
    if (id === ctx.me) continue;
    const ch = chains.get(id);
    const anchor = { seq: 0, hash: ZERO_HASH, stamp: frontier };
    if (!ch) chains.set(id, new Chain(id, anchor, cfg.maxEntries, cfg.keepTimeslots, stayOf(ctx)));
    else if (ch.anchor.seq === 0 && ch.anchor.hash === ZERO_HASH) ch.anchor = anchor;
    else ch.reset(anchor);
  }
}

/** Anchors the chains at a transferred state's hints, unless what we hold already covers them. */
export function anchorAtHints(ctx: ServerCtx, hints: TransferPayload['hints']): void {
  const { chains } = own(ctx, 'timeslots');
  const { cfg } = ctx;
  for (const [id, seq, hash, stamp] of hints.chains) {
    if (id === ctx.me) continue;
    const ch = chains.get(id);
    const anchor = { seq, hash, stamp: stamp <= -1e299 ? -Infinity : stamp };
    if (!ch) {
      chains.set(id, new Chain(id, anchor, cfg.maxEntries, cfg.keepTimeslots, stayOf(ctx)));
      continue;
    }
    if (ch.hashOf(seq) === hash) {
      // Joined midway exactly at the state's point (our anchor is the hint's Timeslot, stamp not
      // known): the state covers what lies before it, so the hint's stamp makes the chain
      // complete. Kept unknown, windows wait for Timeslots nobody may hold (sim/FINDINGS.md 60).
      if (seq === ch.anchor.seq && !Number.isFinite(ch.anchor.stamp)) ch.anchor = anchor;
      continue;
    }
    // Joined midway after the state's point: keep what we hold (we may have echoed it: a cut
    // must be able to reach it, docs/protocol.md "Decision"). Otherwise we hold less than the
    // state, or another branch: start over from its hint.
    if (seq < ch.anchor.seq) ch.rebase(anchor);
    else ch.reset(anchor);
  }
  // Marks of Timeslots we do not hold (at or below the anchor); those above it are marked from
  // the signed Timeslots themselves as they come.
  for (const [id, epoch, seq, stamp] of hints.marks) {
    const ch = chains.get(id);
    if (ch && seq <= ch.anchor.seq) ch.mark({ epoch, seq, stamp });
  }
}

function myChain(ctx: ServerCtx): Chain {
  let ch = own(ctx, 'timeslots').chains.get(ctx.me);
  if (!ch) {
    ch = new Chain(ctx.me, { seq: 0, hash: ZERO_HASH, stamp: own(ctx, 'timeslots').lastStamp }, ctx.cfg.maxEntries, ctx.cfg.keepTimeslots, stayOf(ctx));
    own(ctx, 'timeslots').chains.set(ctx.me, ch);
  }
  return ch;
}

/**
 * The latest Timeslot held of each active server (capped where we asked to ignore it), for heads
 * we send; each echoed one is remembered (`echoed`), whatever later happens to the chain.
 */
function currentHeads(ctx: ServerCtx): Timeslot['heads'] {
  const heads: Timeslot['heads'] = [];
  const { echoed } = own(ctx, 'timeslots');
  for (const [id, ch] of own(ctx, 'timeslots').chains) {
    if (id === ctx.me) continue;
    const m = ctx.roster.members.get(id);
    if (!m || !isActive(m)) continue;
    let seq = ch.top.seq;
    const fr = ctx.liveness.frozen.get(id);
    if (fr) seq = Math.min(seq, fr.seq);
    const hash = ch.hashOf(seq);
    if (seq < 1 || hash === undefined) continue;
    heads.push([id, seq, hash]);
    const full = ch.get(seq)?.full;
    if (full && !((echoed.get(id)?.seq ?? 0) >= seq)) echoed.set(id, full);
  }
  return heads;
}

/**
 * Echo: after new Timeslots arrive, tell the others what we hold at once, so a window can close
 * about two hops after its last Timeslot instead of waiting for our next Timeslot. Sent when
 * every active server's Timeslot of this round is in, or T_timeslot / 3 after the first one.
 */
export function maybeEcho(ctx: ServerCtx, force: boolean): void {
  if (ctx.lifecycle.status === 'waiting' || ctx.lifecycle.status === 'evicted') return;
  const { T } = ctx;
  const now = ctx.opts.now();
  const grid = Math.floor(now / T + 1e-9) * T;
  if (!force) {
    if (own(ctx, 'timeslots').echoedGrid >= grid) {
      if (own(ctx, 'timeslots').echoDueAt === null) own(ctx, 'timeslots').echoDueAt = now + T / 3;
      return;
    }
    for (const id of activeIds(ctx)) {
      if (id === ctx.me || ctx.liveness.frozen.has(id)) continue;
      const ch = own(ctx, 'timeslots').chains.get(id);
      if (!ch || ch.top.stamp < grid) {
        if (own(ctx, 'timeslots').echoDueAt === null) own(ctx, 'timeslots').echoDueAt = now + T / 3;
        return;
      }
    }
  }
  own(ctx, 'timeslots').echoedGrid = grid;
  own(ctx, 'timeslots').echoDueAt = null;
  const msg: PeerMessage = {
    type: 'echo',
    site: ctx.site,
    heads: currentHeads(ctx),
    ...(ctx.liveness.frozen.size > 0 ? { ignoring: [...ctx.liveness.frozen.keys()].sort() } : {}),
  };
  for (const id of activeIds(ctx)) if (id !== ctx.me) ctx.opts.send(id, msg);
}

export function emitTimeslot(ctx: ServerCtx): void {
  const { T, me } = ctx;
  const now = ctx.opts.now();
  if (own(ctx, 'timeslots').checkSelf) {
    const others = [...ctx.roster.members.values()].filter((m) => m.id !== me && m.slot !== null).length;
    if (own(ctx, 'timeslots').selfChecked.size < Math.min(Math.max(1, ctx.N_maj - 1), others)) {
      own(ctx, 'timeslots').nextSlotAt = (Math.floor(now / T + 1e-9) + 1) * T;
      return;
    }
    own(ctx, 'timeslots').checkSelf = false;
  }
  const entries = own(ctx, 'timeslots').outbox;
  own(ctx, 'timeslots').outbox = [];
  let stamp = Math.max(now, own(ctx, 'timeslots').lastStamp + EPS);
  for (const e of entries) stamp = Math.max(stamp, e[2]);
  const heads = currentHeads(ctx);
  own(ctx, 'timeslots').echoDueAt = null;
  const mine = myChain(ctx);
  const body: TimeslotBody = {
    site: ctx.site,
    server: me,
    seq: mine.top.seq + 1,
    stamp,
    prevHash: mine.top.hash,
    epoch: ctx.roster.membership?.epoch ?? 0,
    entries,
    heads,
    update: ctx.ordering.lastSeq > 0 && ctx.lifecycle.status === 'running' ? [ctx.ordering.lastSeq, ctx.ordering.lastHash] : null,
    ...(ctx.liveness.frozen.size > 0 ? { ignoring: [...ctx.liveness.frozen.keys()].sort() } : {}),
  };
  const ts = signTimeslot(body, ctx.opts.secretKey, ctx.crypto, stayOf(ctx));
  const r = mine.offer(ts, now, true);
  if (r.kind === 'added') for (const it of r.items) indexItem(ctx, me, it, ctx.ordering.frontier);
  own(ctx, 'timeslots').lastStamp = stamp;
  own(ctx, 'timeslots').nextSlotAt = (Math.floor(stamp / T + 1e-9) + 1) * T;
  const msg: PeerMessage = { type: 'timeslot', ...ts };
  for (const m of ctx.roster.members.values()) if (m.id !== me && m.slot !== null) ctx.opts.send(m.id, msg);
  for (const [k, at] of own(ctx, 'timeslots').recorded) if (at < ctx.ordering.frontier - HORIZON_WINDOWS * T) own(ctx, 'timeslots').recorded.delete(k);
}

// ---------------------------------------------------------------------------------------------
// Receiving Timeslots
// ---------------------------------------------------------------------------------------------

/** A Timeslot from its server (`direct`) or relayed by another (a reply to a TRM or a push). */
export function onTimeslot(ctx: ServerCtx, ts: Timeslot, from: string, direct: boolean): void {
  if (ts.site !== ctx.site) return reject(ctx, from, 'timeslot', 'ERR_WRONG_SITE', `site ${ts.site}`);
  if (ts.server === ctx.me) return; // our own, echoed back
  if (direct && from !== ts.server) return reject(ctx, from, 'timeslot', 'ERR_UNKNOWN_PEER', 'timeslot not from its server');
  const m = ctx.roster.members.get(ts.server);
  if (!m) {
    if (ctx.lifecycle.status !== 'waiting' && ts.epoch > myEpoch(ctx)) keepEarly(ctx, ts, from, direct);
    return fromUnknownPeer(ctx, from, 'timeslot', ts.epoch, `unknown server ${ts.server}`);
  }
  if (!heldAndVerified(ctx, ts) && !verifyTimeslot(ts, m.key, ctx.crypto, stayOf(ctx))) {
    return reject(ctx, from, 'timeslot', 'ERR_BAD_SIGNATURE', `from ${ts.server}`);
  }
  const ch = chainOf(ctx, ts.server, ts);
  if (!ch) return;
  const now = ctx.opts.now();
  const r = ch.offer(ts, now, direct);
  switch (r.kind) {
    case 'added':
      for (const it of r.items) {
        indexItem(ctx, ts.server, it, ctx.ordering.frontier);
        if (it.update) noteAnnounce(ctx, ts.server, it.update[0], it.update[1]);
        onHeads(ctx, ts.server, it);
      }
      recheckPendingHeads(ctx, ts.server);
      if (ts.stamp > own(ctx, 'timeslots').lastStamp - ctx.cfg.T_timeout) heardInTime(ctx, ts.server);
      if (ctx.roster.membership && ts.epoch > ctx.roster.membership.epoch) askRecords(ctx, from);
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
      if (held?.full && timeslotsConflict(held.full, ts, stayOf(ctx))) {
        onConflict(ctx, held, ts);
        onCutBranchMismatch(ctx, ts, from, direct);
        return;
      }
      reject(ctx, from, 'timeslot', codeFor(r.reason), `${ts.server}#${ts.seq}: ${r.reason}`);
      break;
    }
  }
}

/** Keeps a Timeslot of a server a newer record may name, dropping the oldest kept past the bound. */
function keepEarly(ctx: ServerCtx, ts: Timeslot, from: string, direct: boolean): void {
  const { early } = own(ctx, 'timeslots');
  if (early.some((e) => e.ts.server === ts.server && e.ts.seq === ts.seq && e.ts.sig === ts.sig)) return;
  early.push({ ts, from, direct });
  if (early.length > MAX_EARLY_TIMESLOTS) early.shift();
}

/**
 * A new record applied: takes the kept Timeslots of the servers it names (verified now, with
 * their keys), and forgets those its epoch shows were no member's after all.
 */
export function takeEarlyTimeslots(ctx: ServerCtx): void {
  const t = own(ctx, 'timeslots');
  const epoch = myEpoch(ctx);
  const now: typeof t.early = [];
  const later: typeof t.early = [];
  for (const e of t.early) {
    if (ctx.roster.members.has(e.ts.server)) now.push(e);
    else if (e.ts.epoch > epoch) later.push(e);
  }
  t.early = later;
  now.sort((a, b) => a.ts.seq - b.ts.seq);
  for (const e of now) onTimeslot(ctx, e.ts, e.from, e.direct);
}

/**
 * Whether `ts` is a copy of a Timeslot we hold (or buffered) and verified: same server, seq,
 * signed content and signature, so verifying it again would only repeat a success. Relayed copies
 * (TRM answers, pushes, fetches after an echo) mostly are, and signature checks are a server's
 * largest CPU cost. A copy with other content (an equivocation) or another signature is verified.
 * (A server id keeps its key: a restarted server comes back under a new id.)
 */
function heldAndVerified(ctx: ServerCtx, ts: Timeslot): boolean {
  const ch = own(ctx, 'timeslots').chains.get(ts.server);
  if (!ch) return false;
  const held = ch.get(ts.seq);
  if (held?.full) return held.full.sig === ts.sig && held.hash === timeslotHash(ts, ch.stay);
  const buffered = ch.future.get(ts.seq);
  return buffered !== undefined && buffered.ts.sig === ts.sig && buffered.hash === timeslotHash(ts, ch.stay);
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
  if (own(ctx, 'timeslots').equivSeen.has(k)) return;
  own(ctx, 'timeslots').equivSeen.add(k);
  own(ctx, 'timeslots').equivs.push({ server: ts.server, seq: ts.seq });
  markLiar(ctx, ts.server);
  observe(ctx, { kind: 'equivocation', server: ts.server, seq: ts.seq });
  reject(ctx, ts.server, 'timeslot', 'ERR_EQUIVOCATION', `${ts.server}#${ts.seq}`);
  if (held.full) ctx.opts.send(ADMIN_ID, { type: 'equivocationProof', site: ctx.site, a: held.full, b: ts });
  // It will be evicted; ask for the cut now (holding back our heads of it) rather than wait.
  const m = ctx.roster.members.get(ts.server);
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
  const m = ctx.roster.members.get(y);
  const cut = m ? latestStint(m).cut : null;
  const ch = own(ctx, 'timeslots').chains.get(y);
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
  if (own(ctx, 'timeslots').checkSelf) {
    own(ctx, 'timeslots').selfChecked.add(p);
    const mine = item.heads.find((h) => h[0] === ctx.me);
    if (mine && mine[1] > (own(ctx, 'timeslots').chains.get(ctx.me)?.top.seq ?? 0)) {
      becomeEvicted(ctx);
      reject(ctx, p, 'timeslot', 'ERR_EQUIVOCATION', `peers hold our Timeslot #${mine[1]}: a restarted server must not sign again`);
      return;
    }
  }
  const now = ctx.opts.now();
  let d = own(ctx, 'timeslots').declared.get(p);
  if (!d) own(ctx, 'timeslots').declared.set(p, (d = new Map()));
  for (const y of [...d.keys()]) if (!item.ignoring.includes(y)) d.delete(y);
  for (const y of item.ignoring) if (!d.has(y)) d.set(y, now);
  for (const [y, h, hash] of item.heads) {
    if (y === p) continue;
    checkHead(ctx, p, y, h, hash);
  }
}

/** An echo: the heads of a Timeslot, sent without one. */
export function onEcho(ctx: ServerCtx, from: string, msg: PeerOf<'echo'>): void {
  if (!ctx.roster.members.has(from) || from === ctx.me) return;
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
  const ch = own(ctx, 'timeslots').chains.get(y);
  if (!ch || h > ch.top.seq) {
    // Claims are kept only about members (heads may name any id: they must not grow the map).
    if (!ctx.roster.members.has(y)) return;
    let m = own(ctx, 'timeslots').pendingHead.get(p);
    if (!m) own(ctx, 'timeslots').pendingHead.set(p, (m = new Map()));
    let claims = m.get(y);
    if (!claims) m.set(y, (claims = new Map()));
    claims.set(h, hash);
    if (claims.size > MAX_PENDING_CLAIMS) claims.delete(Math.min(...claims.keys()));
    // P holds Timeslots of Y that we lack: ask P for them now rather than T_timeout later
    // (a server that withholds its Timeslots from us costs one hop, not a timeout).
    if (ch && y !== ctx.me && ctx.roster.members.has(y)) {
      if (dueFetch(ctx, `echo-fetch:${y}`, ctx.T / 2)) {
        ctx.opts.send(p, timeslotRequest(ctx, y, ch.top.seq + 1, Math.min(h, ch.top.seq + MAX_TIMESLOTS_PER_REPLY)));
      }
    }
    return;
  }
  if (h <= ch.anchor.seq) {
    if (h === ch.anchor.seq && ch.anchor.hash !== hash) return suspect(ctx, p, y, h);
    return creditCover(ctx, p, y, h);
  }
  if (ch.hashOf(h) === hash) creditCover(ctx, p, y, h);
  else suspect(ctx, p, y, h);
}

/** P echoed a different Y#h than ours: fetch P's copy (a proof if Y signed both). */
function suspect(ctx: ServerCtx, p: string, y: string, h: number): void {
  if (own(ctx, 'timeslots').suspicion.size >= MAX_SUSPICIONS) {
    // An entry only matters for T_timeout (the `due` below): older ones go.
    const now = ctx.opts.now();
    for (const [k, t] of own(ctx, 'timeslots').suspicion) if (now - t >= ctx.cfg.T_timeout) own(ctx, 'timeslots').suspicion.delete(k);
    if (own(ctx, 'timeslots').suspicion.size >= MAX_SUSPICIONS) return;
  }
  if (!due(ctx, own(ctx, 'timeslots').suspicion, `${p}\u0000${y}\u0000${h}`, ctx.cfg.T_timeout)) return;
  if (y === ctx.me) return; // someone claims another version of our own: nothing to fetch
  ctx.opts.send(p, timeslotRequest(ctx, y, h, h));
}

/** Claims about Y#seq beyond what we held, checked now that we hold more of Y; those about ex-members go. */
function recheckPendingHeads(ctx: ServerCtx, y: string): void {
  const ch = own(ctx, 'timeslots').chains.get(y);
  if (!ch) return;
  for (const [p, m] of own(ctx, 'timeslots').pendingHead) {
    if (!ctx.roster.members.has(p)) {
      own(ctx, 'timeslots').pendingHead.delete(p);
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
  if (!ctx.roster.members.has(from)) return fromUnknownPeer(ctx, from, 'timeslotRequest', msg.epoch, 'not a member');
  const ch = own(ctx, 'timeslots').chains.get(msg.server);
  const to = Math.min(msg.toSeq, msg.fromSeq + MAX_TIMESLOTS_PER_REPLY - 1);
  const timeslots = ch ? ch.range(msg.fromSeq, to, MAX_TIMESLOTS_PER_REPLY) : [];
  ctx.opts.send(from, timeslotReply(ctx, timeslots));
}

export function onTimeslotReply(ctx: ServerCtx, from: string, msg: PeerOf<'timeslotReply'>): void {
  if (!ctx.roster.members.has(from)) return fromUnknownPeer(ctx, from, 'timeslotReply', msg.epoch, 'not a member');
  if (msg.timeslots.length === 0) {
    for (const t of ctx.liveness.trm.values()) if (t.asked.has(from)) t.noHelp.add(from);
    return;
  }
  // A backfill (Timeslots at or below the anchor of a chain joined midway) is taken from the top
  // down, each the predecessor of the one before; the rest in order. In order, a backfill reply
  // added only its last Timeslot, one per round trip (sim/FINDINGS.md 17).
  const anchorOf = (ts: Timeslot): number => ctx.timeslots.chains.get(ts.server)?.anchor.seq ?? -1;
  const below = msg.timeslots.filter((ts) => ts.seq <= anchorOf(ts)).sort((a, b) => b.seq - a.seq);
  const rest = msg.timeslots.filter((ts) => ts.seq > anchorOf(ts)).sort((a, b) => a.seq - b.seq);
  for (const ts of [...below, ...rest]) onTimeslot(ctx, ts, from, false);
}
