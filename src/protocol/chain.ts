/**
 * One server's Timeslot chain as another server holds it: a contiguous, hash-linked run of
 * verified Timeslots after an anchor, plus a buffer of Timeslots that arrived ahead of a gap.
 * Signatures are checked by the caller before `offer`; this module checks the chain rules:
 * numbering, hash links, strictly growing stamps, arrivals within (previous stamp, stamp].
 */
import type { Timeslot } from './messages.js';
import { timeslotHash } from './signed.js';

export interface ChainItem {
  seq: number;
  hash: string;
  stamp: number;
  epoch: number;
  entries: Timeslot['entries'];
  heads: Timeslot['heads'];
  update: Timeslot['update'];
  ignoring: string[];
  /** The signed Timeslot, kept for TRM answers and proofs while recent. */
  full: Timeslot | null;
  /** Local receive time (own clock). */
  receivedAt: number;
  /**
   * Its server's own copy has arrived (not only a relayed one): a second direct copy is a replay,
   * a first one that a relay overtook is not.
   */
  direct: boolean;
}

export interface Anchor {
  seq: number;
  hash: string;
  stamp: number;
}

/** Where the server's Timeslots moved to a new membership epoch (admission markers). */
export interface EpochMark {
  epoch: number;
  seq: number;
  stamp: number;
}

export type OfferResult =
  | { kind: 'added'; items: ChainItem[] }
  /** `heldDirect`: the held copy had already come from its server (before this offer). */
  | { kind: 'duplicate'; heldDirect: boolean }
  | { kind: 'conflict'; held: ChainItem }
  | { kind: 'buffered' }
  | { kind: 'old' }
  | { kind: 'invalid'; reason: string };

export class Chain {
  anchor: Anchor;
  items: ChainItem[] = [];
  /** Timeslots ahead of a gap, by seq. */
  future = new Map<number, { ts: Timeslot; hash: string; direct: boolean }>();
  marks: EpochMark[] = [];
  /** Items older than this seq have been pruned (kept: anchor = last pruned). */

  constructor(
    readonly server: string,
    anchor: Anchor,
    private readonly maxEntries: number,
    private readonly maxFuture: number,
    /** The stay its Timeslots are signed in (hashed in it). */
    readonly stay: string,
  ) {
    this.anchor = anchor;
  }

  get top(): Anchor {
    const last = this.items[this.items.length - 1];
    return last ? { seq: last.seq, hash: last.hash, stamp: last.stamp } : this.anchor;
  }

  get(seq: number): ChainItem | undefined {
    const first = this.items[0];
    if (!first) return undefined;
    return this.items[seq - first.seq];
  }

  /** Stamp of seq (anchor included), or undefined when not held. */
  stampOf(seq: number): number | undefined {
    if (seq === this.anchor.seq) return this.anchor.stamp;
    return this.get(seq)?.stamp;
  }

  hashOf(seq: number): string | undefined {
    if (seq === this.anchor.seq) return this.anchor.hash;
    return this.get(seq)?.hash;
  }

  /**
   * Offers a signature-checked Timeslot of this server; `direct`: sent by the server itself
   * (rather than relayed by another).
   */
  offer(ts: Timeslot, receivedAt: number, direct: boolean): OfferResult {
    const hash = timeslotHash(ts, this.stay);
    const top = this.top;
    if (ts.seq === this.anchor.seq && hash === this.anchor.hash && this.anchor.seq > 0 && !Number.isFinite(this.anchor.stamp)) {
      // Backfill of a chain we joined midway: the missing predecessor.
      const first = this.items[0];
      if (first && first.full && linkProblem(first.full, { seq: ts.seq, hash, stamp: ts.stamp }, this.maxEntries)) {
        return { kind: 'invalid', reason: 'stamp or arrival does not fit its successor' };
      }
      const item = this.makeItem(ts, hash, receivedAt, direct);
      this.items.unshift(item);
      this.anchor = { seq: ts.seq - 1, hash: ts.prevHash, stamp: -Infinity };
      if (ts.seq - 1 === 0) this.anchor = { seq: 0, hash: ts.prevHash, stamp: -Infinity };
      this.mark({ epoch: ts.epoch, seq: ts.seq, stamp: ts.stamp });
      return { kind: 'added', items: [item] };
    }
    if (ts.seq <= this.anchor.seq) return { kind: 'old' };
    if (ts.seq <= top.seq) {
      const held = this.get(ts.seq);
      if (!held) return { kind: 'old' };
      if (held.hash !== hash) return { kind: 'conflict', held };
      const heldDirect = held.direct;
      if (direct) held.direct = true;
      return { kind: 'duplicate', heldDirect };
    }
    if (ts.seq > top.seq + 1) {
      const had = this.future.get(ts.seq);
      if (had && had.hash !== hash) return { kind: 'buffered' };
      if (this.future.size >= this.maxFuture && !had) return { kind: 'invalid', reason: 'too far ahead' };
      this.future.set(ts.seq, { ts, hash, direct: direct || (had?.direct ?? false) });
      return { kind: 'buffered' };
    }
    const problem = linkProblem(ts, top, this.maxEntries);
    if (problem) return { kind: 'invalid', reason: problem };
    const added: ChainItem[] = [this.push(ts, hash, receivedAt, direct)];
    // Drain the buffer.
    for (;;) {
      const next = this.future.get(this.top.seq + 1);
      if (!next) break;
      this.future.delete(this.top.seq + 1);
      if (linkProblem(next.ts, this.top, this.maxEntries)) break;
      added.push(this.push(next.ts, next.hash, receivedAt, next.direct));
    }
    for (const seq of [...this.future.keys()]) if (seq <= this.top.seq) this.future.delete(seq);
    return { kind: 'added', items: added };
  }

  /**
   * Whether every report with arrival after `since` is held: the chain starts at 0, or its anchor's
   * stamp is known (anchors are only set at or before the frontier), or the first held Timeslot
   * is already at or before `since` (what is missing lies before it).
   */
  complete(since = -Infinity): boolean {
    const first = this.items[0];
    return this.anchor.seq === 0 || Number.isFinite(this.anchor.stamp) || (first !== undefined && first.stamp <= since);
  }

  private makeItem(ts: Timeslot, hash: string, receivedAt: number, direct: boolean): ChainItem {
    return {
      seq: ts.seq,
      hash,
      stamp: ts.stamp,
      epoch: ts.epoch,
      entries: ts.entries,
      heads: ts.heads,
      update: ts.update,
      ignoring: ts.ignoring ?? [],
      full: ts,
      receivedAt,
      direct,
    };
  }

  private push(ts: Timeslot, hash: string, receivedAt: number, direct: boolean): ChainItem {
    const item = this.makeItem(ts, hash, receivedAt, direct);
    this.items.push(item);
    this.mark({ epoch: ts.epoch, seq: ts.seq, stamp: ts.stamp });
    return item;
  }

  /**
   * Notes that the Timeslot at `mk.seq` carries epoch `mk.epoch` (held, backfilled, or below the
   * anchor as a state transfer's hints say). The marks stay the first Timeslot of each epoch
   * along the chain: by seq, each with a higher epoch than the one before; a mark another one at
   * or before it already covers is redundant, and it supersedes later ones of no higher epoch.
   * Only the 16 latest epochs are kept.
   */
  mark(mk: EpochMark): void {
    // The usual case, allocating nothing: a Timeslot past the last mark, of an epoch marked.
    const last = this.marks[this.marks.length - 1];
    if (last && last.seq <= mk.seq && last.epoch >= mk.epoch) return;
    if (this.marks.some((m) => m.seq <= mk.seq && m.epoch >= mk.epoch)) return;
    this.marks = this.marks.filter((m) => m.seq < mk.seq || m.epoch > mk.epoch);
    this.marks.push(mk);
    this.marks.sort((a, b) => a.seq - b.seq);
    if (this.marks.length > 16) this.marks.shift();
  }

  /** Drops held items above `seq` (a cut that our copy disagrees with); returns dropped seqs' range. */
  truncate(seq: number): void {
    const first = this.items[0];
    if (!first) return;
    if (seq < this.anchor.seq) seq = this.anchor.seq;
    this.items.length = Math.max(0, seq - first.seq + 1);
    this.future.clear();
    this.marks = this.marks.filter((m) => m.seq <= seq);
  }

  /** Forgets items older than `keepFromSeq` (the anchor moves up); full copies beyond `keepFull` from the top. */
  prune(keepFromSeq: number, keepFull: number): void {
    const first = this.items[0];
    if (first && keepFromSeq > first.seq) {
      const drop = Math.min(this.items.length - 1, keepFromSeq - first.seq);
      if (drop > 0) {
        const last = this.items[drop - 1];
        if (last) this.anchor = { seq: last.seq, hash: last.hash, stamp: last.stamp };
        this.items.splice(0, drop);
      }
    }
    const cutoff = this.items.length - keepFull;
    for (let i = 0; i < cutoff; i++) {
      const it = this.items[i];
      if (it && it.full) it.full = null;
    }
  }

  /**
   * Starts over from a new anchor (state transfer); keeps nothing held, nor the marks of what it
   * held above the anchor: those Timeslots are fetched again and marked as they come, and a
   * later epoch's mark left above them would hide an earlier epoch's first Timeslot among them.
   */
  reset(anchor: Anchor): void {
    this.anchor = anchor;
    this.items = [];
    this.future.clear();
    this.marks = this.marks.filter((m) => m.seq <= anchor.seq);
  }

  /**
   * Starts over from an anchor below the one we hold from (a state older than the Timeslots we
   * joined the chain at), as `reset` does, but keeps the signed Timeslots held: they wait in the
   * buffer and join again, in order and marked as they join, once the gap below them is fetched.
   * What we held, and may have echoed, stays ours to serve and to cut at.
   */
  rebase(anchor: Anchor): void {
    const held = [
      ...this.items.flatMap((it) => (it.full ? [{ ts: it.full, at: it.receivedAt, direct: it.direct }] : [])),
      ...[...this.future.values()].map((f) => ({ ts: f.ts, at: -Infinity, direct: f.direct })),
    ];
    this.reset(anchor);
    // In seq order already (the buffer lies past the items); those at or below the anchor are old.
    for (const h of held) this.offer(h.ts, h.at, h.direct);
  }

  /** Full Timeslots held in [from, to]. */
  range(from: number, to: number, max: number): Timeslot[] {
    const out: Timeslot[] = [];
    for (let s = Math.max(from, this.anchor.seq + 1); s <= to && out.length < max; s++) {
      const it = this.get(s);
      if (!it) break;
      if (it.full) out.push(it.full);
    }
    return out;
  }
}

/** Why `ts` cannot follow `prev` in a chain, or null when it can. */
export function linkProblem(ts: Timeslot, prev: Anchor, maxEntries: number): string | null {
  if (ts.seq !== prev.seq + 1) return `seq ${ts.seq} does not follow ${prev.seq}`;
  if (ts.prevHash !== prev.hash) return 'broken hash chain';
  if (!(ts.stamp > prev.stamp)) return 'stamp not above the previous stamp';
  if (ts.entries.length > maxEntries) return 'too many entries';
  const seen = new Set<string>();
  for (const [user, actionNo, arrival] of ts.entries) {
    if (!(arrival > prev.stamp) || arrival > ts.stamp) return 'arrival outside (previous stamp, stamp]';
    const k = `${user}\u0000${actionNo}`;
    if (seen.has(k)) return 'action listed twice';
    seen.add(k);
  }
  const heads = new Set<string>();
  for (const [server] of ts.heads) {
    if (heads.has(server) || server === ts.server) return 'bad heads';
    heads.add(server);
  }
  return null;
}
