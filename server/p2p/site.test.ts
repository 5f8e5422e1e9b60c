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
import { ADMIN_ID, SYSTEM_ACTOR, type PeerMessage } from '../../src/protocol/messages.js';
import { createSiteServer } from '../../src/protocol/server.js';
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

function harness(o: { latency?: (from: string, to: string, msg: PeerMessage) => number } = {}) {
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
  const toNet = net.sender(ADMIN_ID);
  const site = new P2PSite(
    {
      config,
      secretKey: ADMIN_SECRET,
      crypto,
      now: net.clock(ADMIN_ID),
      random: () => 0.5,
      log: { info: () => undefined, warn: () => undefined, error: (e, f) => { throw new Error(`${e} ${JSON.stringify(f)}`); } },
      deliver: (to, msg) => toNet(to, msg),
      startServing: (id) => (serving.add(id), true),
      stopServing: (id) => void serving.delete(id),
      candidates: () => [],
      onLeft: (user: UserState, via, seq) => left.push({ user: user.name, via, seq, at: net.time }),
      onVerified: (v) => verified.push(v),
      onClosed: (v) => {
        closed.push(v);
        closedAt = net.time;
      },
      onMinority: (id) => void minority.push(id),
      saveEveryMs: 1e9,
    },
    SERVERS.map((id) => ({ id, key: crypto.publicKeyOf(secret(id)) })),
    USERS,
  );
  net.add(ADMIN_ID, { receive: (from, msg) => site.receive(from, msg), tick: () => undefined, nextWakeAt: () => null });
  const snapshot = { ...createSite('meadow'), users: USERS.map((u) => newUser(u, 'meadow')) };
  const nextNo = new Map<string, number>();
  return {
    net,
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
