/**
 * The admin side of a P2P site (shared with server/): hands the site over, orders joins and
 * leaves as signed system actions, and is the one sequencer of membership changes. It acts on
 * N_majority matching requests from active servers: ignore (with the cut = the highest Timeslot
 * any of the deciding requesters holds, one of which covers what servers used), readmit, replace
 * (a random candidate). It verifies equivocation proofs and then evicts the liar (ignore at an
 * agreed cut, replacement at once). It follows updates that carry departures by majority, to
 * learn leaving users' states.
 */
import type { AcceptedUpdate, CoordinatorRecord, CoreEvent, SiteCoordinator, SiteCoordinatorOptions } from './api.js';
import { TokenBucket } from './budget.js';
import { ed25519Scheme, ZERO_HASH } from './crypto.js';
import {
  parsePeerMessage,
  SYSTEM_ACTOR,
  type Member,
  type Membership,
  type PeerMessage,
  type PeerOf,
  type SiteInit,
  type SysActionMessage,
} from './messages.js';
import { alreadyParsed } from './parsed.js';
import { CutWaits } from './cutWaits.js';
import { MemberRequests, type Pending } from './memberRequests.js';
import { HORIZON_WINDOWS, isActive, latestStint as latest } from './serverContext.js';
import {
  signMembership,
  signSiteInit,
  signSysAction,
  stayHash,
  timeslotHash,
  timeslotsConflict,
  verifyTimeslot,
  type MembershipBody,
} from './signed.js';
import { VoteTally, type TallyFlag } from './tally.js';

/** `by` of the coordinator's own `flagged` events (a server in the minority of a vote it counted). */
export const MINORITY = 'admin';

/** Decided seqs kept (a replayed departure is refused, a late word compared); the newest go into `record()`. */
const DONE_KEPT = 4096;
const DONE_RECORDED = 256;
/**
 * Seqs with votes but no decision yet. Honest votes are decided within a few timeslots; past
 * the cap the highest seq is dropped (a server voting far ahead cannot push out honest votes).
 */
const MAX_OPEN_VOTES = 64;
/**
 * Seqs a user's flag report made the admin ask the servers about (hashRequest, once per seq):
 * the report counts only if the admin's own tally of their answers puts the server in the minority.
 */
const PROBED_KEPT = 256;
/** Probes a site's reports may cost (each asks every server): users cannot make the admin flood them. */
const PROBE_RATE = { perSecond: 2, burst: 16 };
/**
 * A system action is sent to the servers again every T_resend for this many horizons (the time
 * after which a server forgets an arrival it has not applied): one that fewer than N_majority
 * counted (missed while a server's socket was down, or recorded by an ignored server) was never
 * applied, and a join never applied leaves its user waiting for good. Servers drop copies they
 * hold or applied.
 */
const SYS_RESEND_HORIZONS = 3;

/**
 * What the admin's site reads besides the core's interface: whether a cut can never be decided
 * (`uncoverable`), so that the site is found lost rather than waited for (server/p2p/site.ts).
 */
export interface CutWatch {
  /**
   * True while an ignore request has N_majority requesters again, asked at once (within
   * T_req_timeout + T_timeout) after an earlier round of them was declined for want of one that
   * covers (sim/FINDINGS.md 39, 57, 70): none of them was admitted before the target's last use, so
   * none ever will, and meanwhile they hold the target frozen and close no window past it. Until a
   * request covers, the target is cut, or a requester withdraws.
   */
  uncoverable(): boolean;
  /**
   * N_majority active servers said lately that they wait for the Timeslots of a cut in force and no
   * active member gave them (`cutWait`): no window closes, so no update past their states can be
   * accepted, and the holders of the cut are gone (sim/FINDINGS.md 90). The site is found lost.
   */
  cutUnheld(): boolean;
}

export function createSiteCoordinator(opts: SiteCoordinatorOptions): SiteCoordinator & CutWatch {
  const cfg = opts.config;
  const site = cfg.site;
  const crypto = opts.crypto ?? ed25519Scheme;
  const observe = (e: CoreEvent): void => opts.observe?.(e);
  const adminKey = crypto.publicKeyOf(opts.secretKey);

  let membership: Membership | null = null;
  let sysNo = 0;
  /** System actions still sent again: sysNo -> the message, its actor, when first and last sent. */
  const resend = new Map<number, { msg: SysActionMessage; actor: string; firstAt: number; lastAt: number }>();
  const resendFor = SYS_RESEND_HORIZONS * HORIZON_WINDOWS * cfg.T_timeslot;
  const banned = new Set<string>();
  /**
   * Servers this coordinator saw lose their slot: the epochs their latest stint held it. Their word
   * on an update they applied then still counts with voters slotted together with them (FINDINGS
   * 76: a walked-in server's resent outbox arrives after its eviction). Not kept over a restart.
   */
  const slotLost = new Map<string, { lo: number; hi: number }>();
  /** Times each server was ignored; a server ignored MAX_READMITS times (memberRequests.ts) is replaced, not readmitted. */
  const ignores = new Map<string, number>();
  const evicted: string[] = [];
  /** Votes on the updates servers send the admin (departures, answers to its hash requests). */
  const tally = new VoteTally({ nMajority: cfg.N_majority, maxOpen: MAX_OPEN_VOTES, decidedKept: DONE_KEPT, flagOnHashes: true });
  const probed = new Set<number>();
  const probes = new TokenBucket(PROBE_RATE, opts.now());
  /** Membership requests not decided yet, declined ones, cuts none can cover (memberRequests.ts). */
  const cutWaits = new CutWaits(cfg);
  const requests = new MemberRequests({
    config: cfg,
    crypto,
    now: () => opts.now(),
    send: (to, msg) => opts.send(to, msg),
    membership: () => membership,
    banned,
    ignores,
    decide: (p) => decide2(p),
  });
  const r0 = opts.resume;
  if (r0) {
    membership = r0.membership;
    sysNo = r0.sysNo;
    for (const id of r0.banned) banned.add(id);
    for (const [id, n] of r0.ignores) ignores.set(id, n);
    evicted.push(...r0.evicted);
    // Who voted is not kept: a server's first word on such a seq after the restart is its resend
    // of what the admin missed while down (compared as evidence), not a replay.
    for (const [seq, hash] of r0.done) tally.decidedAs(seq, hash);
    // Sent again T_resend after it was last sent before (at once when that is past): servers drop a copy they hold or applied.
    for (const r of r0.resend ?? []) resend.set(r.msg.sysNo, { msg: r.msg, actor: r.msg.actor, firstAt: r.firstAt, lastAt: r.firstAt });
  }

  const slotted = (): Member[] =>
    (membership?.members ?? []).filter((m) => m.slot !== null).sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0));

  function publish(body: MembershipBody, alsoTo: string[] = []): Membership {
    const rec = signMembership(body, opts.secretKey, crypto);
    const before = membership;
    for (const m of before?.members ?? [])
      if (m.slot !== null && !rec.members.some((n) => n.id === m.id && n.slot !== null))
        slotLost.set(m.id, { lo: latest(m).admit, hi: before!.epoch });
    for (const id of slotLost.keys()) if (!rec.members.some((n) => n.id === id && n.slot === null)) slotLost.delete(id);
    membership = rec;
    requests.published(rec);
    observe({ kind: 'membership', epoch: rec.epoch, change: rec.change.kind, target: rec.change.target });
    const msg: PeerMessage = { type: 'membership', ...rec };
    const to = new Set<string>([...rec.members.map((m) => m.id), ...alsoTo, ...opts.users()]);
    for (const id of to) opts.send(id, msg);
    return rec;
  }

  /** The next record of this stay after `cur` (the one in force). */
  function nextBody(cur: Membership, kind: MembershipBody['change']['kind'], target: string, members: Member[]): MembershipBody {
    return { site, stay: cur.stay, epoch: cur.epoch + 1, members, change: { kind, target } };
  }

  function decideIgnore(p: Pending): void {
    if (!membership) return;
    let cut: { seq: number; hash: string; stamp?: number; epoch?: number } = { seq: 0, hash: ZERO_HASH };
    for (const { held } of p.from.values()) {
      if (held && held.seq > cut.seq) cut = { seq: held.seq, hash: timeslotHash(held, membership.stay), stamp: held.stamp, epoch: held.epoch };
    }
    const epoch = membership.epoch + 1;
    ignores.set(p.target, (ignores.get(p.target) ?? 0) + 1);
    let members = membership.members.map((m) =>
      m.id === p.target
        ? { ...m, stints: m.stints.map((s, i) => (i === m.stints.length - 1 ? { ...s, cut } : s)) }
        : m,
    );
    let kind: MembershipBody['change']['kind'] = 'ignore';
    let newcomer: string[] = [];
    if (banned.has(p.target)) {
      // Evict: the liar leaves its slot now, and a replacement takes it in the same record.
      const r = withReplacement(members, p.target, epoch);
      members = r.members;
      newcomer = r.added;
      kind = 'evict';
      if (!evicted.includes(p.target)) evicted.push(p.target);
    }
    publish({ site, stay: membership.stay, epoch, members, change: { kind, target: p.target } }, newcomer);
  }

  /** A candidate at random that never was a member (nor banned), or null. */
  function pickCandidate(members: Member[]): { id: string; key: string } | null {
    const taken = new Set(members.map((m) => m.id));
    const cands = opts.candidates().filter((c) => !taken.has(c.id) && !banned.has(c.id));
    return cands[Math.min(cands.length - 1, Math.floor(opts.random() * cands.length))] ?? null;
  }

  function withReplacement(members: Member[], target: string, epoch: number): { members: Member[]; added: string[] } {
    const old = members.find((m) => m.id === target);
    if (!old || old.slot === null) return { members, added: [] };
    const slot = old.slot;
    const out = members.map((m) => (m.id === target ? { ...m, slot: null } : m));
    const pick = pickCandidate(members);
    if (!pick) return { members: out, added: [] };
    out.push({ id: pick.id, key: pick.key, slot, stints: [{ admit: epoch, cut: null }] });
    return { members: out, added: [pick.id] };
  }

  function decide2(p: Pending): void {
    if (!membership) return;
    const epoch = membership.epoch + 1;
    if (p.kind === 'ignore') return decideIgnore(p);
    if (p.kind === 'readmit') {
      const members = membership.members.map((m) =>
        m.id === p.target ? { ...m, stints: [...m.stints, { admit: epoch, cut: null }] } : m,
      );
      publish(nextBody(membership, 'admit', p.target, members));
      return;
    }
    const r = withReplacement(membership.members, p.target, epoch);
    if (r.added.length === 0) return requests.declineAll(p);
    publish(nextBody(membership, 'admit', r.added[0] ?? p.target, r.members), r.added);
  }

  /**
   * Both halves must be signed in this stay: a server id can serve the site in several stays, and
   * its Timeslot #k of one and #k of the next differ without any lie (sim/FINDINGS.md 92).
   */
  function onProof(from: string, msg: PeerOf<'equivocationProof'>): void {
    if (!membership) return;
    const { a, b } = msg;
    const { stay } = membership;
    const m = membership.members.find((x) => x.id === a.server);
    if (!m || a.site !== site || !timeslotsConflict(a, b, stay)) return;
    if (!verifyTimeslot(a, m.key, crypto, stay) || !verifyTimeslot(b, m.key, crypto, stay)) {
      observe({ kind: 'rejected', from, msgType: 'equivocationProof', code: 'ERR_BAD_SIGNATURE', reason: a.server });
      return;
    }
    if (banned.has(a.server)) return;
    observe({ kind: 'equivocation', server: a.server, seq: a.seq });
    evictServer(m);
  }

  /**
   * Takes a server out for good: the others are asked for their ignore requests (the cut is then
   * the highest Timeslot any decider holds, as for any ignore, so it covers everything stable), and
   * the record that cuts it also gives its slot to a replacement.
   */
  function evictServer(m: Member): void {
    if (!membership) return;
    banned.add(m.id);
    if (!isActive(m)) {
      // Already ignored: evict now, keeping its cut.
      const r = withReplacement(membership.members, m.id, membership.epoch + 1);
      if (!evicted.includes(m.id)) evicted.push(m.id);
      publish(nextBody(membership, 'evict', m.id, r.members), r.added);
      return;
    }
    for (const s of slotted()) {
      if (s.id !== m.id && isActive(s)) opts.send(s.id, { type: 'ignoreCall', site, epoch: membership.epoch, target: m.id });
    }
  }

  function flagged(f: TallyFlag, by: string): void {
    observe({ kind: 'flagged', server: f.server, seq: f.seq, reason: f.kind, by, ...(f.evidence ? { evidence: f.evidence } : {}) });
  }

  function onUpdateVote(from: string, seq: number, hash: string, full: PeerOf<'update'> | null): void {
    const msgType = full ? 'update' : 'updateHash';
    const servers = new Set(slotted().map((m) => m.id));
    // A server that lost its slot since (its player walked in as its key came back) still gives its
    // word, counted only within the epochs it held the slot (FINDINGS 76).
    const lost = servers.has(from) ? undefined : slotLost.get(from);
    if (!servers.has(from) && !lost) {
      observe({ kind: 'rejected', from, msgType, code: 'ERR_UNKNOWN_PEER', reason: `update ${seq} from a peer holding no slot` });
      return;
    }
    // Departures in a decided seq were passed on once: a second full copy is a replay. A repeated
    // hash is no replay: it is how servers answer the admin's hash requests.
    // Its slot is held from its stint's admission to now (FINDINGS 65: a departed voter's span).
    const now = membership?.epoch ?? 0;
    const me = slotted().find((m) => m.id === from);
    const r = lost
      ? tally.vote(from, seq, hash, full, new Set([...servers, from]), true, lost)
      : tally.vote(from, seq, hash, full, servers, true, { lo: me ? latest(me).admit : now, hi: now });
    if (r.outcome === 'bad-hash') observe({ kind: 'rejected', from, msgType, code: 'ERR_BAD_HASH', reason: `update ${seq}` });
    if (r.outcome === 'replayed') observe({ kind: 'rejected', from, msgType, code: 'ERR_REPLAYED', reason: `update ${seq}` });
    if (r.outcome === 'too-far')
      observe({ kind: 'rejected', from, msgType, code: 'ERR_TOO_FAR_AHEAD', reason: `update ${seq}: ${MAX_OPEN_VOTES} seqs are open` });
    // Disagreement is evidence: a server that vouched for another update is in the minority.
    for (const f of r.flags) flagged(f, MINORITY);
    if (r.outcome !== 'counted' && r.outcome !== 'duplicate' && r.outcome !== 'changed') return;
    // A vote still counts once its server lost its slot, only with voters slotted together with it (FINDINGS 65).
    const u = tally.readyTogether(seq, now, servers);
    if (!u) return;
    for (const f of tally.accept(seq, u)) flagged(f, MINORITY);
    const acc: AcceptedUpdate = {
      site,
      seq,
      hash: u.hash,
      applied: u.applied.map(([user, actionNo]) => ({ user, actionNo })),
      events: u.events,
    };
    opts.onUpdate?.(acc);
    for (const [user, no] of u.applied) {
      if (user !== SYSTEM_ACTOR) continue;
      resend.delete(no);
      // Numbers on past what the majority applied: a record stored before an order went out (a
      // lost write) must not give that number again; servers drop a number they applied (FINDINGS 34).
      sysNo = Math.max(sysNo, no);
    }
    for (const e of u.events) if (e.kind === 'left') opts.onLeft?.(e.user, e.via, seq);
  }

  /**
   * A user's flag report is a claim, not a verdict: the admin asks the servers for their hash of
   * that seq (once per seq) and its own tally of the answers flags whoever is in the minority.
   */
  function onFlagReport(from: string, msg: PeerOf<'flagReport'>): void {
    // Only about a server the site ever had: reports about anyone else would grow the flags.
    if (!membership?.members.some((m) => m.id === msg.server)) {
      observe({ kind: 'rejected', from, msgType: msg.type, code: 'ERR_UNKNOWN_PEER', reason: `${msg.server} never served ${site}` });
      return;
    }
    observe({ kind: 'flagged', server: msg.server, seq: msg.seq, reason: msg.reason, by: from, ...(msg.evidence ? { evidence: msg.evidence } : {}) });
    if (msg.seq < 1 || probed.has(msg.seq)) return;
    if (!probes.take(opts.now())) {
      observe({ kind: 'rejected', from, msgType: msg.type, code: 'ERR_RATE_LIMITED', reason: `no probe of update ${msg.seq}: too many reports` });
      return;
    }
    probed.add(msg.seq);
    for (const old of probed) {
      if (probed.size <= PROBED_KEPT) break;
      probed.delete(old);
    }
    const word = tally.wordOf(msg.seq, msg.server);
    // Decided, and its word was counted then: it was compared (and flagged) already.
    if (word && word.hash !== null) return;
    const ask = word ? [msg.server] : slotted().map((m) => m.id);
    for (const id of ask) opts.send(id, { type: 'hashRequest', site, seq: msg.seq });
  }

  function handle(from: string, msg: PeerMessage): void {
    if ('site' in msg && msg.site !== site) return;
    switch (msg.type) {
      case 'membershipRequest':
        return requests.onRequest(from, msg);
      case 'withdrawRequest':
        return requests.onWithdraw(from, msg);
      case 'cutWait':
        return cutWaits.note(membership, from, msg, opts.now());
      case 'equivocationProof':
        return onProof(from, msg);
      case 'flagReport':
        return onFlagReport(from, msg);
      case 'update':
        return onUpdateVote(from, msg.seq, msg.hash, msg);
      case 'updateHash':
        return onUpdateVote(from, msg.seq, msg.hash, null);
      default:
        return;
    }
  }

  return {
    receive(from, raw) {
      try {
        const parsed = alreadyParsed(raw) ?? parsePeerMessage(raw);
        if (!parsed.ok) {
          const type = (raw as { type?: unknown } | null)?.type;
          const msgType = typeof type === 'string' ? type.slice(0, 40) : '?';
          observe({ kind: 'rejected', from, msgType, code: parsed.code, reason: parsed.message });
          return;
        }
        handle(from, parsed.value);
      } catch (e) {
        observe({ kind: 'rejected', from, msgType: '?', code: 'ERR_INTERNAL', reason: e instanceof Error ? e.message : String(e) });
      }
    },
    nextWakeAt() {
      let min = requests.wakeAt();
      if (cfg.T_resend > 0) {
        for (const r of resend.values()) {
          const t = r.lastAt + cfg.T_resend;
          if (min === null || t < min) min = t;
        }
      }
      return min;
    },
    tick() {
      const now = opts.now();
      requests.tick(now);
      if (cfg.T_resend <= 0) resend.clear();
      for (const [no, r] of resend) {
        if (now < r.lastAt + cfg.T_resend) continue;
        if (now >= r.firstAt + resendFor) {
          resend.delete(no);
          continue;
        }
        r.lastAt = now;
        for (const m of slotted()) opts.send(m.id, r.msg);
      }
    },
    handOver(args) {
      const members: Member[] = opts.servers.map((s, i) => ({ id: s.id, key: s.key, slot: i, stints: [{ admit: 0, cut: null }] }));
      const stay = stayHash({ site, seq: args.seq, prev: args.prev, start: args.start, servers: opts.servers });
      const rec = signMembership({ site, stay, epoch: 1, members, change: { kind: 'init', target: null } }, opts.secretKey, crypto);
      membership = rec;
      const start = Math.ceil(args.start / cfg.T_timeslot) * cfg.T_timeslot;
      const init: SiteInit = signSiteInit(
        { site, membership: rec, seq: args.seq, prev: args.prev, start, state: args.snapshot, lastActionNo: args.lastActionNo },
        opts.secretKey,
        crypto,
      );
      for (const s of opts.servers) opts.send(s.id, init);
      observe({ kind: 'membership', epoch: 1, change: 'init', target: null });
      return init;
    },
    systemAction(actor, action) {
      const no = ++sysNo;
      const msg = signSysAction({ site, sysNo: no, actor, action }, opts.secretKey, crypto);
      for (const s of slotted()) opts.send(s.id, msg);
      // A later order for the same actor ends the resending of an earlier one (a join sent again
      // must not come after that user's leave).
      for (const [k, r] of resend) if (r.actor === actor) resend.delete(k);
      const now = opts.now();
      resend.set(no, { msg, actor, firstAt: now, lastAt: now });
      return no;
    },
    evict(target) {
      const m = membership?.members.find((x) => x.id === target);
      if (!m || m.slot === null || banned.has(target)) return false;
      evictServer(m);
      return true;
    },
    refill() {
      if (!membership) return null;
      // A slot left empty when its server's replacement found no candidate.
      const used = new Set(slotted().map((m) => m.slot));
      let slot = 0;
      while (used.has(slot)) slot++;
      if (slot >= cfg.N_server) return null;
      const pick = pickCandidate(membership.members);
      if (!pick) return null;
      const epoch = membership.epoch + 1;
      const members = [...membership.members, { id: pick.id, key: pick.key, slot, stints: [{ admit: epoch, cut: null }] }];
      publish(nextBody(membership, 'admit', pick.id, members), [pick.id]);
      return pick.id;
    },
    record() {
      if (!membership) return null;
      const done = tally.decidedSeqs().slice(-DONE_RECORDED);
      return {
        membership,
        sysNo,
        banned: [...banned],
        ignores: [...ignores],
        evicted: [...evicted],
        done,
        resend: [...resend.values()].map((r) => ({ msg: r.msg, firstAt: r.firstAt })),
      } satisfies CoordinatorRecord;
    },
    membership: () => membership,
    cutUnheld: () => cutWaits.unheld(membership, opts.now()),
    uncoverable: () => requests.uncoverable(),
    evicted: () => evicted,
    activeServers: () => slotted().map((m) => m.id),
    adminKey: () => adminKey,
  };
}
