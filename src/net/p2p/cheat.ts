/**
 * Cheat modes, for tests only: a cheater is an honest Site Server (the real core) whose outgoing
 * messages are rewritten on their way to the network and re-signed with the server's own key, so
 * what its peers receive is a validly signed lie. One implementation for the simulator
 * (sim/cheaters.ts), the bots (`--cheat`) and the tab (`?cheat=`); the admin must allow it
 * (`MMO_ALLOW_CHEAT_MODES=1`, welcome.p2p.cheatModes). Pure: no timers, no clock of its own;
 * delays (`after`), time and randomness are injected.
 *
 * - tamper:      updates to users carry forged events (a player teleported, an item handed over,
 *                a 'forged' line) and the matching hash; hash-only updates carry a forged hash.
 * - shift:       reported arrival times moved by Δ (clamped into the Timeslot's own window, so the
 *                lie stays well-formed).
 * - invent:      Timeslots report actions users never sent (the user's next number, or far ahead).
 * - withhold:    Timeslots to a subset of peers are never sent (nor given in TRM replies).
 * - equivocate:  two different signed Timeslots with the same seq, one to each half of the peers.
 * - forge-state: what the admin fetches is forged: a leaver's state in an update that carries its
 *                departure (an item added), and the site state a save or hand-back fetches
 *                (self-consistent: its hashes match the forged content, only the majority's differ).
 * - stale:       (simulator) Timeslots on time and honest, but echoing heads frozen after a while.
 * - collude:     a group acting in concert (one CollusionGroup object): identical forged updates,
 *                the same favoured user shifted earlier and the others later, the same invented
 *                actions.
 *
 * The chain of a rewritten Timeslot stream stays consistent: `prevHash` and the sender's own head
 * point at the rewritten predecessors, per recipient view.
 */
import type { GameEvent, SiteSnapshot } from '../../game/types.js';
import type { SiteServer } from '../../protocol/api.js';
import type { SiteConfig } from '../../protocol/config.js';
import { hashOf, type SignatureScheme } from '../../protocol/crypto.js';
import { ADMIN_ID, type Membership, type PeerMessage, type Timeslot, type TimeslotEntry } from '../../protocol/messages.js';
import { sendsFullUpdate, timeslotHash, type TimeslotBody } from '../../protocol/signed.js';
import { ChainRewriter, forgeDepartures, forgeStateChunks, stripTimeslot, withEvents, type UpdateMsg } from './cheatForge.js';
import { CollusionGroup, collusionGroupFor, InventionPlan, seededRng, type CheatRng } from './cheatGroup.js';

/** The modes a tab (`?cheat=`) or a bot (`--cheat`) may run. */
export const CHEAT_MODES = ['tamper', 'shift', 'invent', 'withhold', 'equivocate', 'forge-state', 'collude'] as const;
export type CheatMode = (typeof CHEAT_MODES)[number];
/** Every kind the rewriter knows (the simulator also has `stale`). */
export type CheatKind = CheatMode | 'stale';

/** The mode named by `raw`, or null for anything else (the caller says why it refuses). */
export function parseCheatMode(raw: string): CheatMode | null {
  return (CHEAT_MODES as readonly string[]).includes(raw) ? (raw as CheatMode) : null;
}

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
  rng: CheatRng;
  /** Runs `fn` once, `ms` from now (the host's timer, the simulator's queue). */
  after(ms: number, fn: () => void): void;
  /** The host's own time (ms), for when the stale freeze starts. */
  elapsed(): number;
  /** The server's membership record in force (for slots), if any. */
  membership: () => Membership | null;
  /** Other servers of the site. */
  peers: () => string[];
  /** Users of the site. */
  users: () => string[];
  /** Synced clock of the server. */
  now: () => number;
  /** The server's current snapshot, if any (tamper hands one of its items over). */
  snapshot?: () => SiteSnapshot | null;
}

export interface CheatOptions {
  /** shift: Δ in ms (default +50). */
  delta?: number;
  /** collude: the group this cheater acts with. */
  group?: CollusionGroup;
  /** withhold: from every other server (the hosts), not from a random subset (the simulator). */
  withholdFromAll?: boolean;
  /** collude: what the group does in concert (default all three). */
  concert?: ReadonlyArray<'tamper' | 'shift' | 'invent'>;
}

/** Builds the cheater for one server running the given kinds. */
export function createCheater(kinds: readonly CheatKind[], ctx: CheaterContext, opts: CheatOptions = {}): Cheater {
  const rewriter = new ChainRewriter(ctx);
  const has = (k: CheatKind): boolean => kinds.includes(k);
  const group = opts.group;
  const colluding = has('collude') && group !== undefined;
  const delta = opts.delta ?? 50;
  const concert = (k: 'tamper' | 'shift' | 'invent'): boolean => colluding && (opts.concert ?? ['tamper', 'shift', 'invent']).includes(k);
  const tamper = has('tamper') || concert('tamper');
  const shift = has('shift') || concert('shift');
  const invent = has('invent') || concert('invent');
  const forgeState = has('forge-state');
  const plan = colluding && group ? group.plan : new InventionPlan(ctx.rng.fork('plan'));
  const seenNo = new Map<string, number>();

  // withhold: a fixed non-empty subset of peers never gets our Timeslots (drawn once there are peers).
  let withheldFrom: Set<string> | undefined;
  const withheld = (to: string): boolean => {
    if (!has('withhold')) return false;
    if (!withheldFrom || withheldFrom.size === 0) {
      const peers = ctx.rng.shuffle(ctx.peers());
      withheldFrom = new Set(opts.withholdFromAll ? peers : peers.slice(0, 1 + ctx.rng.int(Math.max(1, peers.length))));
    }
    return withheldFrom.has(to);
  };
  // equivocate: the peers in half B see a different Timeslot for the same seq.
  let halfB: Set<string> | undefined;
  const viewOf = (to: string): string => {
    if (!has('equivocate')) return 'all';
    if (!halfB || halfB.size === 0) {
      const peers = ctx.rng.shuffle(ctx.peers());
      halfB = new Set(peers.slice(0, Math.max(1, Math.floor(peers.length / 2))));
    }
    return halfB.has(to) ? 'B' : 'A';
  };

  // stale: heads frozen from a random moment in the first seconds on.
  let staleHeads: TimeslotBody['heads'] | undefined;
  const staleFrom = ctx.elapsed() + 300 + ctx.rng.int(1500);
  const transform =
    (view: string) =>
    (body: TimeslotBody, prev: Timeslot | undefined): TimeslotBody => {
      let entries = body.entries;
      if (has('stale')) {
        if (staleHeads === undefined && ctx.elapsed() >= staleFrom) staleHeads = body.heads;
        if (staleHeads !== undefined) body = { ...body, heads: staleHeads.filter((h) => body.heads.some((b) => b[0] === h[0])) };
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
        const fake = plan.entriesFor(window, Number.isFinite(lo) ? lo : hi - T, hi, ctx.users(), (u) => (seenNo.get(u) ?? 0) + 1);
        entries = [
          ...entries,
          ...fake.filter((f) => !entries.some((e) => e[0] === f[0] && e[1] === f[1])).map((f): TimeslotEntry => [f[0], f[1], clamp(f[2]), f[3]]),
        ];
      }
      if (view === 'B') {
        if (entries.length > 0) entries = entries.slice(0, -1);
        else
          return {
            ...body,
            entries,
            stamp: Number.isFinite(lo) ? Math.max(lo + 1e-3, body.stamp - Math.min(1, (body.stamp - lo) / 2)) : body.stamp - 1,
          };
      }
      return { ...body, entries };
    };

  const rewriteOwn = (to: string, ts: Timeslot): Timeslot => {
    const view = viewOf(to);
    if (!shift && !invent && !has('stale') && view === 'all') return ts;
    return rewriter.rewrite(view, ts, transform(view));
  };

  const forgeFull = (msg: UpdateMsg): UpdateMsg => {
    const users = ctx.users();
    const victim = colluding && group ? group.favoured : (users[0] ?? 'nobody');
    const item = ctx.snapshot?.()?.site.items[0];
    const events: GameEvent[] = [
      ...msg.events,
      { kind: 'moved', user: victim, x: 1, y: 1 },
      ...(item ? [{ kind: 'picked' as const, user: victim, item }] : []),
      { kind: 'said', user: victim, text: 'forged' },
    ];
    return withEvents(msg, events);
  };
  const fallbackHash = (seq: number, hash: string): string => hashOf(['forged', seq, hash]);

  // forge-state: the hash the admin is told for a seq whose state or departures were forged.
  const forgedForAdmin = new Map<number, string>();
  const stateChunks: Array<PeerMessage & { type: 'stateChunk' }> = [];
  const toAdmin = (msg: PeerMessage, emit: Emit): void => {
    if (msg.type === 'update' && msg.events.some((e) => e.kind === 'left')) {
      const forged = forgeDepartures(msg);
      forgedForAdmin.set(msg.seq, forged.hash);
      return emit(ADMIN_ID, forged);
    }
    if (msg.type === 'updateHash') return emit(ADMIN_ID, { ...msg, hash: forgedForAdmin.get(msg.seq) ?? fallbackHash(msg.seq, msg.hash) });
    if (msg.type === 'stateChunk') {
      // The core sends a state's chunks in one go: forge the series once it is whole.
      if (msg.index === 0) stateChunks.length = 0;
      stateChunks.push(msg);
      if (stateChunks.length < msg.count) return;
      const forged = forgeStateChunks(stateChunks.splice(0));
      const head = forged[0];
      if (head) forgedForAdmin.set(head.seq, head.hash);
      for (const c of forged) emit(ADMIN_ID, c);
      return;
    }
    emit(ADMIN_ID, msg);
  };

  return {
    kinds,
    incoming(from, msg) {
      if (msg.type !== 'timeslot' || msg.server !== from) return;
      const have = rewriter.latest.get(from);
      const stay = ctx.membership()?.stay;
      if (stay !== undefined && (!have || msg.seq > have[1])) rewriter.latest.set(from, [from, msg.seq, timeslotHash(stripTimeslot(msg), stay)]);
    },
    outgoing(to, msg, emit) {
      if (forgeState && to === ADMIN_ID) return toAdmin(msg, emit);
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
            (m) => group.members.includes(m.id) && m.slot !== null && sendsFullUpdate(m.slot, msg.seq, ctx.config.N_server, ctx.config.N_majority),
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
            emit(to, { ...msg, hash: group.forged.get(msg.seq) ?? group.setForged(msg.seq, fallbackHash(msg.seq, msg.hash)) });
          };
          group.wait(msg.seq, send);
          ctx.after(2 * ctx.config.T_timeslot, send);
          return;
        }
        default:
          return emit(to, msg);
      }
    },
  };
}

/** What a host (tab or bot) knows when it starts serving with a cheat mode. */
export interface HostCheatOptions {
  mode: CheatMode;
  serverId: string;
  secretKey: string;
  crypto: SignatureScheme;
  config: SiteConfig;
  /** The admin's key: colluders of one admin and site share a group, a later admin's run starts afresh. */
  adminKey: string;
  now(): number;
  elapsed(): number;
  after(ms: number, fn: () => void): void;
  /** The core the host drives (null before it is built). */
  core(): Pick<SiteServer, 'membership' | 'snapshot'> | null;
}

/** The cheater a host wraps its Site Server's sending with (seeded from site and server: reproducible). */
export function cheaterForHost(o: HostCheatOptions): Cheater {
  const site = o.config.site;
  const users = (): string[] => o.core()?.snapshot()?.users.map((u) => u.name) ?? [];
  const membership = (): Membership | null => o.core()?.membership() ?? null;
  const group = o.mode === 'collude' ? collusionGroupFor(`${site}:${o.adminKey}`, users) : undefined;
  if (group && !group.members.includes(o.serverId)) group.members.push(o.serverId);
  return createCheater(
    [o.mode],
    {
      id: o.serverId,
      secretKey: o.secretKey,
      crypto: o.crypto,
      config: o.config,
      rng: seededRng(`cheat:${site}:${o.serverId}`),
      after: o.after,
      elapsed: o.elapsed,
      membership,
      peers: () => (membership()?.members ?? []).filter((m) => m.slot !== null && m.id !== o.serverId).map((m) => m.id),
      users,
      now: o.now,
      snapshot: () => o.core()?.snapshot() ?? null,
    },
    // Withholding from some servers only is repaired by the others forwarding (TRM): the hosts
    // test the attack whose defence is ignoring and replacing. Colluders tamper in concert only:
    // a host whose own Timeslots are rewritten falls out of step with its peers (they echo heads
    // its core never signed) and stops producing the updates the group is to forge.
    { withholdFromAll: true, ...(group ? { group, concert: ['tamper'] as const } : {}) },
  );
}
