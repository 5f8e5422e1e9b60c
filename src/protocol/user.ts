/**
 * The user side of a P2P site (paper 4.3): numbers actions and sends each to every Site Server,
 * accepts update `seq` when N_majority servers agree (full copies and hashes; a full copy must
 * hash to the majority hash), applies strictly in order, resends what was not applied after a
 * change of servers (and after T_resend), and flags servers whose updates disagree.
 */
import type { PlayerAction } from '../game/types.js';
import { addVote, decide, dissenters, emptyVotes, type Votes } from './acceptance.js';
import type { AcceptedUpdate, CoreEvent, SiteUser, SiteUserOptions } from './api.js';
import { ed25519Scheme } from './crypto.js';
import { hashOf } from './crypto.js';
import {
  ADMIN_ID,
  decodeTransfer,
  parsePeerMessage,
  type PeerMessage,
  type PeerOf,
  type TransferPayload,
  type UpdateMessage,
} from './messages.js';
import { updateHash, verifyMembership } from './signed.js';

/** Updates this far ahead of the last accepted one are not buffered (flood guard). */
const MAX_AHEAD = 512;
/** Missed updates asked for at once. */
const MAX_REQUEST = 32;
// Deadlines are compared as `now >= start + delay`, the same sum nextWakeAt() returns: `now - start
// >= delay` can be false at exactly that time by float rounding, and the host would spin.

/** Re-asking rounds without progress before a user takes the whole state again. */
const REENTER_AFTER = 10;

interface Entering {
  provider: string | null;
  tried: Set<string>;
  askedAt: number;
  seq: number | null;
  hash: string | null;
  chunks: Array<Uint8Array | undefined>;
  payload: TransferPayload | null;
  /** server -> its hash for the transferred seq. */
  hashes: Map<string, string>;
}

export function createSiteUser(opts: SiteUserOptions): SiteUser {
  const cfg = opts.config;
  const site = cfg.site;
  const crypto = opts.crypto ?? ed25519Scheme;
  const observe = (e: CoreEvent): void => opts.observe?.(e);

  let servers: string[] = [...opts.servers];
  let serverSet = new Set(servers);
  let epoch = 0;
  let lastSeq = opts.seq ?? 0;
  let lastHash = opts.hash ?? '';
  /** Entering a running site: the state transfer in progress (null once in). */
  let entering: Entering | null =
    opts.seq === null || opts.hash === null
      ? { provider: null, tried: new Set(), askedAt: -Infinity, seq: null, hash: null, chunks: [], payload: null, hashes: new Map() }
      : null;
  let nextNo = Math.max(1, opts.nextActionNo);
  const pending = new Map<number, { action: PlayerAction; sentAt: number }>();
  const votes = new Map<number, Votes>();
  const accepted: AcceptedUpdate[] = [];
  const flagged: Array<{ server: string; seq: number; reason: string }> = [];
  const lastFlagReport = new Map<string, number>();
  /** Since when votes for later updates wait on a seq we cannot accept yet (lost messages). */
  let waitingSince: number | null = null;
  let lastAskAt = -Infinity;
  /** Votes for later seqs but none enough for the next one this long: ask for it in full. */
  const reask = 2 * cfg.T_timeslot;

  function send(actionNo: number, action: PlayerAction, to: readonly string[]): void {
    for (const s of to) opts.send(s, { type: 'action', site, user: opts.user, actionNo, action });
  }

  function flag(server: string, seq: number, reason: string): void {
    flagged.push({ server, seq, reason });
    if (flagged.length > 1000) flagged.shift();
    observe({ kind: 'flagged', server, seq, reason });
    const last = lastFlagReport.get(server);
    if (last === undefined || seq - last >= 100) {
      lastFlagReport.set(server, seq);
      opts.send(ADMIN_ID, { type: 'flagReport', site, server, seq, reason });
    }
  }

  function onVote(from: string, seq: number, hash: string, full: UpdateMessage | null): void {
    if (entering) {
      // Updates reach us once the site lists us: time to ask for the state. Keep the votes.
      if (entering.provider === null) askState();
      if (entering.seq !== null && seq === entering.seq && serverSet.has(from)) {
        entering.hashes.set(from, hash);
        tryEnter();
      }
      if (entering && (seq <= (entering.seq ?? 0) || votes.size > MAX_AHEAD)) return;
    } else if (seq <= lastSeq || seq > lastSeq + MAX_AHEAD) return;
    if (full) {
      const { type: _t, hash: claimed, ...body } = full;
      void _t;
      if (updateHash(body) !== claimed) {
        flag(from, seq, 'update content does not match its hash');
        return;
      }
    }
    let v = votes.get(seq);
    if (!v) votes.set(seq, (v = emptyVotes()));
    const r = addVote(v, from, hash, full, serverSet);
    if (r === 'changed') flag(from, seq, 'sent two different updates for one seq');
    acceptReady();
    if (!entering && votes.size > 0 && waitingSince === null) waitingSince = opts.now();
  }

  function askState(): void {
    if (!entering) return;
    const pool = servers.filter((s) => !entering?.tried.has(s));
    if (pool.length === 0) entering.tried.clear();
    const p = (pool.length > 0 ? pool : servers)[0];
    entering.askedAt = opts.now();
    if (p === undefined) return;
    entering.tried.add(p);
    entering.provider = p;
    entering.askedAt = opts.now();
    entering.seq = null;
    entering.hash = null;
    entering.chunks = [];
    entering.payload = null;
    entering.hashes.clear();
    opts.send(p, { type: 'stateRequest', site, seq: null });
  }

  function onChunk(from: string, msg: PeerOf<'stateChunk'>): void {
    const e = entering;
    if (!e || from !== e.provider || e.payload) return;
    if (e.seq === null) {
      e.seq = msg.seq;
      e.hash = msg.hash;
      e.chunks = new Array<Uint8Array | undefined>(msg.count);
      for (const s of servers) opts.send(s, { type: 'hashRequest', site, seq: msg.seq });
    }
    if (msg.seq !== e.seq || msg.hash !== e.hash || msg.count !== e.chunks.length || msg.index >= e.chunks.length) return;
    e.chunks[msg.index] = msg.data;
    if (e.chunks.some((c) => c === undefined)) return;
    const bytes = new Uint8Array(e.chunks.reduce((n, c) => n + (c?.byteLength ?? 0), 0));
    let off = 0;
    for (const c of e.chunks) {
      if (c) bytes.set(c, off);
      off += c?.byteLength ?? 0;
    }
    const parsed = decodeTransfer(bytes);
    if (!parsed.ok) return askState();
    const { hash: claimed, ...body } = parsed.value.update;
    if (claimed !== e.hash || updateHash(body) !== claimed || hashOf(parsed.value.state) !== body.stateHash || body.site !== site) {
      flag(from, e.seq ?? 0, 'transferred state does not match its hash');
      return askState();
    }
    e.payload = parsed.value;
    tryEnter();
  }

  function tryEnter(): void {
    const e = entering;
    if (!e?.payload || e.hash === null) return;
    let n = 0;
    for (const [s, h] of e.hashes) if (serverSet.has(s) && h === e.hash) n++;
    if (n < cfg.N_majority) return;
    const p = e.payload;
    entering = null;
    lastSeq = p.update.seq;
    lastHash = p.update.hash;
    for (const s of [...votes.keys()]) if (s <= lastSeq) votes.delete(s);
    for (const [user, floor, nos] of p.state.applied) {
      if (user !== opts.user) continue;
      for (const no of [...pending.keys()]) if (no <= floor || nos.includes(no)) pending.delete(no);
    }
    observe({ kind: 'accepted', seq: lastSeq, hash: lastHash });
    opts.onEnter?.({ seq: lastSeq, hash: lastHash, snapshot: p.state.snapshot });
    acceptReady();
  }

  function acceptReady(): void {
    if (entering) return;
    for (;;) {
      const seq = lastSeq + 1;
      const v = votes.get(seq);
      if (!v) return;
      const u = decide(v, cfg.N_majority, serverSet);
      if (!u) return;
      if (u.prev !== lastHash) {
        // The majority continues another history than ours: we cannot apply it in order.
        observe({ kind: 'rejected', from: 'majority', msgType: 'update', code: 'ERR_BAD_HASH', reason: `update ${seq} does not follow ${lastHash}` });
        return;
      }
      for (const s of dissenters(v, u.hash)) flag(s, seq, 'update differs from the majority');
      votes.delete(seq);
      lastSeq = seq;
      lastHash = u.hash;
      for (const [user, no] of u.applied) if (user === opts.user) pending.delete(no);
      const a: AcceptedUpdate = {
        site,
        seq,
        hash: u.hash,
        applied: u.applied.map(([user, actionNo]) => ({ user, actionNo })),
        events: u.events,
      };
      accepted.push(a);
      waitingSince = votes.size > 0 ? opts.now() : null;
      observe({ kind: 'accepted', seq, hash: u.hash });
      opts.onAccept?.(a);
    }
  }

  function setServers(next: string[]): void {
    const changed = next.length !== servers.length || next.some((s, i) => s !== servers[i]);
    servers = [...next];
    serverSet = new Set(servers);
    if (!changed) return;
    const now = opts.now();
    for (const [no, p] of pending) {
      p.sentAt = now;
      send(no, p.action, servers);
    }
    acceptReady();
  }

  function handle(from: string, msg: PeerMessage): void {
    if ('site' in msg && msg.site !== site) {
      observe({ kind: 'rejected', from, msgType: msg.type, code: 'ERR_WRONG_SITE', reason: msg.site });
      return;
    }
    switch (msg.type) {
      case 'update':
        return onVote(from, msg.seq, msg.hash, msg);
      case 'updateHash':
        return onVote(from, msg.seq, msg.hash, null);
      case 'stateChunk':
        return onChunk(from, msg);
      case 'membership': {
        if (from !== ADMIN_ID || msg.epoch <= epoch) return;
        if (opts.adminKey && !verifyMembership(msg, opts.adminKey, crypto)) {
          observe({ kind: 'rejected', from, msgType: msg.type, code: 'ERR_BAD_SIGNATURE', reason: 'membership' });
          return;
        }
        epoch = msg.epoch;
        const next = msg.members
          .filter((m) => m.slot !== null)
          .sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0))
          .map((m) => m.id);
        return setServers(next);
      }
      default:
        return;
    }
  }

  return {
    user: opts.user,
    act(action) {
      const no = nextNo++;
      pending.set(no, { action, sentAt: opts.now() });
      send(no, action, servers);
      return no;
    },
    receive(from, raw) {
      try {
        const parsed = parsePeerMessage(raw);
        if (!parsed.ok) {
          observe({ kind: 'rejected', from, msgType: '?', code: parsed.code, reason: parsed.message });
          return;
        }
        handle(from, parsed.value);
      } catch (e) {
        observe({ kind: 'rejected', from, msgType: '?', code: 'ERR_INTERNAL', reason: e instanceof Error ? e.message : String(e) });
      }
    },
    nextWakeAt() {
      let min = Infinity;
      if (entering && entering.provider !== null) min = entering.askedAt + 4 * cfg.T_timeout;
      if (waitingSince !== null && !entering) min = Math.min(min, Math.max(waitingSince, lastAskAt) + reask);
      if (cfg.T_resend > 0) for (const p of pending.values()) min = Math.min(min, p.sentAt + cfg.T_resend);
      return Number.isFinite(min) ? min : null;
    },
    tick() {
      const now = opts.now();
      if (entering && entering.provider !== null && !entering.payload && now >= entering.askedAt + 4 * cfg.T_timeout) askState();
      if (entering && entering.payload && now >= entering.askedAt + 4 * cfg.T_timeout) {
        entering.askedAt = now;
        for (const s of servers) opts.send(s, { type: 'hashRequest', site, seq: entering.payload.update.seq });
      }
      for (const s of [...votes.keys()]) if (s <= lastSeq) votes.delete(s);
      if (votes.size === 0) waitingSince = null;
      if (!entering && waitingSince !== null && now >= waitingSince + REENTER_AFTER * reask) {
        // Too far behind for the servers' kept updates (or none answers): take the state anew.
        observe({ kind: 'resync', reason: 'user too far behind: entering again', seq: lastSeq });
        entering = { provider: null, tried: new Set(), askedAt: -Infinity, seq: null, hash: null, chunks: [], payload: null, hashes: new Map() };
        waitingSince = null;
        askState();
      } else if (!entering && waitingSince !== null && now >= Math.max(waitingSince, lastAskAt) + reask) {
        // Votes for updates after ours arrive, but not enough for the next one: some went missing
        // (a lossy link, a partition). Ask every server for all the missing ones in full.
        lastAskAt = now;
        const upTo = Math.min(Math.max(lastSeq + 1, ...[...votes.keys()].map((k) => k - 1)), lastSeq + MAX_REQUEST);
        for (let q = lastSeq + 1; q <= upTo; q++) {
          for (const s of servers) opts.send(s, { type: 'updateRequest', site, seq: q });
        }
      }
      if (cfg.T_resend <= 0) return;
      for (const [no, p] of pending) {
        if (now >= p.sentAt + cfg.T_resend) {
          p.sentAt = now;
          send(no, p.action, servers);
        }
      }
    },
    setServers,
    acceptedLog: () => accepted,
    flaggedServers: () => flagged,
    pendingActions: () => [...pending].map(([actionNo, p]) => ({ actionNo, action: p.action })),
    lastAccepted: () => ({ seq: lastSeq, hash: lastHash }),
  };
}
