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
import { ADMIN_ID, parsePeerMessage, type PeerMessage, type UpdateMessage } from './messages.js';
import { updateHash, verifyMembership } from './signed.js';

/** Updates this far ahead of the last accepted one are not buffered (flood guard). */
const MAX_AHEAD = 512;

export function createSiteUser(opts: SiteUserOptions): SiteUser {
  const cfg = opts.config;
  const site = cfg.site;
  const crypto = opts.crypto ?? ed25519Scheme;
  const observe = (e: CoreEvent): void => opts.observe?.(e);

  let servers: string[] = [...opts.servers];
  let serverSet = new Set(servers);
  let epoch = 0;
  let lastSeq = opts.seq;
  let lastHash = opts.hash;
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
    if (seq <= lastSeq || seq > lastSeq + MAX_AHEAD) return;
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
    if (votes.size > 0 && waitingSince === null) waitingSince = opts.now();
  }

  function acceptReady(): void {
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
      if (waitingSince !== null) min = Math.max(waitingSince, lastAskAt) + reask;
      if (cfg.T_resend > 0) for (const p of pending.values()) min = Math.min(min, p.sentAt + cfg.T_resend);
      return Number.isFinite(min) ? min : null;
    },
    tick() {
      const now = opts.now();
      for (const s of [...votes.keys()]) if (s <= lastSeq) votes.delete(s);
      if (votes.size === 0) waitingSince = null;
      if (waitingSince !== null && now - Math.max(waitingSince, lastAskAt) >= reask) {
        // Votes for update lastSeq + 1 went missing: ask every server for it in full.
        lastAskAt = now;
        for (const s of servers) opts.send(s, { type: 'updateRequest', site, seq: lastSeq + 1 });
      }
      if (cfg.T_resend <= 0) return;
      for (const [no, p] of pending) {
        if (now - p.sentAt >= cfg.T_resend) {
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
