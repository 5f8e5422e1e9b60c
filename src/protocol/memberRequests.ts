/**
 * The admin's count of the servers' membership requests (ignore, readmit, replace), for the site
 * coordinator (coordinator.ts), which decides and publishes: a request is decided on N_majority
 * matching requests from active servers (fewer against a proven liar), an ignore only if one of
 * them covers what servers used of the target. Requests not decided within `declineAfter` are
 * declined, a requester that sees the target back withdraws, and a cut that no request can ever
 * cover is reported (`uncoverable`).
 */
import { declineAfter, type SiteConfig } from './config.js';
import type { SignatureScheme } from './crypto.js';
import type { Membership, PeerMessage, PeerOf, Timeslot } from './messages.js';
import { isActive, latestStint as latest } from './serverContext.js';
import { verifyTimeslot } from './signed.js';

export type Kind = 'ignore' | 'readmit' | 'replace';

/** A server that keeps getting ignored (e.g. one that stalls its echoes on purpose) is not readmitted again. */
export const MAX_READMITS = 3;
/** Declined request numbers remembered (one per requester, kind and target; the oldest go first). */
const MAX_DECLINED = 1024;

export interface Pending {
  kind: Kind;
  target: string;
  since: number;
  /**
   * requester -> the Timeslot of the target it holds, whether that covers everything of the target
   * servers used (an ignore request's `covers`), and its request's number (for the answer).
   */
  from: Map<string, { held: Timeslot | null; covers: boolean; no: number }>;
}

export interface MemberRequestsDeps {
  config: SiteConfig;
  crypto: SignatureScheme;
  now(): number;
  send(to: string, msg: PeerMessage): void;
  /** The coordinator's current record (null before the hand-over). */
  membership(): Membership | null;
  /** Proven liars (fewer voices cut them; never readmitted). */
  banned: ReadonlySet<string>;
  /** Times each server was ignored. */
  ignores: ReadonlyMap<string, number>;
  /** Enough requesters agree: the coordinator decides and publishes (or declines them all). */
  decide(p: Pending): void;
}

export class MemberRequests {
  private readonly pending = new Map<string, Pending>();
  /**
   * Requester, kind and target -> the number of its request last declined. A repeat keeps its
   * number (liveness.ts), so a copy can arrive after the answer, when its sender may have unfrozen
   * on it: such a copy is declined again (its answer may have been lost), never counted.
   */
  private readonly declined = new Map<string, number>();
  /** Target -> when its ignore was last declined with N_majority requesters, none covering (`uncoverable`). */
  private readonly uncovered = new Map<string, number>();

  constructor(private readonly d: MemberRequestsDeps) {}

  /** A new record: a target cut or gone needs no cut any more (a later stint starts over). */
  published(rec: Membership): void {
    for (const t of this.uncovered.keys()) if (!rec.members.some((m) => m.id === t && isActive(m))) this.uncovered.delete(t);
  }

  private decline(to: string, no: number, kind: Kind, target: string): void {
    const k = `${to}\u0000${kind}\u0000${target}`;
    this.declined.delete(k);
    this.declined.set(k, no);
    if (this.declined.size > MAX_DECLINED) this.declined.delete(this.declined.keys().next().value as string);
    this.d.send(to, { type: 'requestDeclined', site: this.d.config.site, epoch: this.d.membership()?.epoch ?? 0, no, kind, target });
  }

  declineAll(p: Pending): void {
    for (const [s, r] of p.from) this.decline(s, r.no, p.kind, p.target);
  }

  /** A requester that sees the target back in time drops its ignore request (docs/protocol.md, "Withdrawal"). */
  onWithdraw(from: string, msg: PeerOf<'withdrawRequest'>): void {
    const membership = this.d.membership();
    if (!membership || !membership.members.some((m) => m.id === from)) return;
    const target = membership.members.find((m) => m.id === msg.target);
    if (target && target.slot !== null && latest(target).cut !== null) {
      // Already cut: the record is the answer (the requester must apply the cut, not carry on).
      this.d.send(from, { type: 'membership', ...membership });
      return;
    }
    const k = `ignore:${msg.target}`;
    const p = this.pending.get(k);
    if (p) {
      p.from.delete(from);
      if (p.from.size === 0) this.pending.delete(k);
    }
    // It saw the target back: the cut is no longer wanted, so it is not undecidable either.
    this.uncovered.delete(msg.target);
    this.decline(from, msg.no, 'ignore', msg.target);
  }

  onRequest(from: string, msg: PeerOf<'membershipRequest'>): void {
    const membership = this.d.membership();
    if (!membership) return;
    const { banned, ignores, crypto } = this.d;
    const site = this.d.config.site;
    const requester = membership.members.find((m) => m.id === from);
    const target = membership.members.find((m) => m.id === msg.target);
    if (!requester || !target || target.id === from) return;
    if (this.declined.get(`${from}\u0000${msg.kind}\u0000${msg.target}`) === msg.no) return this.decline(from, msg.no, msg.kind, msg.target);
    if (!isActive(requester) || target.slot === null) {
      // Not in a position to ask (it is ignored itself, or the target is gone): answer so it lets go.
      this.decline(from, msg.no, msg.kind, msg.target);
      if (msg.epoch < membership.epoch) this.d.send(from, { type: 'membership', ...membership });
      return;
    }
    const cutNow = latest(target).cut !== null;
    if ((msg.kind === 'ignore' && cutNow) || ((msg.kind === 'readmit' || msg.kind === 'replace') && !cutNow)) {
      // Already decided: the requester missed the record (it answers the request).
      if (msg.epoch < membership.epoch) this.d.send(from, { type: 'membership', ...membership });
      return;
    }
    if (msg.kind === 'readmit' && (banned.has(target.id) || (ignores.get(target.id) ?? 0) >= MAX_READMITS)) return;
    let held: Timeslot | null = msg.held;
    // Verified in this stay: a Timeslot of the target's earlier stay (seqs start again) is no cut (FINDINGS 92).
    if (held && (held.server !== target.id || held.site !== site || !verifyTimeslot(held, target.key, crypto, membership.stay))) held = null;
    const k = `${msg.kind}:${msg.target}`;
    let p = this.pending.get(k);
    if (!p) this.pending.set(k, (p = { kind: msg.kind, target: msg.target, since: this.d.now(), from: new Map() }));
    p.from.set(from, { held, covers: msg.covers !== false, no: msg.no });
    // Only requests from servers still active count (one may have been cut meanwhile).
    for (const id of [...p.from.keys()]) {
      const m = membership.members.find((x) => x.id === id);
      if (!m || !isActive(m)) p.from.delete(id);
    }
    if (p.from.size >= this.needed(p) && this.vouched(p)) {
      this.pending.delete(k);
      this.uncovered.delete(p.target);
      this.d.decide(p);
    }
  }

  /** A proven liar needs fewer voices: any one honest request holds everything stable (section 6), and with fewer than N_majority cheaters, N_majority - 1 requests include an honest one. */
  private needed(p: Pending): number {
    const n = this.d.config.N_majority;
    return p.kind === 'ignore' && this.d.banned.has(p.target) ? Math.max(1, n - 1) : n;
  }

  /**
   * The cut is the highest `held`: one of them must cover everything of the target servers used.
   * A server admitted after the target's last use may hold none of it (sim/FINDINGS.md 39).
   */
  private vouched(p: Pending): boolean {
    return p.kind !== 'ignore' || [...p.from.values()].some((r) => r.covers);
  }

  /** Enough requests to cut the target, none covering: the cut waits (for good, if declined so once: `uncoverable`). */
  private waitsForCover(p: Pending): boolean {
    return p.kind === 'ignore' && this.activeFrom(p) >= this.needed(p) && !this.vouched(p);
  }

  /** Requesters of `p` still active (one may have been cut since it asked). */
  private activeFrom(p: Pending): number {
    return [...p.from.keys()].filter((id) => this.d.membership()?.members.some((m) => m.id === id && isActive(m))).length;
  }

  /** When the oldest undecided request is declined, or null. */
  wakeAt(): number | null {
    let min: number | null = null;
    for (const p of this.pending.values()) {
      const t = p.since + declineAfter(this.d.config);
      if (min === null || t < min) min = t;
    }
    return min;
  }

  /** Declines the requests undecided for `declineAfter`. */
  tick(now: number): void {
    for (const [k, p] of this.pending) {
      if (now < p.since + declineAfter(this.d.config)) continue;
      this.pending.delete(k);
      // Declined for want of cover alone: if enough ask again and none covers, it never will.
      if (this.waitsForCover(p)) this.uncovered.set(p.target, now);
      else if (p.kind === 'ignore') this.uncovered.delete(p.target);
      this.declineAll(p);
    }
  }

  /** CutWatch.uncoverable (coordinator.ts). */
  uncoverable(): boolean {
    const cfg = this.d.config;
    for (const [t, at] of this.uncovered) {
      const p = this.pending.get(`ignore:${t}`);
      // Asked again at once (a requester repeats within T_req_timeout of the decline), and still
      // waiting: only requests from servers still active count.
      if (p && p.since - at <= cfg.T_req_timeout + cfg.T_timeout && this.activeFrom(p) >= this.needed(p) && !this.vouched(p)) return true;
    }
    return false;
  }
}
