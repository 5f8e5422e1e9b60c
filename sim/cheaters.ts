/**
 * Scripted cheaters. A cheater is an honest Site Server (the real core) whose outgoing messages
 * are rewritten on their way to the network, re-signed with the server's own key, so what its
 * peers receive is a validly signed lie. Kinds:
 *
 * - tamper:     updates sent to users carry forged events (and the matching hash); hash-only
 *               updates carry a forged hash.
 * - shift:      reported arrival times moved by Δ (clamped into the Timeslot's own window, so the
 *               lie stays well-formed).
 * - invent:     Timeslots report actions users never sent (the user's next number, or far ahead).
 * - withhold:   Timeslots to a subset of peers are never sent (nor given in TRM replies).
 * - equivocate: two different signed Timeslots with the same seq, one to each half of the peers.
 * - stale:      Timeslots keep coming, on time and honest, but echo frozen heads (the latest
 *               Timeslots of the others it claims to hold stop advancing after a while).
 * - collude:    a group acting in concert: identical forged updates, the same favoured user
 *               shifted earlier and others later, the same invented actions.
 *
 * The chain of a rewritten Timeslot stream stays consistent: `prevHash` and the sender's own head
 * point at the rewritten predecessors, per recipient view.
 */
import type {
  Membership,
  PeerMessage,
  SignatureScheme,
  SiteConfig,
  Timeslot,
  TimeslotEntry,
} from '../src/protocol/index.js';
import { hashOf } from '../src/protocol/crypto.js';
import {
  sendsFullUpdate,
  signTimeslot,
  timeslotHash,
  updateHash,
  type TimeslotBody,
} from '../src/protocol/signed.js';
import type { EventQueue } from './eventQueue.js';
import type { CheatKind } from './options.js';
import type { Rng } from './rng.js';

export type Emit = (to: string, msg: PeerMessage) => void;

export interface Cheater {
  readonly kinds: readonly string[];
  /** Called for every message the server sends; calls `emit` for what actually goes out (maybe later, maybe nothing). */
  outgoing(to: string, msg: PeerMessage, emit: Emit): void;
  /** Sees every message delivered to the server (before the core does). */
  incoming(from: string, msg: PeerMessage): void;
}

export interface CheaterContext {
  id: string;
  secretKey: string;
  crypto: SignatureScheme;
  config: SiteConfig;
  queue: EventQueue;
  rng: Rng;
  /** The server's membership record in force (for slots), if any. */
  membership: () => Membership | null;
  /** Other servers of the site. */
  peers: () => string[];
  /** Users of the site. */
  users: () => string[];
  /** Synced clock of the server. */
  now: () => number;
}

/** Shared state of a colluding group. */
export class CollusionGroup {
  readonly members: string[] = [];
  /** seq → forged update hash every member sends. */
  readonly forged = new Map<number, string>();
  private readonly waiters = new Map<number, Array<() => void>>();
  readonly favoured: string;
  readonly plan: InventionPlan;

  constructor(
    readonly rng: Rng,
    users: readonly string[],
  ) {
    this.favoured = users.length > 0 ? rng.pick(users) : 'nobody';
    this.plan = new InventionPlan(rng.fork('plan'));
  }

  setForged(seq: number, hash: string): string {
    const have = this.forged.get(seq);
    if (have !== undefined) return have;
    this.forged.set(seq, hash);
    const ws = this.waiters.get(seq) ?? [];
    this.waiters.delete(seq);
    for (const w of ws) w();
    return hash;
  }

  wait(seq: number, fn: () => void): void {
    const ws = this.waiters.get(seq) ?? [];
    ws.push(fn);
    this.waiters.set(seq, ws);
  }
}

/** Fake actions a cheater (or a colluding group, identically) reports. */
export class InventionPlan {
  private readonly made = new Map<string, TimeslotEntry[]>();
  private n = 0;
  constructor(private readonly rng: Rng) {}

  /**
   * Fake entries to add to a Timeslot covering (from, to] of synced time: about one per 150 ms.
   * The same window gives the same entries to every member of a group (windows are grid-aligned
   * by the caller so members agree).
   */
  entriesFor(
    window: number,
    from: number,
    to: number,
    users: readonly string[],
    nextNo: (user: string) => number,
  ): TimeslotEntry[] {
    const key = String(window);
    const have = this.made.get(key);
    if (have) return have;
    const out: TimeslotEntry[] = [];
    if (users.length > 0 && this.rng.chance(0.7)) {
      const user = this.rng.pick(users);
      const ahead = this.rng.chance(0.5);
      const actionNo = ahead ? 1_000_000 + ++this.n : nextNo(user);
      const arrival = Math.max(from + 1e-3, to - this.rng.range(0, Math.max(0, to - from)));
      out.push([user, actionNo, Math.min(arrival, to), hashOf(['invented', user, actionNo, this.n])]);
    }
    this.made.set(key, out);
    return out;
  }
}

const stripTimeslot = (m: PeerMessage & { type: 'timeslot' }): Timeslot => {
  const { type: _type, ...ts } = m;
  return ts;
};

/** Rewrites a server's own Timeslot stream per recipient view, keeping hash chains consistent. */
class ChainRewriter {
  private readonly views = new Map<string, Map<string, Timeslot>>();
  /** Latest Timeslot head received directly from each other server (what a cheater echoes). */
  readonly latest = new Map<string, [string, number, string]>();
  constructor(private readonly ctx: CheaterContext) {}

  rewrite(
    view: string,
    ts: Timeslot,
    f: (body: TimeslotBody, prev: Timeslot | undefined) => TimeslotBody,
  ): Timeslot {
    let m = this.views.get(view);
    if (!m) this.views.set(view, (m = new Map()));
    const origHash = timeslotHash(ts);
    const cached = m.get(origHash);
    if (cached) return cached;
    const { sig: _sig, ...orig } = ts;
    const prev = m.get(ts.prevHash);
    const self = this.ctx.id;
    let body: TimeslotBody = {
      ...orig,
      prevHash: prev ? timeslotHash(prev) : ts.prevHash,
      // Echo the freshest heads received: the cheater's own core may fall out of step with its
      // peers because of its lies, and a stale echo would stall everyone (a different attack).
      heads: ts.heads.map((h) => {
        if (h[0] === self) {
          const r = m.get(h[2]);
          return r ? [h[0], h[1], timeslotHash(r)] : h;
        }
        const fresh = this.latest.get(h[0]);
        return fresh && fresh[1] > h[1] ? fresh : h;
      }),
    };
    body = f(body, prev);
    const signed = signTimeslot(body, this.ctx.secretKey, this.ctx.crypto);
    m.set(origHash, signed);
    return signed;
  }
}

/** Builds the cheater for one server running the given kinds. */
export function createCheater(
  kinds: readonly CheatKind[],
  ctx: CheaterContext,
  opts: { delta?: number; group?: CollusionGroup } = {},
): Cheater {
  const rewriter = new ChainRewriter(ctx);
  const has = (k: CheatKind): boolean => kinds.includes(k);
  const group = opts.group;
  const colluding = has('collude') && group !== undefined;
  const delta = opts.delta ?? 50;
  const tamper = has('tamper') || colluding;
  const shift = has('shift') || colluding;
  const invent = has('invent') || colluding;
  const plan = colluding && group ? group.plan : new InventionPlan(ctx.rng.fork('plan'));
  const seenNo = new Map<string, number>();

  // withhold: a fixed non-empty subset of peers never gets our Timeslots.
  let withheldFrom: Set<string> | undefined;
  const withheld = (to: string): boolean => {
    if (!has('withhold')) return false;
    if (!withheldFrom) {
      const peers = ctx.rng.shuffle(ctx.peers());
      withheldFrom = new Set(peers.slice(0, 1 + ctx.rng.int(Math.max(1, peers.length))));
    }
    return withheldFrom.has(to);
  };
  // equivocate: the peers in half B see a different Timeslot for the same seq.
  let halfB: Set<string> | undefined;
  const viewOf = (to: string): string => {
    if (!has('equivocate')) return 'all';
    if (!halfB) {
      const peers = ctx.rng.shuffle(ctx.peers());
      halfB = new Set(peers.slice(0, Math.max(1, Math.floor(peers.length / 2))));
    }
    return halfB.has(to) ? 'B' : 'A';
  };

  // stale: heads frozen from a random moment in the first seconds on.
  let staleHeads: TimeslotBody['heads'] | undefined;
  const staleFrom = ctx.queue.now + 300 + ctx.rng.int(1500);
  const transform =
    (view: string) =>
    (body: TimeslotBody, prev: Timeslot | undefined): TimeslotBody => {
      let entries = body.entries;
      if (has('stale')) {
        if (staleHeads === undefined && ctx.queue.now >= staleFrom) staleHeads = body.heads;
        if (staleHeads !== undefined)
          body = { ...body, heads: staleHeads.filter((h) => body.heads.some((b) => b[0] === h[0])) };
      }
      for (const e of entries) seenNo.set(e[0], Math.max(seenNo.get(e[0]) ?? 0, e[1] < 1_000_000 ? e[1] : 0));
      const lo = prev ? prev.stamp : -Infinity;
      const hi = body.stamp;
      const clamp = (t: number): number => Math.min(hi, Math.max(t, Number.isFinite(lo) ? lo + 1e-3 : t));
      if (shift) {
        entries = entries.map((e): TimeslotEntry => {
          let d = delta;
          if (colluding && group) d = e[0] === group.favoured ? -Math.abs(delta) : Math.abs(delta);
          return [e[0], e[1], clamp(e[2] + d), e[3]];
        });
      }
      if (invent) {
        const T = ctx.config.T_timeslot;
        const window = Math.ceil(hi / T) * T;
        const fake = plan.entriesFor(
          window,
          Number.isFinite(lo) ? lo : hi - T,
          hi,
          ctx.users(),
          (u) => (seenNo.get(u) ?? 0) + 1,
        );
        entries = [
          ...entries,
          ...fake
            .filter((f) => !entries.some((e) => e[0] === f[0] && e[1] === f[1]))
            .map((f): TimeslotEntry => [f[0], f[1], clamp(f[2]), f[3]]),
        ];
      }
      if (view === 'B') {
        if (entries.length > 0) entries = entries.slice(0, -1);
        else
          return {
            ...body,
            entries,
            stamp: Number.isFinite(lo)
              ? Math.max(lo + 1e-3, body.stamp - Math.min(1, (body.stamp - lo) / 2))
              : body.stamp - 1,
          };
      }
      return { ...body, entries };
    };

  const rewriteOwn = (to: string, ts: Timeslot): Timeslot => {
    const view = viewOf(to);
    if (!shift && !invent && !has('stale') && view === 'all') return ts;
    return rewriter.rewrite(view, ts, transform(view));
  };

  const forgeFull = (msg: PeerMessage & { type: 'update' }): PeerMessage & { type: 'update' } => {
    const users = ctx.users();
    const victim = colluding && group ? group.favoured : (users[0] ?? 'nobody');
    const events = [...msg.events, { kind: 'said' as const, user: victim, text: 'forged' }];
    const { type: _t, hash: _h, ...rest } = msg;
    const body = { ...rest, events };
    return { ...body, type: 'update', hash: updateHash(body) };
  };
  const fallbackHash = (seq: number, hash: string): string => hashOf(['forged', seq, hash]);

  return {
    kinds,
    incoming(from, msg) {
      if (msg.type !== 'timeslot' || msg.server !== from) return;
      const have = rewriter.latest.get(from);
      if (!have || msg.seq > have[1])
        rewriter.latest.set(from, [from, msg.seq, timeslotHash(stripTimeslot(msg))]);
    },
    outgoing(to, msg, emit) {
      switch (msg.type) {
        case 'timeslot': {
          if (msg.server !== ctx.id) return emit(to, msg);
          if (withheld(to)) return;
          const ts = rewriteOwn(to, stripTimeslot(msg));
          return emit(to, { type: 'timeslot', ...ts });
        }
        case 'timeslotReply': {
          const timeslots = msg.timeslots
            .filter((t) => t.server !== ctx.id || !withheld(to))
            .map((t) => (t.server === ctx.id ? rewriteOwn(to, t) : t));
          return emit(to, { ...msg, timeslots });
        }
        case 'update': {
          if (!tamper) return emit(to, msg);
          const forged = forgeFull(msg);
          if (colluding && group) group.setForged(msg.seq, forged.hash);
          return emit(to, forged);
        }
        case 'updateHash': {
          if (!tamper) return emit(to, msg);
          if (!colluding || !group) return emit(to, { ...msg, hash: fallbackHash(msg.seq, msg.hash) });
          const known = group.forged.get(msg.seq);
          if (known !== undefined) return emit(to, { ...msg, hash: known });
          const members = ctx.membership()?.members ?? [];
          const fullPartner = members.some(
            (m) =>
              group.members.includes(m.id) &&
              m.slot !== null &&
              sendsFullUpdate(m.slot, msg.seq, ctx.config.N_server, ctx.config.N_majority),
          );
          if (!fullPartner) {
            const h = group.setForged(msg.seq, fallbackHash(msg.seq, msg.hash));
            return emit(to, { ...msg, hash: h });
          }
          // A partner sends the full forged update for this seq: send its hash once known.
          let sent = false;
          const send = (): void => {
            if (sent) return;
            sent = true;
            emit(to, {
              ...msg,
              hash: group.forged.get(msg.seq) ?? group.setForged(msg.seq, fallbackHash(msg.seq, msg.hash)),
            });
          };
          group.wait(msg.seq, send);
          ctx.queue.after(2 * ctx.config.T_timeslot, send);
          return;
        }
        default:
          return emit(to, msg);
      }
    },
  };
}
