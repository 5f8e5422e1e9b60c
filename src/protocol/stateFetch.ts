/**
 * Taking a P2P site's state from its servers without trusting any one of them: ask one server for
 * its ordering state as of its latest update (`stateRequest`), reassemble the chunks, check that
 * the state hashes to the update's `stateHash` and the update to its hash, then ask every server
 * for its hash of that seq (`hashRequest`) and accept once N_majority of them agree. A provider
 * that sends nothing or a bad state is replaced by the next one.
 *
 * Used by a user entering a running site (user.ts) and by the admin taking a site back or saving
 * it (server/p2p). Pure: time and sending are injected.
 */
import type { Send } from './api.js';
import type { SiteConfig } from './config.js';
import { hashOf } from './crypto.js';
import { decodeTransfer, type PeerOf, type TransferPayload } from './messages.js';
import { updateHash } from './signed.js';

export interface FetchedState {
  seq: number;
  hash: string;
  payload: TransferPayload;
  /** Every server's answer for `seq` so far: those that differ from `hash` are a minority. */
  hashes: ReadonlyMap<string, string>;
}

export interface StateFetchOptions {
  config: SiteConfig;
  now: () => number;
  send: Send;
  /** The site's current servers, in slot order. */
  servers: () => readonly string[];
  onDone: (state: FetchedState) => void;
  /** A provider sent a state that does not match its own hashes (flag it). */
  onBadProvider?: (server: string, seq: number) => void;
}

export interface StateFetch {
  /** Asks the first server not tried yet. */
  start(): void;
  /** Whether a provider has been asked (and no result accepted yet). */
  readonly asking: boolean;
  readonly done: boolean;
  /** The server asked for the state now (chunks from anyone else are not asked for). */
  readonly provider: string | null;
  /** The seq being fetched, once the provider named it. */
  readonly seq: number | null;
  onChunk(from: string, msg: PeerOf<'stateChunk'>): void;
  /** A server's hash for some seq (from `updateHash`, `update`, or its vote). */
  onHash(from: string, seq: number, hash: string): void;
  nextWakeAt(): number | null;
  tick(): void;
}

export function createStateFetch(opts: StateFetchOptions): StateFetch {
  const cfg = opts.config;
  const site = cfg.site;
  /** No answer (or no majority) this long: next provider / ask the hashes again. */
  const patience = 4 * cfg.T_timeout;
  const tried = new Set<string>();
  let provider: string | null = null;
  let askedAt = -Infinity;
  let seq: number | null = null;
  let hash: string | null = null;
  let chunks: Array<Uint8Array | undefined> = [];
  let payload: TransferPayload | null = null;
  const hashes = new Map<string, string>();
  let done = false;

  function ask(): void {
    const servers = opts.servers();
    let pool = servers.filter((s) => !tried.has(s));
    if (pool.length === 0) {
      tried.clear();
      pool = [...servers];
    }
    const p = pool[0];
    askedAt = opts.now();
    provider = p ?? null;
    seq = null;
    hash = null;
    chunks = [];
    payload = null;
    hashes.clear();
    if (p === undefined) return;
    tried.add(p);
    opts.send(p, { type: 'stateRequest', site, seq: null });
  }

  function askHashes(): void {
    if (seq === null) return;
    for (const s of opts.servers()) opts.send(s, { type: 'hashRequest', site, seq });
  }

  /** The provider's state is wrong: flag it and ask the next one. */
  function badProvider(): void {
    if (provider !== null) opts.onBadProvider?.(provider, seq ?? 0);
    ask();
  }

  function tryFinish(): void {
    if (done || hash === null || seq === null) return;
    const current = new Set(opts.servers());
    let n = 0;
    let against = 0;
    for (const [s, h] of hashes) {
      if (!current.has(s)) continue;
      if (h === hash) n++;
      else against++;
    }
    // So many servers give another hash for this seq that the provider's can never get a
    // majority (a state and update forged consistently): waiting would never end.
    if (against > current.size - cfg.N_majority) return badProvider();
    if (!payload || n < cfg.N_majority) return;
    done = true;
    opts.onDone({ seq, hash, payload, hashes: new Map(hashes) });
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
      if (from !== provider) {
        // A server asked before that answers late (a loaded machine) is as good as the one asked
        // now, until a first chunk came: moving on at every timeout, a state slower than our
        // patience never came in.
        if (seq !== null || !tried.has(from)) return;
        provider = from;
        askedAt = opts.now();
      }
      if (seq === null) {
        seq = msg.seq;
        hash = msg.hash;
        chunks = new Array<Uint8Array | undefined>(msg.count);
        askHashes();
      }
      if (msg.seq !== seq || msg.hash !== hash || msg.count !== chunks.length || msg.index >= chunks.length) return;
      chunks[msg.index] = msg.data;
      if (chunks.some((c) => c === undefined)) return;
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + (c?.byteLength ?? 0), 0));
      let off = 0;
      for (const c of chunks) {
        if (c) bytes.set(c, off);
        off += c?.byteLength ?? 0;
      }
      const parsed = decodeTransfer(bytes);
      if (!parsed.ok) return badProvider();
      const { hash: claimed, ...body } = parsed.value.update;
      if (claimed !== hash || updateHash(body) !== claimed || hashOf(parsed.value.state) !== body.stateHash || body.site !== site) {
        return badProvider();
      }
      payload = parsed.value;
      tryFinish();
    },
    onHash(from, s, h) {
      if (done || seq === null || s !== seq) return;
      hashes.set(from, h);
      tryFinish();
    },
    nextWakeAt() {
      return done || provider === null ? null : askedAt + patience;
    },
    tick() {
      if (done || provider === null || opts.now() < askedAt + patience) return;
      if (!payload) return ask();
      // The state is here but not enough servers vouched for it yet (lost answers, or the
      // provider was ahead of the others): ask again.
      askedAt = opts.now();
      askHashes();
    },
  };
}
