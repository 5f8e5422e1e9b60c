/** P2PSite (the admin's side of one P2P site) against real Site Servers on a MemNet (siteHarness.ts). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newUser } from '../../src/game/rules.js';
import { ZERO_HASH } from '../../src/protocol/crypto.js';
import { ADMIN_ID, decodeTransfer, encodeTransfer, SYSTEM_ACTOR } from '../../src/protocol/messages.js';
import { updateHash } from '../../src/protocol/signed.js';
import { harness, SERVERS, type Sent } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('P2PSite transfer', () => {
  it('writes its record only after the hand-over went to its servers (sim/FINDINGS.md 54)', async () => {
    // A kill -9 between the record and the servers' messages left a record naming servers that
    // were never told to serve: the next process resumed a site nobody ran.
    const h = harness();
    const started = h.start();
    expect(h.records).toEqual([]);
    expect(h.serving).toEqual(new Set());
    await started;
    expect(h.records.length).toBeGreaterThan(0);
    expect(h.records[0]?.coordinator).toBeDefined();
    expect(h.serving).toEqual(new Set(SERVERS));
  });
});

describe('P2PSite hand-back', () => {
  it('orders the marker system action 3 T_timeslot after close(), and not before', async () => {
    const h = harness();
    await h.start();
    expect(h.serving).toEqual(new Set(SERVERS));
    const marker = (): Sent[] => h.fromAdmin('sysAction').filter((m) => m.msg.type === 'sysAction' && m.msg.actor === SYSTEM_ACTOR);
    h.site.close('test');
    const t0 = h.net.time;
    expect(h.site.state).toBe('handing-back');
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
    expect(h.site.state).toBe('client-server');
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

describe('P2PSite lifecycle (lifecycle.ts) as the site lives it', () => {
  const events = (h: ReturnType<typeof harness>): string[] => h.site.history.map((t) => t.event);

  it('is transferring until a majority-verified state past the hand-over, then p2p, handing-back, and client-server at the cut', async () => {
    const h = harness({ saveEveryMs: 600 });
    expect(h.site.state).toBe('client-server');
    await h.start();
    h.act('alice', { kind: 'move', dir: 'right' });
    expect(h.site.state).toBe('transferring');
    await h.run(1200);
    expect(h.verified.length).toBeGreaterThan(0);
    expect(h.site.state).toBe('p2p');
    h.site.close('test');
    expect(h.site.state).toBe('handing-back');
    await h.run(1500);
    expect(h.closed).toHaveLength(1);
    expect(h.site.state).toBe('client-server');
    expect(events(h)).toEqual(['transfer', 'running', 'handBack', 'cut']);
    // Closing again is no transition (and no error).
    h.site.close('again');
    expect(events(h)).toHaveLength(4);
  });

  it('a site lost during its hand-back goes lost, then client-server from its fallback', async () => {
    const h = harness({ lostAfterMs: 1000 });
    await h.start();
    h.net.drop = (from, to) => SERVERS.includes(from) || SERVERS.includes(to);
    h.down.add('s0');
    h.down.add('s1');
    h.site.close('test');
    await h.run(2500);
    expect(h.closed).toHaveLength(1);
    expect(events(h)).toEqual(['transfer', 'handBack', 'lose', 'fellBack']);
    expect(h.site.state).toBe('client-server');
  });

  it('a hand-back whose marker is never applied is lost once most servers are gone, though they keep sending states (sim/FINDINGS.md 40)', async () => {
    const h = harness({ lostAfterMs: 1000 });
    await h.start();
    // The servers never get the marker, and two of three count as gone (as ignored ones do): every
    // state they send lacks it and is taken again; the lost rule's wait must not start over each time.
    h.act('alice', { kind: 'move', dir: 'right' });
    await h.run(400);
    h.net.drop = (_from, _to, msg) => msg.type === 'sysAction' && msg.actor === SYSTEM_ACTOR;
    h.down.add('s0');
    h.down.add('s1');
    h.site.close('test');
    await h.run(3000);
    expect(h.fromAdmin('stateRequest').length).toBeGreaterThan(2);
    expect(events(h)).toEqual(['transfer', 'handBack', 'lose', 'fellBack']);
    expect(h.site.state).toBe('client-server');
  });

  it('a suspended site stays suspended: nothing it still had due moves it', async () => {
    const h = harness();
    await h.start();
    h.site.close('test');
    await h.run(350);
    h.stop();
    expect(h.site.state).toBe('suspended');
    await h.run(2000);
    expect(h.closed).toEqual([]);
    expect(events(h)).toEqual(['transfer', 'handBack', 'suspend']);
  });

  it('a departure the majority accepted past the hand-over shows the site runs at its servers', async () => {
    const h = harness();
    await h.start();
    expect(h.site.state).toBe('transferring');
    h.site.leave('alice');
    await h.run(400);
    expect(h.left.map((l) => l.user)).toEqual(['alice']);
    expect(h.site.state).toBe('p2p');
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

describe('P2PSite: periodic saves', () => {
  it('one server cannot cancel them with the hand-over: not unasked, and not as the server asked', async () => {
    const h = harness({ saveEveryMs: 500 });
    await h.start();
    h.act('alice', { kind: 'move', dir: 'right' });
    await h.run(300);
    const moved = h.appliedIn('alice', 1)!;
    expect(moved).toBeGreaterThan(0);
    const init = h.fromAdmin('siteInit').find((m) => m.to === 's0')!.msg;
    // s0, asked first, answers "no update yet" (the hand-over) instead of its state ...
    const rewrite = h.net.rewrite;
    h.net.rewrite = (from, to, msg) => {
      const m = rewrite(from, to, msg);
      return m?.type === 'stateChunk' && from === 's0' && to === ADMIN_ID ? init : m;
    };
    // ... and s2 sends it unasked all the time.
    for (let i = 0; i < 300; i++) {
      h.site.receive('s2', init);
      await h.run(5);
    }
    expect(h.verified.length).toBeGreaterThan(0);
    expect(h.verified.at(-1)!.seq).toBeGreaterThanOrEqual(moved);
    expect(h.refusals()).toContain('ERR_STALE');
  });

  it('a majority saying no update since the hand-over ends a save with nothing stored', async () => {
    const h = harness({ saveEveryMs: 500 });
    await h.start();
    await h.run(1500);
    expect(h.verified).toEqual([]);
    expect(h.fromAdmin('stateRequest').length).toBeGreaterThan(0);
    // Nothing shows the servers run it yet.
    expect(h.site.state).toBe('transferring');
  });
});

describe('P2PSite: a site that loses its majority', () => {
  it('counts only servers known to hold the state: replacements that came after the majority went do not keep it waiting', async () => {
    let spare = 0;
    const h = harness({ lostAfterMs: 3000, candidates: () => [{ id: `spare${spare++}`, key: '00'.repeat(32) }] });
    await h.start();
    // s0 and s1 vanish at once; the admin gives their slots to fresh peers, which stay connected
    // but can never get the state (one server holds it).
    h.net.drop = (from, to) => ['s0', 's1'].includes(from) || ['s0', 's1'].includes(to);
    h.down.add('s0');
    h.down.add('s1');
    h.site.evict('s0', 'test');
    await h.run(200);
    h.site.evict('s1', 'test');
    await h.run(200);
    expect(h.site.servers().filter((id) => id.startsWith('spare'))).toHaveLength(2);
    h.site.close('test');
    for (let i = 0; i < 100 && h.closed.length === 0; i++) await h.run(100);
    expect(h.closed).toHaveLength(1);
    expect(h.logs.some((l) => l.event === 'p2p.lost')).toBe(true);
  });

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
