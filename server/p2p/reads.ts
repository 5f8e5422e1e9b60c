/**
 * How the admin reads a P2P site's state without trusting one server (stateFetch.ts): periodic
 * majority-verified saves, the hand-back's fetch at or after its marker, and the sign that the
 * site lost its majority (a fetch with no majority answer for `lostAfterMs` while fewer than
 * N_majority of the servers known to hold the state are connected). site.ts owns the rest of the
 * site and acts on what this finds (`SiteReadEvents`).
 *
 * A save is fetched only when the site moved: once a seq is known current, the next save first
 * asks every server for its hash of the seq after it (`hashRequest`, a few bytes). Any answer
 * means an update exists past what is stored, and the full fetch runs at once; silence from all
 * of them means nothing moved, and nothing is fetched or stored. A lying server can only cause a
 * fetch (what every save did before); silence is trusted only while the servers still keep that
 * seq's hash (PROBE_HORIZON_UPDATES), and never when the majority may be gone (the fetch then
 * finds a lost site as before).
 *
 * A hand-back that cannot end (`stalled`: fewer than N_majority of its servers may still order, so
 * its marker never will; or, running too, a cut nobody can decide: site.ts) is not waited for
 * `lostAfterMs` when its servers still agree on a state: once they had STALL_SETTLE_TIMEOUTS to
 * finish what its last record still lets them close, it is read once more, and a majority-verified
 * answer finds it lost at once, that state its fallback's new base (sim/FINDINGS.md 37, 40, 57, 62,
 * 70). Without one it is waited for as any other: a fallback to an older state could undo updates
 * the majority accepted since.
 */
import { SYSTEM_ACTOR, type PeerMessage } from '../../src/protocol/messages.js';
import type { SiteConfig } from '../../src/protocol/config.js';
import { createStateFetch, type FetchedState, type StateFetch } from '../../src/protocol/stateFetch.js';
import type { Logger } from '../log.js';
import type { VerifiedSite } from './types.js';

/**
 * The hand-back's marker: a `leave` by the system actor, which the rules reject (nobody of that
 * name is on the site). Its place in the ordered log is the cut; a dedicated kind would change what
 * Site Servers parse (docs/hosting.md, "A site's lifecycle at the admin").
 */
export const HAND_BACK_MARKER = { kind: 'leave' } as const;

/** Hand-back: the marker is ordered this long after the users were told to hold their actions. */
const MARKER_DELAY_SLOTS = 3;
/** A healthy site answers a state fetch within a few T_timeout; this is far past that. */
export const LOST_AFTER_MS = 20_000;
/** Past LOST_AFTER_MS, whether the majority is gone is checked this often. */
const LOST_CHECK_MS = 1000;
/**
 * A server keeps the hashes of its last 4 keepUpdates updates (stateSync's hashBySeq), at most
 * one update a T_timeslot: silence about seq + 1 means "not moved" only while fewer than this
 * many keepUpdates of windows passed since that seq was known current (half, for margin).
 */
const PROBE_HORIZON_UPDATES = 2;
/**
 * A stalled site's last read starts this many T_timeout after the stall: a window its servers could
 * still close with the Timeslots the last record counts is closed by then (a round trip and an echo).
 */
const STALL_SETTLE_TIMEOUTS = 2;

export interface SiteReadEvents {
  /** A verified save while running. */
  saved(v: VerifiedSite): void;
  /** The hand-back's state at or after its marker. */
  cut(v: VerifiedSite): void;
  /**
   * No majority answers and it is gone, or it cannot order (`last`: its last read's state, to be the
   * fallback's new base). False: not lost (`last` would not do as a base); the read goes on as any.
   */
  lost(fetching: 'save' | 'close' | null, last: VerifiedSite | null): boolean;
  /** A server's state or hash disagreed with the majority's. */
  minority(server: string, what: string): void;
  /**
   * What a restarted admin needs changed: a fetch ended (the holders), or the marker was ordered
   * (the coordinator's system action number); so did what is due.
   */
  changed(): void;
}

export interface SiteReadDeps {
  config: SiteConfig;
  now: () => number;
  log: Logger;
  send(to: string, msg: PeerMessage): void;
  servers(): string[];
  connected(serverId: string): boolean;
  /** A hand-back that can never order its marker, or a cut nobody can decide (site.ts `stalled`): a verified read finds it lost. */
  stalled(): boolean;
  /** Orders the hand-back's marker system action; its number. */
  orderMarker(): number;
  saveEveryMs: number;
  lostAfterMs: number;
  events: SiteReadEvents;
  /** Runs `fn` once the current input is handled (sends and results never re-enter the caller). */
  defer(fn: () => void): void;
}

export class SiteReads {
  private fetch: StateFetch | null = null;
  private fetchFor: 'save' | 'close' | null = null;
  private fetchStartedAt = 0;
  /** When the fetch under way was last (re)started (a hand-back's retries keep `fetchStartedAt`). */
  private attemptAt = 0;
  /** Since when the site is stalled (SiteReadDeps.stalled), or null. */
  private stalledSince: number | null = null;
  /** When the stalled site's last read began, or null (not yet, or not stalled). */
  private lastRead: number | null = null;
  private nextSaveAt: number;
  private markerNo: number | null = null;
  private markerAt: number | null = null;
  private closing = false;
  /** Servers asked during the running save that answered with the hand-over (no update yet). */
  private readonly noUpdateYet = new Set<string>();
  /** The latest majority-verified state: servers' hashes of it are compared as they come. */
  private lastVerified: { seq: number; hash: string; compared: Set<string> } | null = null;
  /** The seq stored (or the hand-over's, before any update), and when it was last known current. */
  private known: { seq: number; at: number } | null = null;
  /** A server spoke of a seq past `known` since: the next save fetches without asking first. */
  private moved = false;
  /** The save's question "anything past `known`?" under way: silence until `until` is "no". */
  private probe: { startedAt: number; until: number } | null = null;
  /**
   * Servers known to hold the site's state: the hand-over's, then those whose hash agreed with
   * the newest state a fetch verified. A replacement that came after is not (with the majority gone it
   * cannot get the state either).
   */
  holders: Set<string>;
  /**
   * The seq of the state `holders` vouched for (a resumed site: its stored base, a lower bound).
   * A fetch that verifies an older state leaves them: its vouchers hold that old state, which a
   * server stuck behind and the last one left can agree on for good (sim/FINDINGS.md 83).
   */
  private holdersSeq: number;

  constructor(
    private readonly d: SiteReadDeps,
    holders: Iterable<string>,
    holdersSeq = -Infinity,
  ) {
    this.holders = new Set(holders);
    this.holdersSeq = holdersSeq;
    this.nextSaveAt = d.now() + d.saveEveryMs;
  }

  get fetching(): 'save' | 'close' | null {
    return this.fetchFor;
  }

  /** A save's probe is under way (tests, the operator page). */
  get probing(): boolean {
    return this.probe !== null;
  }

  /** The next save is at `at` (a resumed site waits for its servers first). */
  saveAt(at: number): void {
    this.nextSaveAt = at;
  }

  /** Starts the hand-back: the marker goes out MARKER_DELAY_SLOTS from now. */
  close(): void {
    this.closing = true;
    this.probe = null;
    this.markerAt = this.d.now() + MARKER_DELAY_SLOTS * this.d.config.T_timeslot;
  }

  /** A stop: nothing more is read. */
  stop(): void {
    this.fetch = null;
    this.fetchFor = null;
    this.markerAt = null;
    this.probe = null;
  }

  /**
   * A server's message, before the coordinator sees it. A state chunk is only ever for the fetch
   * under way, from the server asked: the refusal code otherwise (and it goes no further).
   */
  receive(from: string, msg: PeerMessage): { consumed: boolean; refused?: string } {
    if (msg.type === 'siteInit') {
      // "No update since the hand-over" only counts from the server asked, and ends the save only
      // once N_majority say so: one server cannot keep a site's progress from being stored.
      if (this.fetchFor !== 'save' || !this.fetch || this.fetch.provider !== from) return { consumed: true, refused: 'no state asked for' };
      this.noUpdateYet.add(from);
      if (this.noUpdateYet.size >= this.d.config.N_majority) {
        this.known = { seq: msg.seq, at: this.fetchStartedAt };
        this.fetch = null;
        this.fetchFor = null;
      } else this.fetch.start();
      return { consumed: true };
    }
    // A hash of the last verified state that arrives after the majority did is compared too.
    const v = this.lastVerified;
    if (v && msg.type === 'updateHash' && msg.seq === v.seq) this.compareHash(from, msg.hash, v);
    if (msg.type === 'stateChunk') {
      if (this.fetch?.provider !== from) return { consumed: true, refused: this.fetch ? 'not the server asked for the state' : 'no state asked for' };
      this.fetch.onChunk(from, msg);
      return { consumed: true };
    }
    if (this.fetch && (msg.type === 'updateHash' || msg.type === 'update')) this.fetch.onHash(from, msg.seq, msg.hash);
    // Outside a fetch (whose own hashes are past `known` by nature), word of a later seq is news.
    if (!this.fetch && (msg.type === 'updateHash' || msg.type === 'update') && this.known && msg.seq > this.known.seq && this.d.servers().includes(from)) this.onMoved();
    return { consumed: false };
  }

  /** When to tick next (null: nothing due). */
  wakeAt(): number | null {
    const now = this.d.now();
    const wakes = [this.fetch?.nextWakeAt() ?? null, this.markerAt, this.probe?.until ?? null];
    if (this.fetch) {
      // Past the limit with servers still there: look again now and then.
      const lostAt = this.fetchStartedAt + this.d.lostAfterMs;
      wakes.push(lostAt > now ? lostAt : now + LOST_CHECK_MS);
    }
    // A stall seen first here is taken up at once; its last read starts once it settled (and a
    // hand-back's marker is out: its own fetch is then read again).
    const stalledSince = this.stalledSince ?? (this.d.stalled() ? now : null);
    if (stalledSince !== null && this.lastRead === null && this.markerAt === null) wakes.push(this.stalledSince === null ? now : stalledSince + this.settleMs());
    if (!this.closing && this.fetch === null && this.probe === null) wakes.push(this.nextSaveAt);
    let at: number | null = null;
    for (const w of wakes) if (w !== null && (at === null || w < at)) at = w;
    return at;
  }

  /** False when the site was found lost (nothing else happens then). */
  tick(): boolean {
    const now = this.d.now();
    if (this.d.stalled()) this.stalledSince ??= now;
    else this.stalledSince = this.lastRead = null;
    if (this.fetch && now >= this.fetchStartedAt + this.d.lostAfterMs && this.majorityGone()) {
      const fetching = this.fetchFor;
      this.stop();
      this.d.events.lost(fetching, null);
      return false;
    }
    this.fetch?.tick();
    if (this.markerAt !== null && now >= this.markerAt) {
      this.markerAt = null;
      this.markerNo = this.d.orderMarker();
      // A system action numbered: stored now, or a restarted admin gives the next join this
      // number, which the servers applied and drop (sim/FINDINGS.md 34).
      this.d.events.changed();
      this.probe = null;
      this.start('close');
    }
    if (this.stalledSince !== null && this.lastRead === null && this.markerAt === null && now >= this.stalledSince + this.settleMs()) {
      // The last read: whatever was under way is asked again (a hand-back's lost clock runs on).
      this.probe = null;
      const since = this.fetch ? this.fetchStartedAt : null;
      this.start(this.fetchFor ?? 'save', undefined, true);
      if (since !== null) this.fetchStartedAt = since;
      this.lastRead = now;
    }
    if (this.probe && now >= this.probe.until) {
      // Nobody has an update past the known seq: nothing to fetch or store.
      if (this.known) this.known.at = this.probe.startedAt;
      this.probe = null;
    }
    if (!this.closing && this.fetch === null && this.probe === null && now >= this.nextSaveAt) {
      this.nextSaveAt = now + this.d.saveEveryMs;
      if (this.d.servers().length > 0) this.save();
    }
    return true;
  }

  /** A periodic save: the full fetch, unless asking first may spare it. */
  private save(): void {
    const now = this.d.now();
    const k = this.known;
    const horizon = PROBE_HORIZON_UPDATES * this.d.config.keepUpdates * this.d.config.T_timeslot;
    if (this.moved || !k || now - k.at >= horizon || this.majorityGone()) return this.start('save');
    const seq = k.seq + 1;
    this.probe = { startedAt: now, until: now + 4 * this.d.config.T_timeout };
    for (const s of this.d.servers()) this.d.defer(() => this.d.send(s, { type: 'hashRequest', site: this.d.config.site, seq }));
  }

  /** A server holds an update past the known seq: fetch now if a probe asked, else at the next save. */
  private onMoved(): void {
    this.moved = true;
    if (!this.probe) return;
    this.probe = null;
    this.start('save');
  }

  private settleMs(): number {
    return STALL_SETTLE_TIMEOUTS * this.d.config.T_timeout;
  }

  /** Fewer than N_majority of the servers known to hold the state are connected. */
  majorityGone(): boolean {
    return this.d.servers().filter((id) => this.holders.has(id) && this.d.connected(id)).length < this.d.config.N_majority;
  }

  private compareHash(server: string, hash: string, v: { seq: number; hash: string; compared: Set<string> }): void {
    if (v.compared.has(server)) return;
    v.compared.add(server);
    if (hash !== v.hash) this.d.events.minority(server, `state at update ${v.seq}`);
  }

  /**
   * `counting`: servers that count for the lost rule are asked first. A stalled site's last read must
   * answer while it is still stalled (a cut nobody can decide is asked for again after each decline,
   * and the deciders let the target go in between: sim/FINDINGS.md 70); a gone server asked first
   * costs the fetch its patience (4 T_timeout), longer than that.
   */
  private start(purpose: 'save' | 'close', newerThan?: number, counting = false): void {
    this.fetchFor = purpose;
    this.moved = false;
    this.noUpdateYet.clear();
    this.fetch = createStateFetch({
      config: this.d.config,
      now: this.d.now,
      send: (to, msg) => this.d.defer(() => this.d.send(to, msg)),
      servers: () => this.d.servers(),
      ...(newerThan !== undefined ? { newerThan } : {}),
      ...(counting ? { order: (untried: string[]) => [...untried].sort((a, b) => Number(this.d.connected(b)) - Number(this.d.connected(a))) } : {}),
      onDone: (r) => this.d.defer(() => this.fetched(r)),
      onBadProvider: (server, seq) => {
        // A state that does not hash to what it claims, or that the majority's hashes contradict.
        this.d.log.warn('p2p.bad_state', { site: this.d.config.site, server, seq, code: 'ERR_BAD_HASH' });
        this.d.events.minority(server, `transferred state at update ${seq}`);
      },
    });
    this.fetchStartedAt = this.attemptAt = this.d.now();
    this.fetch.start();
  }

  private fetched(r: FetchedState): void {
    const purpose = this.fetchFor;
    if (purpose === null) return;
    this.fetch = null;
    this.fetchFor = null;
    // The majority's state is what is stored; who said otherwise is remembered.
    this.lastVerified = { seq: r.seq, hash: r.hash, compared: new Set() };
    // Current when the fetch started at the latest: what the next save's probe asks past.
    this.known = { seq: r.seq, at: this.fetchStartedAt };
    if (r.seq >= this.holdersSeq) {
      this.holders = new Set([...r.hashes].filter(([, h]) => h === r.hash).map(([id]) => id));
      this.holdersSeq = r.seq;
    }
    for (const [server, h] of r.hashes) this.compareHash(server, h, this.lastVerified);
    const lastActionNo = new Map<string, number>();
    let markerIn = false;
    let systemApplied = { floor: 0, nos: [] as number[] };
    for (const [user, floor, nos] of r.payload.state.applied) {
      const max = Math.max(floor, ...nos);
      if (user === SYSTEM_ACTOR) {
        markerIn = this.markerNo !== null && (this.markerNo <= floor || nos.includes(this.markerNo));
        systemApplied = { floor, nos: [...nos] };
      } else lastActionNo.set(user, max);
    }
    const verified: VerifiedSite = { seq: r.seq, snapshot: r.payload.state.snapshot, lastActionNo, systemApplied };
    // A stalled site's last read (the cut, if the marker made it, is taken as ever): lost with it if
    // still stalled. Records that need requests cannot be decided, but an equivocation proof gives an
    // ignored server's slot to a newcomer at once (coordinator.ts `evictServer`), and no tick may
    // have come between (not covered by a test: sim/FINDINGS.md 62).
    const last = this.lastRead !== null && this.attemptAt >= this.lastRead && !(purpose === 'close' && markerIn);
    if (last && this.d.stalled() && this.d.events.lost(purpose, verified)) {
      this.stop();
      return;
    }
    if (purpose === 'save') {
      if (!this.closing) this.d.events.saved(verified);
    } else if (!markerIn) {
      // The provider was not past the cut yet: take a later state (another server's, if this one is
      // stuck behind: sim/FINDINGS.md 51). The lost rule's clock runs on from the first try: a site
      // whose servers agree on a state but can never order the marker is lost (FINDINGS 40).
      const since = this.fetchStartedAt;
      this.start('close', r.seq);
      this.fetchStartedAt = since;
    } else this.d.events.cut(verified);
    this.d.events.changed();
  }
}
