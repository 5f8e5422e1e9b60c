/**
 * The one vote tally of update copies, for users (user.ts) and the admin (coordinator.ts): each
 * server's word on update `seq` (a full copy or its hash, acceptance.ts), the majority once
 * N_majority agree, and the servers on the other side, flagged with evidence that locates the
 * parting: the seq, the majority's hash and servers, the minority's hashes, the majority copy's
 * actions. Decided seqs are kept (bounded) so that a late word is still compared.
 */
import { addVote, dissenters, emptyVotes, type Votes } from './acceptance.js';
import { MAX_EVIDENCE_ACTIONS, MAX_EVIDENCE_SERVERS, type Evidence, type UpdateMessage } from './messages.js';
import { updateHash } from './signed.js';

/** Why a server is flagged; travels as `flagReport.reason`. */
export type FlagKind = 'differs' | 'bad-hash' | 'changed' | 'bad-state';

export interface TallyFlag {
  server: string;
  seq: number;
  kind: FlagKind;
  evidence?: Evidence;
}

export interface TallyOptions {
  nMajority: number;
  /** Seqs with votes but no decision; past it the highest open seq gives way (or the new one is refused). */
  maxOpen: number;
  /** Decided seqs remembered (late words compared, replays refused). */
  decidedKept: number;
  /**
   * Flag the other side as soon as N_majority hashes agree, before any copy of that update is
   * here (the admin: its probes are hashes only). Otherwise the flags wait for the copy, so that
   * the evidence lists its actions.
   */
  flagOnHashes?: boolean;
}

export type VoteOutcome =
  | 'counted'
  | 'duplicate'
  /** A server's second, different word for one seq (flagged; its first stands). */
  | 'changed'
  | 'outsider'
  /** Content that does not hash to its claimed hash (flagged). */
  | 'bad-hash'
  /** A full copy for a seq decided already, from a server that had its word (a replay). */
  | 'replayed'
  /** For a seq decided already (compared with it). */
  | 'late'
  /** Refused: maxOpen seqs are open and this one is above them all. */
  | 'too-far';

/**
 * Epochs [lo, hi] over which a voter is known to have held its slot: from the admission of the
 * stint it voted in to the epoch of its vote (a slot, once lost, is never held again, so the span
 * between is held too). The admin's tally; a user's counts the current servers only.
 */
export interface Span {
  lo: number;
  hi: number;
}

type Open = Votes & { flagged: Set<string>; spans: Map<string, Span> };

interface Decided {
  hash: string;
  /** server -> the hash it vouched for. */
  voters: Map<string, string>;
  window: number | null;
  actions: Array<[string, number]>;
  actionCount: number | null;
}

/** Actions are kept for the newest decided seqs only (older entries keep hashes and voters). */
const RICH_KEPT = 256;

export class VoteTally {
  private readonly open = new Map<number, Open>();
  private readonly decided = new Map<number, Decided>();

  constructor(private readonly o: TallyOptions) {}

  /**
   * One server's word on update `seq`. `keepFull` false drops the copy (the caller bounds the
   * copies it holds) but still counts the hash. `span`: when the voter held its slot (the admin;
   * a repeat of the same word widens it). Returns what happened and whom to flag.
   */
  vote(
    from: string,
    seq: number,
    hash: string,
    full: UpdateMessage | null,
    servers: ReadonlySet<string>,
    keepFull = true,
    span?: Span,
  ): { outcome: VoteOutcome; flags: TallyFlag[] } {
    if (full) {
      const { type: _t, hash: claimed, ...body } = full;
      void _t;
      if (updateHash(body) !== claimed) return { outcome: 'bad-hash', flags: [{ server: from, seq, kind: 'bad-hash' }] };
    }
    const d = this.decided.get(seq);
    if (d) {
      if (!servers.has(from)) return { outcome: 'outsider', flags: [] };
      if (d.voters.has(from)) return { outcome: full ? 'replayed' : 'duplicate', flags: [] };
      d.voters.set(from, hash);
      if (hash === d.hash) return { outcome: 'late', flags: [] };
      return { outcome: 'late', flags: [{ server: from, seq, kind: 'differs', evidence: evidenceOf(seq, d) }] };
    }
    let v = this.open.get(seq);
    if (!v) {
      if (this.open.size >= this.o.maxOpen && !this.makeRoom(seq)) return { outcome: 'too-far', flags: [] };
      this.open.set(seq, (v = { ...emptyVotes(), flagged: new Set(), spans: new Map() }));
    }
    const r = addVote(v, from, hash, keepFull ? full : null, servers);
    if (span && (r === 'counted' || r === 'duplicate')) {
      const had = v.spans.get(from);
      v.spans.set(from, had ? { lo: Math.min(had.lo, span.lo), hi: Math.max(had.hi, span.hi) } : span);
    }
    const flags: TallyFlag[] = r === 'changed' ? [{ server: from, seq, kind: 'changed' }] : [];
    // A hash majority is known before any full copy (the admin's probes are hashes only): the
    // other side is evidence now, whether or not a copy to accept ever comes.
    const agreed = this.agreedHash(seq, servers);
    const copy = agreed !== null ? (v.full.get(agreed) ?? null) : null;
    if (agreed !== null && (copy || this.o.flagOnHashes)) flags.push(...this.flagDissent(seq, v, agreed, copy ? decidedOf(v, copy) : null));
    return { outcome: r, flags };
  }

  /** The update N_majority servers of `servers` vouch for, present in full; null if none yet. */
  ready(seq: number, servers: ReadonlySet<string>): UpdateMessage | null {
    const v = this.open.get(seq);
    const h = this.agreedHash(seq, servers);
    return v && h !== null ? (v.full.get(h) ?? null) : null;
  }

  /**
   * The admin's rule (sim/FINDINGS.md 65): the update, present in full, that N_majority voters vouch
   * for who all held their slots at one epoch, in the spans they voted in. A voter in `slotted`
   * holds its slot up to `now`; one that lost it counts over its recorded span. Cheaters are fewer
   * than N_majority of the slotted servers at any epoch, so such a set holds an honest voter: its
   * hash is the update. A vote outlives its slot only with those it was slotted with: two liars
   * never slotted together make nothing. With every voter slotted now (all share `now`) this is
   * `ready(seq, slotted)`.
   */
  readyTogether(seq: number, now: number, slotted: ReadonlySet<string>): UpdateMessage | null {
    const v = this.open.get(seq);
    if (!v) return null;
    const byHash = new Map<string, Span[]>();
    for (const [server, h] of v.byServer) {
      const s = v.spans.get(server);
      const span = slotted.has(server) ? { lo: s?.lo ?? now, hi: now } : s;
      if (!span) continue;
      byHash.set(h, [...(byHash.get(h) ?? []), span]);
    }
    for (const [h, spans] of byHash) {
      const copy = v.full.get(h);
      if (copy && mostAtOneEpoch(spans) >= this.o.nMajority) return copy;
    }
    return null;
  }

  /** The hash N_majority servers of `servers` vouch for (with or without a full copy). */
  agreedHash(seq: number, servers: ReadonlySet<string>): string | null {
    const v = this.open.get(seq);
    if (!v) return this.decided.get(seq)?.hash ?? null;
    const count = new Map<string, number>();
    for (const [server, h] of v.byServer) {
      if (!servers.has(server)) continue;
      const n = (count.get(h) ?? 0) + 1;
      if (n >= this.o.nMajority) return h;
      count.set(h, n);
    }
    return null;
  }

  /** Closes `seq` as accepted with `update`; the flags of dissenters not flagged yet. */
  accept(seq: number, update: UpdateMessage): TallyFlag[] {
    const v = this.open.get(seq);
    this.open.delete(seq);
    const d = decidedOf(v ?? emptyVotes(), update);
    this.remember(seq, d);
    return v ? this.flagDissent(seq, v, update.hash, d) : [];
  }

  /** Remembers `seq` as decided with `hash` (an admin restart: who voted is not known). */
  decidedAs(seq: number, hash: string): void {
    this.open.delete(seq);
    this.remember(seq, { hash, voters: new Map(), window: null, actions: [], actionCount: null });
  }

  decidedHash(seq: number): string | null {
    return this.decided.get(seq)?.hash ?? null;
  }

  /** The hash `server` vouched for at a decided `seq`, and the evidence if it differs. */
  wordOf(seq: number, server: string): { hash: string | null; evidence: Evidence | null } | null {
    const d = this.decided.get(seq);
    if (!d) return null;
    const h = d.voters.get(server) ?? null;
    return { hash: h, evidence: h !== null && h !== d.hash ? evidenceOf(seq, d) : null };
  }

  /** The hash `server` voted for at `seq` (open or decided), if it did. */
  hashBy(server: string, seq: number): string | undefined {
    return this.open.get(seq)?.byServer.get(server) ?? this.decided.get(seq)?.voters.get(server);
  }

  /** Decided seqs and their hashes, oldest first. */
  decidedSeqs(): Array<[number, string]> {
    return [...this.decided].sort((a, b) => a[0] - b[0]).map(([s, d]) => [s, d.hash]);
  }

  hasOpen(seq: number): boolean {
    return this.open.has(seq);
  }

  openSeqs(): number[] {
    return [...this.open.keys()];
  }

  get openCount(): number {
    return this.open.size;
  }

  /** Forgets open seqs at or below `seq` (accepted another way, e.g. a state transfer). */
  dropOpenUpTo(seq: number): void {
    for (const s of [...this.open.keys()]) if (s <= seq) this.open.delete(s);
  }

  private flagDissent(seq: number, v: Open, hash: string, d: Decided | null): TallyFlag[] {
    const out: TallyFlag[] = [];
    const ev = d ?? { hash, voters: v.byServer, window: null, actions: [], actionCount: null };
    for (const s of dissenters(v, hash)) {
      if (v.flagged.has(s)) continue;
      v.flagged.add(s);
      out.push({ server: s, seq, kind: 'differs', evidence: evidenceOf(seq, ev) });
    }
    return out;
  }

  /**
   * Room for one more open seq: a hash-only agreement (a probe or a save's hashes: no copy is
   * coming) gives way first, then the highest open seq if `seq` is below it.
   */
  private makeRoom(seq: number): boolean {
    for (const [s, v] of this.open) {
      if (v.full.size === 0 && this.agreedAmong(v)) {
        this.open.delete(s);
        return true;
      }
    }
    const highest = Math.max(...this.open.keys());
    if (seq > highest) return false;
    this.open.delete(highest);
    return true;
  }

  private agreedAmong(v: Votes): boolean {
    const count = new Map<string, number>();
    for (const h of v.byServer.values()) count.set(h, (count.get(h) ?? 0) + 1);
    return [...count.values()].some((n) => n >= this.o.nMajority);
  }

  private remember(seq: number, d: Decided): void {
    this.decided.set(seq, d);
    // Seqs are decided in about increasing order: the first kept is the oldest.
    for (const old of this.decided.keys()) {
      if (this.decided.size <= this.o.decidedKept) break;
      this.decided.delete(old);
    }
    const stale = this.decided.get(seq - RICH_KEPT);
    if (stale) stale.actions = [];
  }
}

/**
 * The most spans that share one epoch. Intervals that pairwise overlap share a point, and the
 * deepest point can be taken at some span's start: each start is a candidate.
 */
function mostAtOneEpoch(spans: Span[]): number {
  let best = 0;
  for (const { lo: at } of spans) best = Math.max(best, spans.filter((s) => s.lo <= at && at <= s.hi).length);
  return best;
}

function decidedOf(v: Votes, update: UpdateMessage): Decided {
  return {
    hash: update.hash,
    voters: new Map(v.byServer),
    window: update.window,
    actions: update.applied.slice(0, MAX_EVIDENCE_ACTIONS).map(([u, n]) => [u, n]),
    actionCount: update.applied.length,
  };
}

function evidenceOf(seq: number, d: Decided): Evidence {
  const majority: string[] = [];
  const minority: Array<[string, string]> = [];
  for (const [s, h] of d.voters) {
    if (h === d.hash) {
      if (majority.length < MAX_EVIDENCE_SERVERS) majority.push(s);
    } else if (minority.length < MAX_EVIDENCE_SERVERS) minority.push([s, h]);
  }
  return { seq, majority: { hash: d.hash, servers: majority }, minority, window: d.window, actions: d.actions, actionCount: d.actionCount };
}
