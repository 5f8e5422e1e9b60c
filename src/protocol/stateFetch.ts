/**
 * The one state-transfer path: taking a P2P site's state from its servers without trusting any
 * one of them. Ask one holder for its ordering state as of its latest update (`stateRequest`),
 * join the chunks, check that the state hashes to the update's `stateHash` and the update to its
 * hash, and accept once N_majority holders give that hash for that seq (their `updateHash`,
 * `update` or, for a Site Server, what their Timeslots announced). A provider that sends nothing,
 * a bad state, or one the majority contradicts is replaced by the next one.
 *
 * Used by every taker: a Site Server catching up or replacing another (stateSync.ts), a user
 * entering a running site (user.ts), and the admin taking a site back or saving it
 * (server/p2p/reads.ts). Pure: time and sending are injected.
 */
import type { Send } from './api.js';
import { ChunkSlots } from './chunks.js';
import type { SiteConfig } from './config.js';
import { hashOf } from './crypto.js';
import type { ErrorCode } from './errors.js';
import { decodeTransfer, type PeerOf, type TransferPayload } from './messages.js';
import { updateHash } from './signed.js';

export interface FetchedState {
  seq: number;
  hash: string;
  payload: TransferPayload;
  /** The holder whose state this is. */
  from: string;
  /** Every holder's answer for `seq` so far: those that differ from `hash` are a minority. */
  hashes: ReadonlyMap<string, string>;
}

export interface StateFetchOptions {
  config: SiteConfig;
  now: () => number;
  send: Send;
  /** Who holds the state and vouches for it: the site's current servers (a server: the others). */
  servers: () => readonly string[];
  onDone: (state: FetchedState) => void;
  /** A provider was given up for a bad state, or one the majority contradicts (flag it). */
  onBadProvider?: (server: string, seq: number) => void;
  /** A chunk refused (of another transfer, undecodable, not matching its hashes): for logging. */
  onRejected?: (from: string, code: ErrorCode, reason: string) => void;
  /** No chunk (or no majority) this long: the next provider, or the hashes asked again (default 4 T_timeout). */
  patienceMs?: number;
  /** The untried holders in the order to ask them (default: as `servers()` lists them). */
  order?: (untried: string[]) => string[];
  /** Asked first, once, even if not among `servers()` (a server whose player walked in hands over its copy). */
  preferred?: string;
  /** Hashes heard outside this fetch (a server's peers announce theirs in Timeslots): holder, seq -> hash. */
  known?: (server: string, seq: number) => string | undefined;
  /** The membership epoch a `stateRequest` carries (servers only: see serverContext.fromUnknownPeer). */
  epoch?: () => number;
  /**
   * Only a state past this seq will do (the admin's hand-back: the state it took lacked the
   * marker). A holder whose latest update is not past it is passed over, not flagged: it is
   * behind, not wrong, and the others still vouch for its older state (sim/FINDINGS.md 51).
   */
  newerThan?: number;
}

export interface StateFetch {
  /** Asks the first holder not tried yet. */
  start(): void;
  /** Whether a provider has been asked (and no result accepted yet). */
  readonly asking: boolean;
  readonly done: boolean;
  /** The holder asked for the state now (chunks from anyone else are ignored). */
  readonly provider: string | null;
  /** The seq being fetched, once the provider named it. */
  readonly seq: number | null;
  onChunk(from: string, msg: PeerOf<'stateChunk'>): void;
  /** A holder's hash for some seq (from `updateHash`, `update`, or its vote); checks for a majority again. */
  onHash(from: string, seq: number, hash: string): void;
  nextWakeAt(): number | null;
  tick(): void;
}

export function createStateFetch(opts: StateFetchOptions): StateFetch {
  const cfg = opts.config;
  const site = cfg.site;
  const patience = opts.patienceMs ?? 4 * cfg.T_timeout;
  const tried = new Set<string>();
  let started = false;
  let provider: string | null = null;
  let askedAt = -Infinity;
  /** Every holder was behind `newerThan`: when to start over (about when a later update may exist). */
  let againAt: number | null = null;
  let seq: number | null = null;
  let hash: string | null = null;
  let slots: ChunkSlots | null = null;
  let payload: TransferPayload | null = null;
  const hashes = new Map<string, string>();
  /** The holders asked for their hash of `seq` (one counted after is asked at once: FINDINGS 82). */
  const hashAsked = new Set<string>();
  /** The preferred holder gave a bad state, or one the majority contradicts: asked no more alongside. */
  let prefBad = false;
  let done = false;

  function ask(): void {
    const servers = opts.servers();
    started = true;
    askedAt = opts.now();
    againAt = null;
    provider = null;
    seq = null;
    hash = null;
    slots = null;
    payload = null;
    hashes.clear();
    hashAsked.clear();
    if (servers.length === 0) return;
    let pool = servers.filter((s) => !tried.has(s));
    if (pool.length === 0) {
      tried.clear();
      pool = [...servers];
    }
    const pref = opts.preferred;
    const first = pref !== undefined && !tried.has(pref) ? pref : opts.order ? opts.order(pool)[0] : pool[0];
    if (first === undefined) return;
    provider = first;
    tried.add(first);
    opts.send(first, request());
    askPreferredAgain(servers);
  }

  function request(): PeerOf<'stateRequest'> {
    const epoch = opts.epoch?.();
    return { type: 'stateRequest', site, seq: null, ...(epoch !== undefined ? { epoch } : {}) };
  }

  /**
   * A preferred copy outside the servers (a walked-in server's, kept for a while) is asked again
   * at each later round, a new provider's or the hashes': its turn otherwise came once per cycle
   * of the servers, and a first ask lost to a partition cost seed 35694 a whole cycle while that
   * copy, the hand-over (answered with `siteInit`, which a server adopts outside this fetch), was
   * the one state a joiner could run from (sim/FINDINGS.md 102). Its chunks, before another
   * provider's, are taken as a late answer (onChunk).
   */
  function askPreferredAgain(servers: readonly string[]): void {
    const pref = opts.preferred;
    if (pref !== undefined && pref !== provider && tried.has(pref) && !prefBad && !servers.includes(pref)) opts.send(pref, request());
  }

  /** The holders' answers for `seq`: for the provider's hash, and against it. */
  function tally(): { n: number; against: number } {
    let n = 0;
    let against = 0;
    for (const s of opts.servers()) {
      const h = seq === null ? undefined : (hashes.get(s) ?? opts.known?.(s, seq));
      if (h === undefined) continue;
      if (h === hash) n++;
      else against++;
    }
    return { n, against };
  }

  function askHashes(): void {
    if (seq === null) return;
    for (const s of opts.servers()) {
      hashAsked.add(s);
      opts.send(s, { type: 'hashRequest', site, seq });
    }
  }

  /**
   * Holders counted since the hashes were asked (a server admitted or readmitted meanwhile), not
   * asked yet and silent so far, while no majority vouches. Waiting for the next patience round
   * (seconds) to ask them lost a majority that existed only for a while (sim/FINDINGS.md 82).
   */
  function newcomers(): string[] {
    if (done || seq === null) return [];
    const s0 = seq;
    const fresh = opts.servers().filter((s) => !hashAsked.has(s) && !hashes.has(s) && opts.known?.(s, s0) === undefined);
    return fresh.length > 0 && tally().n < cfg.N_majority ? fresh : [];
  }

  /** The provider's state is wrong: flag it and ask the next one. */
  function badProvider(code: ErrorCode | null, reason: string): void {
    if (provider !== null) {
      if (provider === opts.preferred) prefBad = true;
      if (code !== null) opts.onRejected?.(provider, code, reason);
      opts.onBadProvider?.(provider, seq ?? 0);
    }
    ask();
  }

  function tryFinish(): void {
    if (done || hash === null || seq === null || provider === null) return;
    const t = tally();
    // N_majority holders give another hash for this seq (a state and update forged consistently):
    // one of them is honest, so the provider is not. Fewer against, or fewer holders than
    // N_majority (a site short of servers), proves nothing: a minority must never get an honest
    // provider flagged, so the fetch waits (asking the hashes again) for holders to join.
    if (t.against >= cfg.N_majority) return badProvider(null, 'the majority gives another hash');
    if (!payload || t.n < cfg.N_majority) return;
    done = true;
    const from = provider;
    provider = null;
    opts.onDone({ seq, hash, payload, from, hashes: new Map(hashes) });
  }

  /**
   * The provider's latest update is not past `newerThan`: ask a holder not tried yet; with every
   * one tried, start over a T_timeslot on (a site orders about one update a T_timeslot).
   */
  function passOver(): void {
    provider = null;
    if (opts.servers().some((s) => !tried.has(s))) ask();
    else againAt = opts.now() + cfg.T_timeslot;
  }

  /** The joined bytes of the provider's chunks: a transfer that hashes as its update says. */
  function check(bytes: Uint8Array): TransferPayload | null {
    const parsed = decodeTransfer(bytes);
    if (!parsed.ok) {
      badProvider('ERR_MALFORMED', parsed.message);
      return null;
    }
    const p = parsed.value;
    const { hash: claimed, ...body } = p.update;
    if (
      body.site !== site ||
      p.state.site !== site ||
      body.seq !== seq ||
      claimed !== hash ||
      updateHash(body) !== claimed ||
      hashOf(p.state) !== body.stateHash ||
      p.state.window !== body.window
    ) {
      badProvider('ERR_BAD_HASH', 'transferred state does not match its hashes');
      return null;
    }
    return p;
  }

  return {
    start: ask,
    get asking() {
      return provider !== null && !done;
    },
    get done() {
      return done;
    },
    get provider() {
      return done ? null : provider;
    },
    get seq() {
      return seq;
    },
    onChunk(from, msg) {
      if (done || payload) return;
      if (opts.newerThan !== undefined && msg.seq <= opts.newerThan) {
        // Behind what is wanted (the site may move on meanwhile): the next holder.
        if (from === provider && slots === null) passOver();
        return;
      }
      if (from !== provider) {
        // A server asked before that answers late (a loaded machine) is as good as the one asked
        // now, until a first chunk came: moving on at every timeout, a state slower than our
        // patience never came in.
        if (slots !== null || !tried.has(from)) return;
        provider = from;
        askedAt = opts.now();
        againAt = null;
      }
      if (slots === null) {
        seq = msg.seq;
        hash = msg.hash;
        slots = new ChunkSlots(msg.count);
        // Ask the holders for their hash of it while the chunks come, unless they told already.
        if (tally().n < cfg.N_majority) askHashes();
      }
      if (msg.seq !== seq || msg.hash !== hash || msg.count !== slots.count || msg.index >= slots.count) {
        opts.onRejected?.(from, 'ERR_STALE', 'chunk of another transfer');
        return;
      }
      const whole = slots.put(msg.index, msg.data);
      if (!whole) return;
      payload = check(whole);
      if (payload) tryFinish();
    },
    onHash(from, s, h) {
      if (done) return;
      if (s === seq) hashes.set(from, h);
      // Another seq's hash may come with news `known` holds for ours (a server's announcements).
      tryFinish();
    },
    nextWakeAt() {
      if (done || !started) return null;
      if (newcomers().length > 0) return opts.now();
      return Math.min(askedAt + patience, againAt ?? Infinity);
    },
    tick() {
      if (done || !started) return;
      if (againAt !== null && opts.now() >= againAt) return ask();
      for (const s of newcomers()) {
        hashAsked.add(s);
        if (seq !== null) opts.send(s, { type: 'hashRequest', site, seq });
      }
      if (opts.now() < askedAt + patience) return;
      // No chunk in time, or nobody to ask yet: the next provider.
      if (!payload) return ask();
      // The state is here but not enough holders vouched for it yet (lost answers, or the
      // provider was ahead of the others): ask again.
      askedAt = opts.now();
      askHashes();
      askPreferredAgain(opts.servers());
    },
  };
}
