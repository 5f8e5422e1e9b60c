/**
 * P2PSite (the admin's side of one P2P site) against real Site Servers on a MemNet: the site's
 * deps are fakes that record what it does, its `deliver` puts the coordinator's messages on the
 * net as the admin's, and what the servers send the admin goes to `receive`. The site's timer
 * runs on fake timers kept in step with the net's clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSite, newUser } from '../../src/game/rules.js';
import type { PlayerAction, UserState } from '../../src/game/types.js';
import { makeSiteConfig } from '../../src/protocol/config.js';
import { insecureFastScheme, ZERO_HASH } from '../../src/protocol/crypto.js';
import { ADMIN_ID, decodeTransfer, encodeTransfer, SYSTEM_ACTOR, type PeerMessage } from '../../src/protocol/messages.js';
import { createSiteServer } from '../../src/protocol/server.js';
import { updateHash } from '../../src/protocol/signed.js';
import type { SiteServer } from '../../src/protocol/api.js';
import { MemNet } from '../../src/protocol/testing.js';
import { P2PSite, type VerifiedSite } from './site.js';

const crypto = insecureFastScheme;
const ADMIN_SECRET = 'ad'.repeat(32);
const SERVERS = ['s0', 's1', 's2'];
const USERS = ['alice', 'bob', 'carol'];

interface Sent {
  at: number;
  from: string;
  to: string;
  msg: PeerMessage;
}

function harness(o: { latency?: (from: string, to: string, msg: PeerMessage) => number; lostAfterMs?: number } = {}) {
  const config = makeSiteConfig({ site: 'meadow', N_server: 3 });
  const net = new MemNet(o.latency ? { latency: o.latency } : {});
  const sent: Sent[] = [];
  net.rewrite = (from, to, msg) => {
    sent.push({ at: net.time, from, to, msg });
    return msg;
  };
  const secret = (id: string): string => (id.charCodeAt(1).toString(16).padStart(2, '0') + '5b').repeat(16);
  const servers = new Map<string, SiteServer>();
  for (const id of SERVERS) {
    const s = createSiteServer({ config, id, secretKey: secret(id), adminKey: crypto.publicKeyOf(ADMIN_SECRET), crypto, now: net.clock(id), send: net.sender(id) });
    servers.set(id, s);
    net.add(id, s);
  }
  const left: Array<{ user: string; via: string; seq: number; at: number }> = [];
  const closed: VerifiedSite[] = [];
  let closedAt: number | null = null;
  const verified: VerifiedSite[] = [];
  const minority: string[] = [];
  const serving = new Set<string>();
  const logs: Array<{ event: string; fields: Record<string, unknown> }> = [];
  /** Servers whose tabs are gone (not connected to the admin). */
  const down = new Set<string>();
  const toNet = net.sender(ADMIN_ID);
  const site = new P2PSite(
    {
      config,
      secretKey: ADMIN_SECRET,
      crypto,
      now: net.clock(ADMIN_ID),
      random: () => 0.5,
      log: {
        info: (event, fields) => void logs.push({ event, fields: fields ?? {} }),
        warn: (event, fields) => void logs.push({ event, fields: fields ?? {} }),
        error: (e, f) => { throw new Error(`${e} ${JSON.stringify(f)}`); },
      },
      deliver: (to, msg) => toNet(to, msg),
      startServing: (id) => (serving.add(id), true),
      stopServing: (id) => void serving.delete(id),
      connected: (id) => !down.has(id),
      candidates: () => [],
      onLeft: (user: UserState, via, seq) => left.push({ user: user.name, via, seq, at: net.time }),
      onVerified: (v) => verified.push(v),
      onClosed: (v) => {
        closed.push(v);
        closedAt = net.time;
      },
      onMinority: (id) => void minority.push(id),
      saveEveryMs: 1e9,
      ...(o.lostAfterMs !== undefined ? { lostAfterMs: o.lostAfterMs } : {}),
    },
    SERVERS.map((id) => ({ id, key: crypto.publicKeyOf(secret(id)) })),
    USERS,
  );
  net.add(ADMIN_ID, { receive: (from, msg) => site.receive(from, msg), tick: () => undefined, nextWakeAt: () => null });
  const snapshot = { ...createSite('meadow'), users: USERS.map((u) => newUser(u, 'meadow')) };
  const nextNo = new Map<string, number>();
  return {
    net,
    logs,
    down,
    /** Codes of the inputs the site or its coordinator refused. */
    refusals: (): string[] =>
      logs.flatMap((l) => (l.event === 'p2p.refused' || (l.event === 'p2p.coordinator' && l.fields.kind === 'rejected') ? [String(l.fields.code)] : [])),
    site,
    servers,
    sent,
    left,
    closed,
    closedAt: (): number | null => closedAt,
    verified,
    minority,
    serving,
    start(): Promise<void> {
      site.start({ snapshot, seq: 0, prev: ZERO_HASH, lastActionNo: USERS.map((u) => [u, 0]) });
      return this.run(400);
    },
    /** A user's action, numbered on (or `no`), to every server (as its tab would send it). */
    act(user: string, action: PlayerAction, no = (nextNo.get(user) ?? 0) + 1): void {
      nextNo.set(user, no);
      const send = net.sender(user);
      for (const s of SERVERS) send(s, { type: 'action', site: 'meadow', user, actionNo: no, action });
    },
    /** Runs the net and the site's timer together, `ms` of virtual time, 1 ms at a time. */
    async run(ms: number): Promise<void> {
      for (let i = 0; i < ms; i++) {
        net.run(1);
        await vi.advanceTimersByTimeAsync(1);
      }
    },
    /** Admin messages of one type, as they left. */
    fromAdmin(type: PeerMessage['type']): Sent[] {
      return sent.filter((m) => m.from === ADMIN_ID && m.msg.type === type);
    },
    /** The number of the system action the admin issued for `actor` (a user's leave, or the marker). */
    sysNo(actor: string): number {
      const m = sent.find((x) => x.from === ADMIN_ID && x.msg.type === 'sysAction' && x.msg.actor === actor);
      if (m?.msg.type !== 'sysAction') throw new Error(`no system action for ${actor}`);
      return m.msg.sysNo;
    },
    /** The seq of the update in which s0 applied (actor, no). */
    appliedIn(actor: string, no: number): number | undefined {
      return servers.get('s0')?.appliedLog().find((u) => u.applied.some((a) => a.user === actor && a.actionNo === no))?.seq;
    },
  };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('P2PSite hand-back', () => {
  it('orders the marker system action 3 T_timeslot after close(), and not before', async () => {
    const h = harness();
    await h.start();
    expect(h.serving).toEqual(new Set(SERVERS));
    const marker = (): Sent[] => h.fromAdmin('sysAction').filter((m) => m.msg.type === 'sysAction' && m.msg.actor === SYSTEM_ACTOR);
    h.site.close('test');
    const t0 = h.net.time;
    expect(h.site.phase).toBe('closing');
    await h.run(299);
    expect(marker()).toEqual([]);
    await h.run(1);
    expect(marker().map((m) => ({ at: m.at, to: m.to }))).toEqual(SERVERS.map((to) => ({ at: t0 + 300, to })));
    expect(marker()[0]?.msg).toMatchObject({ action: { kind: 'leave' } });
  });

  it('fetches again while the state it got does not contain the marker, and closes with the state at the cut', async () => {
    const h = harness();
    await h.start();
    h.act('alice', { kind: 'move', dir: 'right' });
    await h.run(400);
    h.site.close('test');
    await h.run(1500);
    expect(h.closed).toHaveLength(1);
    const markerSeq = h.appliedIn(SYSTEM_ACTOR, h.sysNo(SYSTEM_ACTOR))!;
    expect(markerSeq).toBeGreaterThan(0);
    // The states the provider sent before the marker was applied did not do: asked again.
    const answered = h.sent.filter((m) => m.to === ADMIN_ID && m.msg.type === 'stateChunk' && m.msg.index === 0).map((m) => (m.msg.type === 'stateChunk' ? m.msg.seq : -1));
    expect(answered.length).toBeGreaterThan(1);
    expect(answered.slice(0, -1).every((seq) => seq < markerSeq)).toBe(true);
    expect(h.fromAdmin('stateRequest').length).toBe(answered.length);
    const cut = h.closed[0]!;
    expect(cut.seq).toBe(answered.at(-1));
    expect(cut.seq).toBeGreaterThanOrEqual(markerSeq);
    expect(cut.snapshot).toEqual(h.servers.get('s1')?.snapshot());
    expect(h.site.phase).toBe('closed');
    expect(h.serving).toEqual(new Set());
  });

  it('gives onClosed the last action number applied per user, from the state\'s applied list', async () => {
    const h = harness();
    await h.start();
    for (let i = 0; i < 3; i++) h.act('alice', { kind: 'move', dir: 'right' });
    h.act('bob', { kind: 'pickup' });
    h.act('carol', { kind: 'pickup' }, 2); // past a gap: 1 never came
    await h.run(400);
    h.site.close('test');
    await h.run(1500);
    expect(h.closed).toHaveLength(1);
    // The marker (the admin's own system action) is no user's.
    expect(Object.fromEntries(h.closed[0]!.lastActionNo)).toEqual({ alice: 3, bob: 1, carol: 2 });
  });

  it('passes on departures applied up to the cut, only once the cut is known, and drops later ones', async () => {
    // State answers take long to reach the admin, so a departure applied after the cut can reach
    // it before the fetch of the cut's state completes.
    const h = harness({ latency: (_f, to, m) => (to === ADMIN_ID && m.type === 'stateChunk' ? 400 : 5) });
    await h.start();
    h.site.leave('alice'); // while running: passed on when applied
    await h.run(400);
    expect(h.left.map((l) => l.user)).toEqual(['alice']);
    h.site.close('test');
    h.site.leave('bob'); // before the marker: applied before the cut
    let carolAt: number | null = null;
    for (let i = 0; i < 3000 && h.closed.length === 0; i++) {
      await h.run(1);
      // Once the admin asks for a state that holds the marker, carol leaves: applied after the cut.
      if (carolAt === null && h.fromAdmin('stateRequest').length === 2) {
        carolAt = h.net.time;
        h.site.leave('carol');
      }
    }
    expect(h.closed).toHaveLength(1);
    const cut = h.closed[0]!.seq;
    const bobSeq = h.appliedIn(SYSTEM_ACTOR, h.sysNo('bob'))!;
    const carolSeq = h.appliedIn(SYSTEM_ACTOR, h.sysNo('carol'))!;
    expect(h.appliedIn(SYSTEM_ACTOR, h.sysNo(SYSTEM_ACTOR))).toBeLessThanOrEqual(cut);
    expect(bobSeq).toBeLessThanOrEqual(cut);
    expect(carolSeq).toBeGreaterThan(cut);
    // carol's departure reached the admin (its left update) before the site closed.
    expect(h.sent.some((m) => m.to === ADMIN_ID && (m.msg.type === 'update' || m.msg.type === 'updateHash') && m.msg.seq === carolSeq && m.at < h.net.time)).toBe(true);
    expect(h.left.map((l) => ({ user: l.user, seq: l.seq }))).toEqual([
      { user: 'alice', seq: h.appliedIn(SYSTEM_ACTOR, h.sysNo('alice')) },
      { user: 'bob', seq: bobSeq },
    ]);
    // bob's was held until the cut was known: it came with onClosed, not when the majority applied it.
    expect(h.left[1]?.at).toBe(h.closedAt());
    expect(h.sent.some((m) => m.to === ADMIN_ID && (m.msg.type === 'update' || m.msg.type === 'updateHash') && m.msg.seq === bobSeq && m.at < h.closedAt()! - 50)).toBe(true);
  });
});

describe('P2PSite: disagreement is evidence', () => {
  it('closes with the majority\'s state and names the server whose hash of it differed', async () => {
    const h = harness();
    await h.start();
    h.act('alice', { kind: 'move', dir: 'right' });
    await h.run(400);
    // s2 answers the admin's hash requests with another hash.
    const rewrite = h.net.rewrite;
    h.net.rewrite = (from, to, msg) => {
      const m = rewrite(from, to, msg);
      return m && from === 's2' && to === ADMIN_ID && m.type === 'updateHash' ? { ...m, hash: 'f'.repeat(32) } : m;
    };
    h.site.close('test');
    for (let i = 0; i < 40 && h.closed.length === 0; i++) await h.run(100);
    expect(h.closed).toHaveLength(1);
    expect(h.minority).toContain('s2');
    expect(h.minority.filter((x) => x !== 's2')).toEqual([]);
    expect(h.site.flags.get('s2')?.has('admin')).toBe(true);
  });
});

describe('P2PSite: replayed, forged and unasked messages are refused', () => {
  it('a departure update sent again is refused with ERR_REPLAYED and passed on once', async () => {
    const h = harness();
    await h.start();
    h.site.leave('alice');
    await h.run(400);
    expect(h.left.map((l) => l.user)).toEqual(['alice']);
    const full = h.sent.find((m) => m.to === ADMIN_ID && m.msg.type === 'update' && m.msg.events.some((e) => e.kind === 'left'));
    expect(full).toBeDefined();
    h.site.receive(full!.from, full!.msg);
    await h.run(50);
    expect(h.refusals()).toContain('ERR_REPLAYED');
    expect(h.left.map((l) => l.user)).toEqual(['alice']);
  });

  it('a departure one server forges is never passed on: a bad hash is ERR_BAD_HASH, a well-hashed one lacks a majority, and a user is no server', async () => {
    const h = harness();
    await h.start();
    h.site.leave('alice');
    await h.run(400);
    const honest = h.sent.find((m) => m.to === ADMIN_ID && m.msg.type === 'update' && m.msg.events.some((e) => e.kind === 'left'))!;
    if (honest.msg.type !== 'update') throw new Error('not an update');
    const bob = newUser('bob', 'meadow');
    const rich = { ...bob, inventory: [{ id: 'meadow-999', kind: 'gem' }] };
    const { type: _t, hash: _h, ...body } = honest.msg;
    const forgedBody = { ...body, seq: body.seq + 5, events: [{ kind: 'left' as const, user: rich, via: 'logout' as const }] };
    // Content that does not match its hash.
    h.site.receive('s2', { type: 'update', ...forgedBody, hash: honest.msg.hash });
    expect(h.refusals()).toContain('ERR_BAD_HASH');
    expect(h.site.flags.get('s2')?.has('admin')).toBe(true);
    // Consistent, but only s2 vouches for it.
    h.site.receive('s2', { type: 'update', ...forgedBody, hash: updateHash(forgedBody) });
    // The same from a user of the site.
    h.site.receive('carol', { type: 'update', ...forgedBody, hash: updateHash(forgedBody) });
    expect(h.refusals()).toContain('ERR_UNKNOWN_PEER');
    await h.run(1000);
    expect(h.left.map((l) => l.user)).toEqual(['alice']);
  });

  it('state chunks nobody asked for are refused with ERR_STALE; a forged state is ERR_BAD_HASH and the majority\'s state is taken from another server', async () => {
    const h = harness();
    await h.start();
    h.act('alice', { kind: 'move', dir: 'right' });
    await h.run(400);
    h.site.receive('s1', { type: 'stateChunk', site: 'meadow', seq: 1, hash: ZERO_HASH, index: 0, count: 1, data: new Uint8Array([1, 2, 3]) });
    expect(h.refusals()).toEqual(['ERR_STALE']);
    // The first server asked (s0) sends a state that is not the one its update commits to.
    const rewrite = h.net.rewrite;
    h.net.rewrite = (from, to, msg) => {
      const m = rewrite(from, to, msg);
      if (m?.type !== 'stateChunk' || from !== 's0') return m;
      if (m.count !== 1) throw new Error('a one-chunk state expected');
      const p = decodeTransfer(m.data);
      if (!p.ok) throw new Error(p.message);
      const [first, ...rest] = p.value.state.snapshot.users;
      const users = first ? [{ ...first, inventory: [...first.inventory, { id: 'meadow-999', kind: 'gem' }] }, ...rest] : rest;
      const data = new Uint8Array(encodeTransfer({ ...p.value, state: { ...p.value.state, snapshot: { ...p.value.state.snapshot, users } } }));
      return { ...m, data };
    };
    h.site.close('test');
    for (let i = 0; i < 60 && h.closed.length === 0; i++) await h.run(100);
    expect(h.closed).toHaveLength(1);
    expect(h.logs.some((l) => l.event === 'p2p.bad_state' && l.fields.server === 's0' && l.fields.code === 'ERR_BAD_HASH')).toBe(true);
    expect(h.minority).toContain('s0');
    expect(h.site.flags.get('s0')?.has('admin')).toBe(true);
    // What was stored is what the honest servers hold.
    const s1 = h.servers.get('s1')!.snapshot()!;
    expect(h.closed[0]!.snapshot.users).toEqual(s1.users);
  });
});

describe('P2PSite: a site that loses its majority', () => {
  it('comes back from its hand-over state, without the users who left and with those who joined since, once no majority answers and most servers are gone', async () => {
    const h = harness({ lostAfterMs: 3000 });
    await h.start();
    h.site.leave('alice');
    await h.run(400);
    expect(h.left.map((l) => l.user)).toEqual(['alice']);
    const dave = { ...newUser('dave', 'meadow'), inventory: [{ id: 'forest-7', kind: 'mushroom' }] };
    h.site.join('dave', dave);
    await h.run(400);
    // Servers that do not answer but are connected are waited for (a loaded machine).
    h.net.drop = (from, to) => SERVERS.includes(from) || SERVERS.includes(to);
    h.site.close('test');
    await h.run(4000);
    expect(h.closed).toHaveLength(0);
    // One tab gone leaves a majority connected: still waiting.
    h.down.add('s0');
    await h.run(4000);
    expect(h.closed).toHaveLength(0);
    // Two gone: the majority is.
    h.down.add('s1');
    await h.run(1100);
    expect(h.closed).toHaveLength(1);
    const back = h.closed[0]!;
    expect(back.seq).toBe(0);
    expect(back.snapshot.users.map((u) => u.name)).toEqual(['bob', 'carol', 'dave']);
    expect(back.snapshot.users.find((u) => u.name === 'dave')).toEqual(dave);
    expect(h.logs.some((l) => l.event === 'p2p.lost')).toBe(true);
    expect(h.serving.size).toBe(0);
  });
});
