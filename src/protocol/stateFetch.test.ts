import { describe, expect, it } from 'vitest';
import { makeSiteConfig } from './config.js';
import { hashOf } from './crypto.js';
import { ADMIN_ID, decodeTransfer, encodeTransfer, type PeerMessage, type PeerOf } from './messages.js';
import { updateHash } from './signed.js';
import { createStateFetch, type FetchedState, type StateFetch, type StateFetchOptions } from './stateFetch.js';
import { playMoves, setupSite, type SiteSetup } from './testing.js';

interface Sent {
  at: number;
  from: string;
  to: string;
  msg: PeerMessage;
}

/**
 * A running site (moves applied, then quiet: no update after the last) and a state fetch by the
 * admin on it. The admin's node on the net feeds both its coordinator and the fetch; `sent` logs
 * every message as it leaves its sender (before `tamper`, which may rewrite what servers send).
 */
function adminFetch(o: { tamper?: (from: string, msg: PeerMessage) => PeerMessage | null; options?: Partial<StateFetchOptions> } = {}) {
  const s = setupSite({});
  playMoves(s, 8);
  s.net.run(1500);
  const sent: Sent[] = [];
  s.net.rewrite = (from, to, msg) => {
    sent.push({ at: s.net.time, from, to, msg });
    return to === ADMIN_ID && o.tamper ? o.tamper(from, msg) : msg;
  };
  const done: FetchedState[] = [];
  const bad: Array<[string, number]> = [];
  const rejected: Array<[string, string]> = [];
  const fetch: StateFetch = createStateFetch({
    config: s.config,
    now: s.net.clock(ADMIN_ID),
    send: s.net.sender(ADMIN_ID),
    servers: () => s.coordinator.activeServers(),
    onDone: (r) => done.push(r),
    onBadProvider: (server, seq) => bad.push([server, seq]),
    onRejected: (from, code) => rejected.push([from, code]),
    ...o.options,
  });
  const coordinator = s.coordinator;
  s.net.add(ADMIN_ID, {
    receive(from, msg) {
      coordinator.receive(from, msg);
      if (msg.type === 'stateChunk') fetch.onChunk(from, msg);
      else if (msg.type === 'updateHash' || msg.type === 'update') fetch.onHash(from, msg.seq, msg.hash);
    },
    tick() {
      coordinator.tick();
      fetch.tick();
    },
    nextWakeAt() {
      const w = [coordinator.nextWakeAt(), fetch.nextWakeAt()].filter((x): x is number => x !== null);
      return w.length > 0 ? Math.min(...w) : null;
    },
  });
  const start = (): void => s.net.poke(ADMIN_ID, () => fetch.start());
  const fromAdmin = (type: PeerMessage['type']): Sent[] => sent.filter((m) => m.from === ADMIN_ID && m.msg.type === type);
  return { s, fetch, done, bad, rejected, sent, start, fromAdmin };
}

/** Servers whose applied log holds update `seq` with hash `hash`. */
function vouching(s: SiteSetup, seq: number, hash: string): string[] {
  return [...s.servers]
    .filter(([, srv]) => srv.appliedLog().some((u) => u.seq === seq && u.hash === hash))
    .map(([id]) => id);
}

/** The chunk with its state changed (a user moved), re-encoded; `consistent`: hashes redone too. */
function forged(msg: PeerOf<'stateChunk'>, consistent: boolean): PeerOf<'stateChunk'> {
  const p = decodeTransfer(msg.data);
  if (!p.ok) throw new Error(p.message);
  const [first, ...rest] = p.value.state.snapshot.users;
  if (!first) throw new Error('no user to move');
  const state = { ...p.value.state, snapshot: { ...p.value.state.snapshot, users: [{ ...first, x: first.x + 1 }, ...rest] } };
  let update = p.value.update;
  if (consistent) {
    const { hash: _h, ...body } = update;
    const rebuilt = { ...body, stateHash: hashOf(state) };
    update = { ...rebuilt, hash: updateHash(rebuilt) };
  }
  return { ...msg, hash: update.hash, data: new Uint8Array(encodeTransfer({ ...p.value, state, update })) };
}

describe('createStateFetch (the admin taking a running site\'s state)', () => {
  it('gets exactly the servers\' snapshot, at a seq N_majority servers vouch for', () => {
    const f = adminFetch();
    const last = f.s.servers.get('s0')?.lastUpdate();
    expect(last?.seq).toBeGreaterThan(3);
    f.start();
    expect(f.fetch.asking).toBe(true);
    f.s.net.run(200);
    expect(f.done).toHaveLength(1);
    const r = f.done[0]!;
    expect(f.fetch.done).toBe(true);
    expect({ seq: r.seq, hash: r.hash }).toEqual(last);
    expect(vouching(f.s, r.seq, r.hash).length).toBeGreaterThanOrEqual(f.s.config.N_majority);
    for (const id of ['s0', 's1', 's2', 's3', 's4']) expect(r.payload.state.snapshot).toEqual(f.s.servers.get(id)?.snapshot());
    // One provider asked, every server asked for its hash of that seq.
    expect(f.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s0']);
    expect(f.fromAdmin('hashRequest').map((m) => m.to).sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(f.bad).toEqual([]);
    expect(f.fetch.nextWakeAt()).toBeNull();
  });

  it('skips a provider whose state does not hash to its update, reports it, and takes the next one\'s', () => {
    const f = adminFetch({ tamper: (from, m) => (from === 's0' && m.type === 'stateChunk' ? forged(m, false) : m) });
    f.start();
    f.s.net.run(300);
    const last = f.s.servers.get('s1')?.lastUpdate();
    expect(f.bad).toEqual([['s0', last?.seq]]);
    expect(f.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s0', 's1']);
    expect(f.done.map((r) => ({ seq: r.seq, hash: r.hash }))).toEqual([last]);
    expect(f.done[0]?.payload.state.snapshot).toEqual(f.s.servers.get('s1')?.snapshot());
  });

  it('skips a provider whose state and update are forged consistently (the majority vouches for another hash)', () => {
    const f = adminFetch({ tamper: (from, m) => (from === 's0' && m.type === 'stateChunk' ? forged(m, true) : m) });
    f.start();
    f.s.net.run(300);
    const last = f.s.servers.get('s1')?.lastUpdate();
    expect(f.bad).toEqual([['s0', last?.seq]]);
    expect(f.done.map((r) => ({ seq: r.seq, hash: r.hash }))).toEqual([last]);
    expect(f.done[0]?.payload.state.snapshot).toEqual(f.s.servers.get('s1')?.snapshot());
  });

  it('flags no provider while fewer than N_majority holders could contradict it (a site short of servers): it waits', () => {
    // One holder left of five (N_majority 3): nobody is against, yet no majority can form.
    const lone = adminFetch({ options: { servers: () => ['s0'] } });
    lone.start();
    lone.s.net.run(3000);
    expect(lone.bad).toEqual([]);
    expect(lone.done).toEqual([]);
    expect(lone.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s0']);
    // Two holders, the other one giving another hash: a minority, which flags nobody.
    const other = 'ab'.repeat(32);
    const split = adminFetch({
      options: { servers: () => ['s0', 's1'] },
      tamper: (from, m) => (from === 's1' && m.type === 'updateHash' ? { ...m, hash: other } : m),
    });
    split.start();
    split.s.net.run(3000);
    expect(split.bad).toEqual([]);
    expect(split.done).toEqual([]);
    expect(split.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s0']);
  });

  it('without N_majority hashes it is not done, and asks for the hashes again after 4 T_timeout', () => {
    const T = 4 * 300;
    const answering = new Set(['s0', 's1']);
    const f = adminFetch({ tamper: (from, m) => (m.type === 'updateHash' && !answering.has(from) ? null : m) });
    expect(f.s.config.T_timeout).toBe(300);
    f.start();
    const t0 = f.s.net.time;
    f.s.net.run(T - 1);
    expect(f.done).toEqual([]);
    expect(f.fetch.done).toBe(false);
    expect(f.fromAdmin('hashRequest')).toHaveLength(5);
    expect(f.fetch.nextWakeAt()).toBe(t0 + T);
    f.s.net.run(1);
    const again = f.fromAdmin('hashRequest').slice(5);
    expect(again.map((m) => m.to).sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(again.every((m) => m.at === t0 + T)).toBe(true);
    // Still the same provider: the state it sent is kept.
    expect(f.fromAdmin('stateRequest')).toHaveLength(1);
    answering.add('s2');
    f.s.net.run(T);
    expect(f.done).toHaveLength(1);
    expect(f.bad).toEqual([]);
  });

  it('asks a holder counted after the hashes were asked for its hash at once, not at the next patience round (FINDINGS 82)', () => {
    // Two holders of five counted (N_majority 3): the state comes, the majority cannot form. A
    // third holder counted since (a server readmitted) vouches for it at once: waiting the
    // patience out, the majority could be gone by then (seed 269: the other holder's tab left).
    let holders = ['s0', 's1'];
    const f = adminFetch({ options: { servers: () => holders } });
    f.start();
    f.s.net.run(200);
    expect(f.done).toEqual([]);
    expect(f.fromAdmin('hashRequest').map((m) => m.to).sort()).toEqual(['s0', 's1']);
    const t0 = f.s.net.time;
    f.s.net.poke(ADMIN_ID, () => {
      holders = ['s0', 's1', 's2'];
    });
    f.s.net.run(100);
    const late = f.fromAdmin('hashRequest').slice(2);
    expect(late.map((m) => ({ to: m.to, at: m.at }))).toEqual([{ to: 's2', at: t0 }]);
    expect(f.done.map((r) => [...r.hashes.keys()].sort())).toEqual([['s0', 's1', 's2']]);
    expect(f.bad).toEqual([]);
  });

  it('asks a newly counted holder nothing once N_majority vouch (its word is not needed)', () => {
    let holders = ['s0', 's1', 's2'];
    const f = adminFetch({ options: { servers: () => holders } });
    f.start();
    f.s.net.run(200);
    expect(f.done).toHaveLength(1);
    f.s.net.poke(ADMIN_ID, () => {
      holders = ['s0', 's1', 's2', 's3'];
    });
    f.s.net.run(2000);
    expect(f.fromAdmin('hashRequest').map((m) => m.to).sort()).toEqual(['s0', 's1', 's2']);
  });

  it('asks the next provider when the first sends nothing for 4 T_timeout', () => {
    const T = 4 * 300;
    const f = adminFetch({ tamper: (from, m) => (from === 's0' ? null : m) });
    f.start();
    const t0 = f.s.net.time;
    f.s.net.run(T - 1);
    expect(f.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s0']);
    f.s.net.run(1);
    expect(f.fromAdmin('stateRequest').map((m) => ({ to: m.to, at: m.at }))).toEqual([
      { to: 's0', at: t0 },
      { to: 's1', at: t0 + T },
    ]);
    f.s.net.run(200);
    expect(f.done).toHaveLength(1);
    // Silence is not evidence of a bad state.
    expect(f.bad).toEqual([]);
  });

  it('asks a preferred holder first, even one that is not among the servers (its player walked in)', () => {
    const f = adminFetch({ options: { preferred: 's4' } });
    const others = ['s0', 's1', 's2', 's3'];
    const g = adminFetch({ options: { preferred: 's4', servers: () => others } });
    for (const x of [f, g]) {
      x.start();
      x.s.net.run(200);
      expect(x.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s4']);
      expect(x.done.map((r) => r.from)).toEqual(['s4']);
    }
    // Outside the servers, its hash is not asked for, and does not count.
    expect(g.fromAdmin('hashRequest').map((m) => m.to).sort()).toEqual(others);
    expect(g.done[0]?.hashes.has('s4')).toBe(false);
  });

  it('asks a preferred copy outside the servers again alongside each later round, and takes it (FINDINGS 102)', () => {
    // Seed 35694: the walked-in server's copy was the one a joiner could take; its first ask fell
    // in a partition, and its next turn came only after a whole cycle of the servers.
    const T = 4 * 300;
    const others = ['s0', 's1', 's2', 's3'];
    const f = adminFetch({
      options: { preferred: 's4', servers: () => others },
      // The servers' states never come (a loaded site); the preferred copy's answer to the first ask is lost.
      tamper: (from, m) => (m.type !== 'stateChunk' || (from === 's4' && f.fromAdmin('stateRequest').length > 1) ? m : null),
    });
    f.start();
    const t0 = f.s.net.time;
    f.s.net.run(T + 200);
    expect(f.fromAdmin('stateRequest').map((m) => ({ to: m.to, at: m.at }))).toEqual([
      { to: 's4', at: t0 },
      { to: 's0', at: t0 + T },
      { to: 's4', at: t0 + T },
    ]);
    expect(f.done.map((r) => r.from)).toEqual(['s4']);
    expect(f.bad).toEqual([]);
  });

  it('asks a preferred copy outside the servers again when it asks the hashes again for a state it holds (FINDINGS 102)', () => {
    // The held state may never be vouched (its one holder among the servers); the preferred copy
    // may be the hand-over, which a server adopts on its own.
    const T = 4 * 300;
    const others = ['s0', 's1', 's2', 's3'];
    const f = adminFetch({
      options: { preferred: 's4', servers: () => others },
      tamper: (from, m) => ((m.type === 'stateChunk' && from === 's4') || (m.type === 'updateHash' && from !== 's0') ? null : m),
    });
    f.start();
    const t0 = f.s.net.time;
    f.s.net.run(2 * T + 100);
    expect(f.fromAdmin('stateRequest').map((m) => ({ to: m.to, at: m.at }))).toEqual([
      { to: 's4', at: t0 },
      { to: 's0', at: t0 + T },
      { to: 's4', at: t0 + T },
      { to: 's4', at: t0 + 2 * T },
    ]);
    expect(f.fromAdmin('hashRequest').filter((m) => m.at === t0 + 2 * T).map((m) => m.to).sort()).toEqual(others);
    expect(f.done).toEqual([]);
  });

  it('asks a preferred copy that gave a bad state no more alongside the others', () => {
    const T = 4 * 300;
    const others = ['s0', 's1', 's2', 's3'];
    const f = adminFetch({
      options: { preferred: 's4', servers: () => others },
      tamper: (from, m) => (m.type === 'stateChunk' && from === 's4' ? forged(m, false) : m.type === 'stateChunk' && from === 's0' ? null : m),
    });
    f.start();
    f.s.net.run(T + 200);
    // s4's bad state sends the fetch to s0 at once; s0 sends nothing, so s1 is asked, not s4 again.
    expect(f.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s4', 's0', 's1']);
    expect(f.bad.map(([id]) => id)).toEqual(['s4']);
    expect(f.done.map((r) => r.from)).toEqual(['s1']);
  });

  it('asks the holders in the order given (a server: the one announcing the latest update first)', () => {
    const f = adminFetch({ options: { order: (pool) => [...pool].reverse() } });
    f.start();
    f.s.net.run(200);
    expect(f.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s4']);
    expect(f.done).toHaveLength(1);
  });

  it('asks no hashes when those already heard (a server\'s: its peers\' Timeslots) make a majority', () => {
    const f = adminFetch({
      options: {
        known: (id, seq) => (f.s.servers.get(id)?.lastUpdate().seq === seq ? f.s.servers.get(id)?.lastUpdate().hash : undefined),
      },
    });
    f.start();
    f.s.net.run(200);
    expect(f.done).toHaveLength(1);
    expect(f.fromAdmin('hashRequest')).toEqual([]);
    // Hashes heard only through `known` are not this fetch's answers.
    expect(f.done[0]?.hashes.size).toBe(0);
  });

  it('carries the taker\'s membership epoch in its stateRequest when given one (servers)', () => {
    const f = adminFetch({ options: { epoch: () => 7 } });
    f.start();
    expect(f.fromAdmin('stateRequest').map((m) => (m.msg as PeerOf<'stateRequest'>).epoch)).toEqual([7]);
    const g = adminFetch();
    g.start();
    expect(g.fromAdmin('stateRequest').map((m) => 'epoch' in m.msg)).toEqual([false]);
  });

  it('refuses chunks of another transfer from the provider (ERR_STALE), then asks the next one', () => {
    const f = adminFetch();
    f.start();
    // A chunk that names another update than the one the provider then sends.
    f.fetch.onChunk('s0', { type: 'stateChunk', site: f.s.config.site, seq: 999, hash: 'ab'.repeat(32), index: 0, count: 2, data: new Uint8Array(1) });
    f.s.net.run(200);
    expect(f.rejected).toEqual([['s0', 'ERR_STALE']]);
    expect(f.done).toEqual([]);
    f.s.net.run(4 * 300);
    expect(f.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s0', 's1']);
    expect(f.done.map((r) => r.from)).toEqual(['s1']);
  });

  it('refuses a state of another window than its update\'s, hashes redone to match (ERR_BAD_HASH)', () => {
    const shifted = (m: PeerOf<'stateChunk'>): PeerOf<'stateChunk'> => {
      const p = decodeTransfer(m.data);
      if (!p.ok) throw new Error(p.message);
      const state = { ...p.value.state, window: p.value.state.window + 100 };
      const { hash: _h, ...body } = p.value.update;
      const rebuilt = { ...body, stateHash: hashOf(state) };
      const update = { ...rebuilt, hash: updateHash(rebuilt) };
      return { ...m, hash: update.hash, data: new Uint8Array(encodeTransfer({ ...p.value, state, update })) };
    };
    const f = adminFetch({ tamper: (from, m) => (from === 's0' && m.type === 'stateChunk' ? shifted(m) : m) });
    f.start();
    f.s.net.run(300);
    // Refused on its own check, not only outvoted by the majority's hashes.
    expect(f.rejected).toEqual([['s0', 'ERR_BAD_HASH']]);
    expect(f.done.map((r) => r.from)).toEqual(['s1']);
  });

  // sim/FINDINGS.md 51 (managed world seed 9711): the admin's hand-back fetch asked the same
  // server again and again; it was behind (its latest update lacked the marker) and the others
  // still kept their hashes of that update, so every fetch verified it.
  it('with newerThan, passes over a holder whose latest update is not past it (not flagged) and takes the next one\'s', () => {
    /** s0 serves an older stored update than its latest (a server stuck behind the others). */
    const behind = (f: ReturnType<typeof adminFetch>, seq: number): void => {
      const rewrite = f.s.net.rewrite;
      f.s.net.rewrite = (from, to, msg) => {
        const m = rewrite?.(from, to, msg) ?? msg;
        return to === 's0' && m?.type === 'stateRequest' ? { ...m, seq } : m;
      };
    };
    const last = adminFetch().s.servers.get('s1')!.lastUpdate();
    // Without it, s0's older state is what the majority vouches for: taken.
    const plain = adminFetch();
    behind(plain, last.seq - 1);
    plain.start();
    plain.s.net.run(300);
    expect(plain.done.map((r) => [r.from, r.seq])).toEqual([['s0', last.seq - 1]]);
    const f = adminFetch({ options: { newerThan: last.seq - 1 } });
    behind(f, last.seq - 1);
    f.start();
    f.s.net.run(300);
    expect(f.fromAdmin('stateRequest').map((m) => m.to)).toEqual(['s0', 's1']);
    expect(f.done.map((r) => ({ from: r.from, seq: r.seq, hash: r.hash }))).toEqual([{ from: 's1', ...last }]);
    expect(f.bad).toEqual([]);
  });

  it('with newerThan past every holder, asks each once, then starts over a T_timeslot on (no flag, no result)', () => {
    const last = adminFetch().s.servers.get('s1')!.lastUpdate();
    const f = adminFetch({ options: { newerThan: last.seq } });
    f.start();
    // Until the last holder answered (each one's answer moves the fetch to the next).
    for (let i = 0; i < 300 && (f.fetch.asking || f.fromAdmin('stateRequest').length === 0); i++) f.s.net.run(1);
    const asked = f.fromAdmin('stateRequest');
    expect(asked.map((m) => m.to)).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(f.fetch.asking).toBe(false);
    // The round starts over a T_timeslot after the last holder answered, not a patience later.
    const again = f.fetch.nextWakeAt()!;
    expect(again).toBeLessThanOrEqual(f.s.net.time + f.s.config.T_timeslot);
    expect(again).toBeGreaterThan(asked[4]!.at);
    f.s.net.run(again - f.s.net.time);
    expect(f.fromAdmin('stateRequest').slice(5).map((m) => ({ to: m.to, at: m.at }))).toEqual([{ to: 's0', at: again }]);
    expect(f.done).toEqual([]);
    expect(f.bad).toEqual([]);
  });

  it('with newerThan, a later state from a holder passed over earlier is taken, and the round does not start over under it', () => {
    let now = 0;
    const asked: string[] = [];
    const f = createStateFetch({
      config: makeSiteConfig({ site: 'meadow', N_server: 3 }),
      now: () => now,
      send: (to, m) => void (m.type === 'stateRequest' && asked.push(to)),
      servers: () => ['a', 'b'],
      onDone: () => undefined,
      newerThan: 5,
    });
    const chunk = (seq: number, index: number): PeerOf<'stateChunk'> => ({ type: 'stateChunk', site: 'meadow', seq, hash: 'ab'.repeat(32), index, count: 2, data: new Uint8Array(1) });
    f.start();
    f.onChunk('a', chunk(5, 0));
    f.onChunk('b', chunk(5, 0));
    expect([asked, f.asking]).toEqual([['a', 'b'], false]);
    const again = f.nextWakeAt()!;
    now = 10;
    f.onChunk('a', chunk(6, 0)); // a moved on since: its later state is coming
    expect(f.provider).toBe('a');
    now = again;
    f.tick();
    expect([asked, f.provider, f.seq]).toEqual([['a', 'b'], 'a', 6]);
  });

  it('with no holder to ask, asks again after its patience', () => {
    let holders: string[] = [];
    const f = adminFetch({ options: { servers: () => holders } });
    f.start();
    f.s.net.run(10);
    expect(f.fromAdmin('stateRequest')).toEqual([]);
    expect(f.fetch.asking).toBe(false);
    const t0 = f.s.net.time;
    holders = ['s0', 's1', 's2', 's3', 's4'];
    f.s.net.run(4 * 300);
    expect(f.fromAdmin('stateRequest').map((m) => ({ to: m.to, at: m.at }))).toEqual([{ to: 's0', at: t0 - 10 + 4 * 300 }]);
    f.s.net.run(200);
    expect(f.done).toHaveLength(1);
  });
});
