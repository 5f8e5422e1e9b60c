/**
 * The user side of a P2P site (paper 4.3): numbers actions and sends each to every Site Server,
 * accepts update `seq` when N_majority servers agree (full copies and hashes; a full copy must
 * hash to the majority hash), applies strictly in order, sends what was not applied to a server
 * new to the set and again after T_resend (backing off while nothing shows it lost), and flags
 * servers whose updates disagree.
 */
import type { PlayerAction } from '../game/types.js';
import type { AcceptedUpdate, CoreEvent, ServerView, SiteUser, SiteUserOptions } from './api.js';
import { ed25519Scheme } from './crypto.js';
import { ADMIN_ID, parsePeerMessage, type Evidence, type PeerMessage, type UpdateMessage } from './messages.js';
import { alreadyParsed } from './parsed.js';
import { verifyMembership } from './signed.js';
import { createStateFetch, type FetchedState, type StateFetch } from './stateFetch.js';
import { VoteTally, type TallyFlag } from './tally.js';

/** Updates this far ahead of the last accepted one are not buffered (flood guard). */
const MAX_AHEAD = 512;
/** Missed updates asked for at once. */
const MAX_REQUEST = 32;
/**
 * Full copies are kept only this far ahead of the last accepted update (hash votes up to
 * MAX_AHEAD): a server cannot make a user hold hundreds of large copies. A later copy that is
 * needed is asked for again (updateRequest) when its turn comes.
 */
const FULL_AHEAD = MAX_REQUEST;
// Deadlines are compared as `now >= start + delay`, the same sum nextWakeAt() returns: `now - start
// >= delay` can be false at exactly that time by float rounding, and the host would spin.

/** A server that disagreed within this many updates shows as 'disagreeing'. */
const DISAGREE_WINDOW = 50;
/** A server whose votes trail the accepted seq by more than this shows as 'late'. */
const LATE_BEHIND = 2;

/** Accepted seqs whose votes are kept, to compare a late vote with (and give evidence). */
const DECIDED_KEPT = 128;

/** Re-asking rounds without progress before a user takes the whole state again. */
const REENTER_AFTER = 10;

/**
 * An action not applied is sent again T_resend after it was sent, then 2, 4 and at most 8
 * T_resend apart, unless an accepted update shows it lost (`resendAt`). A stalled site applies
 * nothing: every pending action sent again to every server every T_resend (hundreds after a
 * stall of seconds) kept a loaded server's input queue seconds behind, which kept the site stalled
 * once it could go on (sim/FINDINGS.md 96).
 */
const RESEND_BACKOFF_MAX = 3;

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
  let entering: StateFetch | null = opts.seq === null || opts.hash === null ? newFetch() : null;
  /**
   * Entering: when to ask for the state if no update started the transfer. The update with our
   * join can be lost (sent down a channel of our previous session the servers still thought
   * open), and a quiet site sends no other: waiting for one would never end.
   */
  const enterPatience = 4 * cfg.T_timeout;
  let enterAskAt: number | null = entering ? opts.now() + enterPatience : null;
  /**
   * The fetch under way was started with no update to go by: its provider may not list us yet
   * (our join not applied there) and refuses in silence, so it would cost a whole patience.
   */
  let askedBlind = false;
  let nextNo = Math.max(1, opts.nextActionNo);
  /** The latest membership record's members, for serverStates(). */
  let record: Array<{ id: string; slot: number | null; cut: boolean }> | null = null;
  /** Highest seq each server voted for (lateness). */
  const lastVote = new Map<string, number>();
  /** Actions not applied yet: when each was last sent, and how often it was sent again. */
  const pending = new Map<number, { action: PlayerAction; sentAt: number; resends: number }>();
  /** The end of the last window an accepted update closed (synced time). */
  let lastWindow = -Infinity;
  const tally = new VoteTally({ nMajority: cfg.N_majority, maxOpen: MAX_AHEAD, decidedKept: DECIDED_KEPT });
  const accepted: AcceptedUpdate[] = [];
  const flagged: Array<{ server: string; seq: number; reason: string; evidence?: Evidence }> = [];
  const lastFlagReport = new Map<string, number>();
  /** Since when votes for later updates wait on a seq we cannot accept yet (lost messages). */
  let waitingSince: number | null = null;
  let lastAskAt = -Infinity;
  /** Votes for later seqs but none enough for the next one this long: ask for it in full. */
  const reask = 2 * cfg.T_timeslot;

  function send(actionNo: number, action: PlayerAction, to: readonly string[]): void {
    for (const s of to) opts.send(s, { type: 'action', site, user: opts.user, actionNo, action });
  }

  /**
   * When to send pending action `p` again. The servers closed the windows past its last send
   * (an accepted update's window ends T_resend / 2 after it: its arrival with room for latency and
   * clock error) and it was not in them: lost, sent again T_resend after that send. Otherwise the
   * site may be quiet (a lost action makes no update) or stalled (sending again changes nothing):
   * backed off.
   */
  function resendAt(p: { sentAt: number; resends: number }): number {
    const lost = lastWindow >= p.sentAt + cfg.T_resend / 2;
    return p.sentAt + cfg.T_resend * (lost ? 1 : 2 ** Math.min(p.resends, RESEND_BACKOFF_MAX));
  }

  function flag(f: TallyFlag): void {
    const { server, seq, kind: reason } = f;
    const ev = f.evidence ? { evidence: f.evidence } : {};
    flagged.push({ server, seq, reason, ...ev });
    if (flagged.length > 1000) flagged.shift();
    observe({ kind: 'flagged', server, seq, reason, by: opts.user, ...ev });
    const last = lastFlagReport.get(server);
    if (last === undefined || seq - last >= 100) {
      lastFlagReport.set(server, seq);
      opts.send(ADMIN_ID, { type: 'flagReport', site, server, seq, reason, ...ev });
    }
  }

  function onVote(from: string, seq: number, hash: string, full: UpdateMessage | null): void {
    if (entering) {
      // Updates reach us once the site lists us: time to ask for the state. Keep the votes.
      if (!entering.asking) entering.start();
      else if (askedBlind && entering.seq === null && serverSet.has(from)) {
        // Our first update: its server lists us now, the provider asked blind may not. Ask it.
        entering = newFetch(from);
        entering.start();
      }
      askedBlind = false;
      entering.onHash(from, seq, hash);
      if (entering && (seq <= (entering.seq ?? 0) || tally.openCount > MAX_AHEAD)) return;
    } else if (seq > lastSeq + MAX_AHEAD) return;
    if (!entering && seq <= lastSeq) {
      // A vote for an update accepted already (the majority's came first): compared with it as if
      // it had come in time. Updates before a state transfer were not ours to see.
      if (!serverSet.has(from) || tally.decidedHash(seq) === null) return;
    }
    if (serverSet.has(from)) lastVote.set(from, Math.max(lastVote.get(from) ?? 0, seq));
    const r = tally.vote(from, seq, hash, full, serverSet, keepsFull(seq));
    for (const f of r.flags) flag(f);
    if (r.outcome === 'bad-hash' || r.outcome === 'late') return;
    acceptReady();
    if (!entering && tally.openCount > 0 && waitingSince === null) waitingSince = opts.now();
  }

  /** Whether a full copy of update `seq` is kept (see FULL_AHEAD). */
  function keepsFull(seq: number): boolean {
    if (!entering) return seq <= lastSeq + FULL_AHEAD;
    // Entering: ahead of the state being fetched, or, before its seq is known, the first few seqs.
    const base = entering.seq;
    return base !== null ? seq <= base + FULL_AHEAD : tally.openCount <= FULL_AHEAD;
  }

  function newFetch(preferred?: string): StateFetch {
    return createStateFetch({
      ...(preferred !== undefined ? { preferred } : {}),
      config: cfg,
      now: opts.now,
      send: opts.send,
      servers: () => servers,
      onDone: entered,
      onBadProvider: (server, seq) => flag({ server, seq, kind: 'bad-state' }),
      // Votes that came before the provider named its seq (kept in the tally) vouch for it too.
      known: (server, seq) => tally.hashBy(server, seq),
    });
  }

  function entered(r: FetchedState): void {
    entering = null;
    enterAskAt = null;
    lastSeq = r.seq;
    lastHash = r.hash;
    // Votes are owed from here on: the updates before were not ours to see.
    for (const id of servers) lastVote.set(id, Math.max(lastVote.get(id) ?? 0, r.seq));
    tally.dropOpenUpTo(lastSeq);
    for (const [user, floor, nos] of r.payload.state.applied) {
      if (user !== opts.user) continue;
      for (const no of [...pending.keys()]) if (no <= floor || nos.includes(no)) pending.delete(no);
      // A counter from an earlier stint may be stale (a reload, a login elsewhere): numbers the
      // servers applied for us count as duplicates, so continue above them.
      nextNo = Math.max(nextNo, floor + 1, ...nos.map((n) => n + 1));
    }
    observe({ kind: 'accepted', seq: lastSeq, hash: lastHash });
    opts.onEnter?.({ seq: lastSeq, hash: lastHash, snapshot: r.payload.state.snapshot });
    acceptReady();
  }

  function acceptReady(): void {
    if (entering) return;
    for (;;) {
      const seq = lastSeq + 1;
      const u = tally.ready(seq, serverSet);
      if (!u) return;
      if (u.prev !== lastHash) {
        // The majority continues another history than ours: we cannot apply it in order.
        observe({ kind: 'rejected', from: 'majority', msgType: 'update', code: 'ERR_BAD_HASH', reason: `update ${seq} does not follow ${lastHash}` });
        return;
      }
      for (const f of tally.accept(seq, u)) flag(f);
      lastSeq = seq;
      lastHash = u.hash;
      lastWindow = Math.max(lastWindow, u.window);
      for (const [user, no] of u.applied) if (user === opts.user) pending.delete(no);
      const a: AcceptedUpdate = {
        site,
        seq,
        hash: u.hash,
        applied: u.applied.map(([user, actionNo]) => ({ user, actionNo })),
        events: u.events,
      };
      accepted.push(a);
      waitingSince = tally.openCount > 0 ? opts.now() : null;
      observe({ kind: 'accepted', seq, hash: u.hash });
      opts.onAccept?.(a);
    }
  }

  function setServers(next: string[]): void {
    // A server new to the set owes votes only for updates after this one.
    for (const id of next) if (!serverSet.has(id) && !lastVote.has(id)) lastVote.set(id, lastSeq);
    const added = next.filter((id) => !serverSet.has(id));
    servers = [...next];
    serverSet = new Set(servers);
    if (added.length === 0) return;
    // A server new to the set gets every action not applied; the others have them (they went to
    // every server, again on the resend schedule), so sending them all again to every server only
    // filled a loaded one's input queue (sim/FINDINGS.md 96). The schedule starts again from here:
    // a newcomer still syncing notes no arrival, and needs a copy once it counts (FINDINGS 17).
    const now = opts.now();
    for (const [no, p] of pending) {
      p.sentAt = now;
      p.resends = 0;
      send(no, p.action, added);
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
        return entering?.onChunk(from, msg);
      case 'membership': {
        if (from !== ADMIN_ID || msg.epoch <= epoch) return;
        if (opts.adminKey && !verifyMembership(msg, opts.adminKey, crypto)) {
          observe({ kind: 'rejected', from, msgType: msg.type, code: 'ERR_BAD_SIGNATURE', reason: 'membership' });
          return;
        }
        epoch = msg.epoch;
        record = msg.members.map((m) => ({ id: m.id, slot: m.slot, cut: (m.stints[m.stints.length - 1]?.cut ?? null) !== null }));
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
      pending.set(no, { action, sentAt: opts.now(), resends: 0 });
      send(no, action, servers);
      return no;
    },
    receive(from, raw) {
      try {
        const parsed = alreadyParsed(raw) ?? parsePeerMessage(raw);
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
      const enterAt = entering?.nextWakeAt() ?? null;
      if (enterAt !== null) min = enterAt;
      if (entering && !entering.asking && enterAskAt !== null) min = Math.min(min, enterAskAt);
      if (waitingSince !== null && !entering) min = Math.min(min, Math.max(waitingSince, lastAskAt) + reask);
      if (cfg.T_resend > 0) for (const p of pending.values()) min = Math.min(min, resendAt(p));
      return Number.isFinite(min) ? min : null;
    },
    tick() {
      const now = opts.now();
      if (entering && !entering.asking && enterAskAt !== null && now >= enterAskAt) {
        observe({ kind: 'resync', reason: 'entering: no update came, asking for the state', seq: lastSeq });
        enterAskAt = now + enterPatience;
        askedBlind = true;
        entering.start();
      }
      entering?.tick();
      tally.dropOpenUpTo(lastSeq);
      if (tally.openCount === 0) waitingSince = null;
      if (!entering && waitingSince !== null && now >= waitingSince + REENTER_AFTER * reask) {
        // Too far behind for the servers' kept updates (or none answers): take the state anew.
        observe({ kind: 'resync', reason: 'user too far behind: entering again', seq: lastSeq });
        entering = newFetch();
        waitingSince = null;
        entering.start();
      } else if (!entering && waitingSince !== null && now >= Math.max(waitingSince, lastAskAt) + reask) {
        // Votes for updates after ours arrive, but not enough for the next one: some went missing
        // (a lossy link, a partition). Ask every server for all the missing ones in full.
        lastAskAt = now;
        const upTo = Math.min(Math.max(lastSeq + 1, ...tally.openSeqs().map((k) => k - 1)), lastSeq + MAX_REQUEST);
        for (let q = lastSeq + 1; q <= upTo; q++) {
          for (const s of servers) opts.send(s, { type: 'updateRequest', site, seq: q });
        }
      }
      if (cfg.T_resend <= 0) return;
      for (const [no, p] of pending) {
        if (now >= resendAt(p)) {
          p.sentAt = now;
          p.resends++;
          send(no, p.action, servers);
        }
      }
    },
    setServers,
    acceptedLog: () => accepted,
    flaggedServers: () => flagged,
    serverStates() {
      const out: Array<{ id: string; state: ServerView }> = [];
      const cut = new Set((record ?? []).filter((m) => m.slot !== null && m.cut).map((m) => m.id));
      for (const id of servers) {
        let state: ServerView = 'in-step';
        if (cut.has(id)) state = 'ignored';
        else if (flagged.some((f) => f.server === id && f.seq > lastSeq - DISAGREE_WINDOW)) state = 'disagreeing';
        else if (lastSeq > 0 && (lastVote.get(id) ?? 0) < lastSeq - LATE_BEHIND) state = 'late';
        out.push({ id, state });
      }
      for (const m of record ?? []) if (m.slot === null) out.push({ id: m.id, state: 'replaced' });
      return out;
    },
    pendingActions: () => [...pending].map(([actionNo, p]) => ({ actionNo, action: p.action })),
    lastAccepted: () => ({ seq: lastSeq, hash: lastHash }),
  };
}
