/**
 * The managed world's own faults (managed.ts, issue 18): the admin process restarting on its
 * database (stopped, or crashed: kill -9, also between two writes of one step), tabs' clocks off and drifting under the protocol's clock sync, and a P2P site left
 * short of servers taking a free peer later. Each is forced over a few seeds that must keep every
 * property, and the seeds that found defects on the way are kept, each failing without its fix.
 */
import { describe, expect, it } from 'vitest';
import { formatFailure, parseWorldArgs } from './cli.js';
import { runManagedWorld, type ManagedOptions } from './managed.js';
import { checkWorld } from './properties.js';

const SEEDS = Number(process.env.MANAGED_RESTART_SEEDS ?? 6);
/** Seeds 1..SEEDS with `o`: the traces and every violation (FINDINGS 17, 18 and 21, once open here, are fixed). */
function sweep(o: Omit<ManagedOptions, 'seed'>) {
  const traces = Array.from({ length: SEEDS }, (_, i) => runManagedWorld({ ...o, seed: i + 1 }));
  const bad = traces.flatMap((t) => checkWorld(t).map((x) => `seed ${t.seed}: ${x}`));
  return { traces, bad };
}

describe('admin restarts in the managed world', () => {
  it(`with one in every run (no skew), ${SEEDS} seeds keep every property`, () => {
    const { traces, bad } = sweep({ restarts: 'always', skew: 'never' });
    expect(bad).toEqual([]);
    for (const t of traces) {
      expect(t.restarts).toBe(1);
      const restart = t.faults!.find((f) => f.what === 'admin restart')!;
      // The tabs came back: entries that began after the restart had the state.
      expect(t.entries!.some((e) => e.at >= restart.end && e.readyAt !== null)).toBe(true);
    }
    // Some runs had P2P sites through the restart: resumed from their records, not handed over anew.
    const resumed = traces.filter((t) => [...t.lifecycles.values()].some((l) => l.includes('resume')));
    expect(resumed.length).toBeGreaterThan(SEEDS / 3);
  }, 300_000);

  it('a server whose player took a portal to the site it serves while the admin was down walks in (seeds 359, 421)', () => {
    // Its key came back after its landing: P2PManager.serverBack told it to serve on the site it
    // now played ('choice:'); it walks in instead.
    for (const seed of [359, 421]) {
      const t = runManagedWorld({ seed });
      expect(t.restarts).toBe(1);
      expect(checkWorld(t)).toEqual([]);
    }
  }, 60_000);

  it('a player whose departure was still pending when the admin stopped is stored with its site (seeds 305, 435, 482)', () => {
    // Logged out of a P2P site that had lost its majority, its login waiting for the state, and
    // never stored before: the restarted admin's fallback for the site had no state for it, and
    // the site came back without it ('users: pN is in no place'; FINDINGS 21). Game.saveAll now
    // stores it with the site.
    for (const seed of [305, 435, 482]) {
      const t = runManagedWorld({ seed });
      expect(t.restarts).toBe(1);
      expect(checkWorld(t)).toEqual([]);
    }
  }, 60_000);

  it('a user whose logout the servers applied after the restart, while it was online there again, joins again (seed 479)', () => {
    // Taken as back (never gone) on the resumed site, its old session's leave (sent again after
    // the restart) made the servers let it go, and Game ignored the departure of a user online
    // there ('users: p8 is in no place'; FINDINGS 21). It joins again with the state given back.
    const t = runManagedWorld({ seed: 479 });
    expect(t.restarts).toBe(1);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it('a user that left a resumed site and came back within the grace stays there (seed 387)', () => {
    // Still counted as not back at the grace's end, it was made to leave the site it had just
    // joined again ('users: p1 is in no place'); a departure now ends the wait for that user.
    const t = runManagedWorld({ seed: 387 });
    expect(t.restarts).toBe(1);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);
});

describe('admin crashes (kill -9) in the managed world', () => {
  /**
   * The process dies with no shutdown hook (adminProcess.ts crashAdmin): nothing is saved at the
   * stop, and the next process finds what the last world save and every write since left. Every
   * property holds as after a graceful stop (docs/hosting.md "After a crash"). Seeds 1 and 2
   * failed here before FINDINGS 28's fix ('items: …, there at the start, is lost').
   */
  it(`with one in every run (no skew), ${SEEDS} seeds keep every property`, () => {
    const { traces, bad } = sweep({ crashes: 'always', skew: 'never' });
    expect(bad).toEqual([]);
    for (const t of traces) {
      expect(t.restarts).toBe(1);
      const crash = t.faults!.find((f) => f.what === 'admin crash')!;
      expect(t.downs).toEqual([expect.objectContaining({ at: crash.start, crash: true })]);
      expect(t.entries!.some((e) => e.at >= crash.end && e.readyAt !== null)).toBe(true);
    }
    // Some runs had P2P sites through the crash: the next process went on with them.
    expect(traces.filter((t) => t.downs![0]!.resumed.length > 0).length).toBeGreaterThan(SEEDS / 3);
  }, 300_000);

  it('a player that took a portal from a P2P site to a client-server one is stored where it landed (seed 10)', () => {
    // Stored nowhere new when it landed, the crash put it back on the P2P site with its state of
    // the last save, the items it had picked there since gone from that site's map and from its
    // bag ('items: meadow-3, there at the start, is lost'; FINDINGS 28).
    const t = runManagedWorld({ seed: 10, crashes: 'always' });
    expect(t.downs?.[0]?.crash).toBe(true);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it('a player that joined a P2P site is stored on it as it joined (seed 18)', () => {
    // Its stored row still placed it where it came from: after the crash it entered there, the
    // servers' copy of it was let go at the grace's end, and what it had picked on the P2P site
    // went with it ('items: forest-2, there at the start, is lost'; FINDINGS 28).
    const t = runManagedWorld({ seed: 18, crashes: 'always' });
    expect(t.downs?.[0]?.crash).toBe(true);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it('a resumed server whose player walked into its site resends its departures (seed 835)', () => {
    // Not told to serve on (its player had entered the site: P2PManager.serverBack walks it in),
    // it resent nothing; meadow's other server alone was no majority for p11's departure, missed
    // by the crashed admin ('users: p11 is in no place'). It resends on its key's reacceptance.
    const t = runManagedWorld({ seed: 835, crashes: 'always' });
    expect(t.downs?.[0]?.crash).toBe(true);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it('a user made to leave a resumed site after the grace, logging in before that leave is applied, is not joined again with its stored state (seed 107; FINDINGS 64)', () => {
    // Its join, ordered after the leave, put p2 back on meadow as stored before the servers had
    // it; its departure's state then found it there: 'items: meadow-1, there at the start, is lost'.
    const t = runManagedWorld({ seed: 107, crashes: 'always' });
    expect(t.downs?.[0]?.crash).toBe(true);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it('a site left with one active server, one ignored and one walked in is found lost, not handed back for good (seed 5542)', () => {
    // Its one active server could order nothing; the ignored one, still connected, agreed with it
    // on the last state, so the hand-back's fetch got states without its marker, each restart of it
    // began the lost rule's wait again, and twelve users ended in no place (sim/FINDINGS.md 40).
    const t = runManagedWorld({ seed: 5542, crashes: 'sometimes' });
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it('a hand-back that can never order its marker is found lost on its last read, not LOST_AFTER_MS later (seed 5542; FINDINGS 37, 40, 62)', () => {
    // Meadow has one uncut server of three from 3123 (one ignored, one slot empty, no free peer);
    // the manager hands it back for want of servers at 9500, and its servers still agree on update
    // 132: lost at 10444 with that state. Before the stall rule: at 30111.
    const t = runManagedWorld({ seed: 5542, crashes: 'sometimes' });
    const lost = t.faults?.find((f) => f.what === 'meadow lost its majority');
    expect(lost?.end).toBeGreaterThan(9500);
    expect(lost?.end).toBeLessThan(12_000);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it("a refilled server's first Timeslot, come before its record, is kept for its cut (seed 306; FINDINGS 35)", () => {
    const t = runManagedWorld({ seed: 306, crashes: 'sometimes' });
    expect(t.downs?.[0]?.crash).toBe(true);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it("a walked-in server's cut waits for a request that covers it, not a syncing replacement's (seed 5667; FINDINGS 39)", () => {
    // The replacement admitted while the admin was down held nothing of town's p13 and alone cut
    // it at 0, below what p9 and p13 had used: p9 applied another update 28.
    const t = runManagedWorld({ seed: 5667, crashes: 'sometimes' });
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it("a walked-in server's cut is decided by a decider holding its marker, though a syncing newcomer never echoed it (seed 13814; FINDINGS 58)", () => {
    // forest's p8 held p2's marker and its chain past it, but read marks only from stable
    // prefixes, which p3 (admitted after p2's last use) held back for good: no request covered,
    // p2 was never cut, and p10's join in forest never applied. Since a8abd90 the same seed has
    // p5's and p11's portals out of forest applied while the admin was down, its one full sender
    // evicted before its resend counted: p8, which took the state at it, now vouches (FINDINGS 74).
    const t = runManagedWorld({ seed: 13814, crashes: 'sometimes' });
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it("a join the hand-back's cut has not applied brings its player back as it joined (seed 16341; FINDINGS 67)", () => {
    // p2's join on meadow was noted by a server whose note could not count, the crash took the
    // copy sent again to the replacement, and the end's hand-back came first: p2 was in no place.
    const t = runManagedWorld({ seed: 16341, crashes: 'sometimes' });
    expect(t.downs?.[0]?.crash).toBe(true);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it("a slow refill re-asking for contents still queued behind its input held meadow back (seed 6809; FINDINGS 40, 77 (b), 86)", () => {
    const t = runManagedWorld({ seed: 6809, crashes: 'sometimes' });
    expect(t.downs?.[0]?.crash).toBe(true);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);

  it.each([29181, 30037])('a login fetch keeps a state until it is vouched for, not giving it up after a count of rounds (seed %i; FINDINGS 85)', (seed) => {
    // Both failed (an entry 7.3-8.3 s late) while stateFetch gave up a state after three rounds of hash requests.
    expect(checkWorld(runManagedWorld({ seed, crashes: 'sometimes' }))).toEqual([]);
  }, 60_000);

  it("a joiner asks the walked-in server's copy again at its next round, not a whole cycle of the servers later (seed 35694; FINDINGS 102)", () => {
    // meadow's p11~ replaced p5~ (walked in, partitioned until 5361, its copy the hand-over): with
    // p8~ the only slotted holder, that copy was the one way a joiner could run; asked once per cycle,
    // at 5265 (lost) and 11000, p10's login took 7.3 s after the partition healed.
    expect(checkWorld(runManagedWorld({ seed: 35694 }))).toEqual([]);
  }, 60_000);

  it("a stalled site's users no longer send every pending action to every server every T_resend and on each server change (seed 29908; FINDINGS 96)", () => {
    // p1's login waited 7070 ms past the heal for its logout's departure: meadow's two loaded servers
    // spent their input queues (up to 1.8 s behind) on the resent actions of a 3 s stall.
    expect(checkWorld(runManagedWorld({ seed: 29908, crashes: 'sometimes' }))).toEqual([]);
  }, 60_000);

  it('each property still fails on a broken crash trace', () => {
    const base = runManagedWorld({ seed: 3, crashes: 'always' });
    expect(checkWorld(base)).toEqual([]);
    const d = base.downs![0]!;
    expect(d.crash && d.atServers.length > 0).toBe(true);
    const broken = (f: (t: typeof base) => void): string[] => {
      const t = structuredClone(base);
      f(t);
      return checkWorld(t);
    };
    const [site, closed] = [...base.closed].find(([, v]) => v.snapshot.users.length > 0 && v.snapshot.site.items.length > 0)!;
    const user = closed.snapshot.users[0]!;
    const item = closed.snapshot.site.items[0]!;
    // resumed: a site at its servers that the next process started from storage instead.
    expect(broken((t) => (t.downs![0]!.resumed = t.downs![0]!.resumed.filter((s) => s !== d.atServers[0])))).toEqual([
      `resumed: ${d.atServers[0]} was at its servers when the admin crashed at ${d.at}; the next one did not go on with it`,
    ]);
    // users: a player stored too, as a crash that kept an old row beside the site's would.
    expect(broken((t) => t.stored.set(user.name, { ...user, inventory: [] }))).toEqual([`users: ${user.name} is in on ${site} and stored`]);
    // users: one in no place.
    const gone = (t: typeof base): void => void (t.closed.get(site)!.snapshot.users = t.closed.get(site)!.snapshot.users.slice(1));
    expect(broken(gone).filter((x) => x.startsWith('users:'))).toEqual([
      `users: ${user.name} is in no place`,
    ]);
    // items: one on the map and in a bag (doubled), one from the start gone (lost).
    expect(
      broken((t) => {
        const snap = t.closed.get(site)!.snapshot;
        snap.users[0] = { ...snap.users[0]!, inventory: [...snap.users[0]!.inventory, { id: item.id, kind: item.kind }] };
        t.itemsAtStart.push('nowhere-1');
      }),
    ).toEqual([`items: ${item.id} exists 2 times`, 'items: nowhere-1, there at the start, is lost']);
    // logs, back and stored as after a stop.
    const [key, logs] = [...base.logs].find(([, l]) => [...l.values()].filter((x) => x.length > 0).length > 1)!;
    // The last server's first update altered: the check names it against the earlier servers.
    const [server, log] = [...logs].filter(([, x]) => x.length > 0).at(-1)!;
    // (Users that accepted that update now disagree with the altered copy too: 'views:'.)
    const alter = (t: typeof base): void => void (t.logs.get(key)!.get(server)![0] = [log[0]![0], 'f'.repeat(32)]);
    expect(broken(alter).filter((x) => x.startsWith('logs:'))).toEqual([
      `logs: on ${key}, ${server} accepted another update ${log[0]![0]}`,
    ]);
    expect(broken((t) => t.closed.delete(site))[0]).toMatch(new RegExp(`^back: ${site} never came back`));
  }, 60_000);
});

describe('admin crashes inside a step (kill -9 between two writes) in the managed world', () => {
  /**
   * The process dies between two writes of one input's handling (adminProcess.ts
   * `crashBetweenWrites`): the first stored, nothing after it written or sent. Most steps that
   * write twice save the world and then a P2P site's record (a transfer, a join, a departure, a
   * verified save: the world first, so the record never names what the world has not), some save
   * the world twice (a departure and the join it leads to). docs/hosting.md "After a crash".
   */
  it(`with one in every run, ${SEEDS} seeds keep every property`, () => {
    const { traces, bad } = sweep({ crashes: 'always', skew: 'never', crashInside: true });
    expect(bad).toEqual([]);
    for (const t of traces) expect(t.crashWrites?.[0]).toBe('world');
    expect(traces.filter((t) => t.crashWrites?.[1].startsWith('record of')).length).toBeGreaterThan(SEEDS / 2);
    expect(traces.filter((t) => t.downs![0]!.resumed.length > 0).length).toBeGreaterThan(SEEDS / 3);
  }, 300_000);

  it("between a hand-back's world save and its record's deletion, the site stays the admin's (seed 9; FINDINGS 41)", () => {
    // The record outlived the save that took town back: the next process resumed town from it,
    // its servers told to stop held nothing, and its users and their items were gone ('users: p5
    // is in no place'). The record now goes in the world save's transaction.
    const t = runManagedWorld({ seed: 9, crashes: 'always', crashInside: 'deleted' });
    expect(t.crashWrites).toEqual(['world', 'record of town deleted']);
    expect(t.downs![0]!.resumed).not.toContain('town');
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);
});

describe('skewed clocks in the managed world', () => {
  it(`tabs' clocks seconds off and drifting: synced within a few ms, ${SEEDS} seeds keep every property`, () => {
    const { traces, bad } = sweep({ restarts: 'never', skew: 'always' });
    expect(bad).toEqual([]);
    for (const t of traces) {
      expect(t.skewed).toBe(t.players.length);
      expect(t.clockErrorMax).toBeGreaterThan(0);
      // Offsets of up to 5 s, synced to the admin's clock over the tabs' WebSockets (3-23 ms each way).
      expect(t.clockErrorMax).toBeLessThan(10);
    }
  }, 300_000);
});

describe('a P2P site short of servers in the managed world', () => {
  it('takes a free peer later and keeps every property (seed 5)', () => {
    const t = runManagedWorld({ seed: 5 });
    expect(t.refills).toBeGreaterThan(0);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);
});

describe('the managed faults on the command line', () => {
  it('--crashes takes sometimes, always or never, only with --managed, and replay lines keep it', () => {
    expect(parseWorldArgs(['--managed', '--crashes', 'always'])).toMatchObject({ managed: true, crashes: 'always' });
    expect(parseWorldArgs(['--managed'])).not.toHaveProperty('crashes');
    expect(parseWorldArgs(['--managed', '--crashes', 'often'])).toMatch(/--crashes needs one of sometimes, always, never, got often/);
    expect(parseWorldArgs(['--managed', '--crashes', 'never', '--crashes', 'never'])).toMatch(/given twice/);
    expect(parseWorldArgs(['--crashes', 'always'])).toMatch(/need --managed/);
    expect(formatFailure({ seed: 7, rounds: 6, managed: true, crashes: 'sometimes' }, ['items: …'])).toContain(
      'replay: npm run sim -- --world --seed 7 --rounds 6 --managed --crashes sometimes',
    );
  });

  it('--restarts and --skew take sometimes, always or never, only with --managed, and replay lines keep them', () => {
    expect(parseWorldArgs(['--managed', '--restarts', 'always', '--skew', 'never'])).toMatchObject({ managed: true, restarts: 'always', skew: 'never' });
    expect(parseWorldArgs(['--managed'])).not.toHaveProperty('restarts');
    expect(parseWorldArgs(['--managed', '--skew', 'often'])).toMatch(/--skew needs one of sometimes, always, never, got often/);
    expect(parseWorldArgs(['--managed', '--restarts'])).toMatch(/got nothing/);
    expect(parseWorldArgs(['--managed', '--restarts', 'never', '--restarts', 'never'])).toMatch(/given twice/);
    expect(parseWorldArgs(['--restarts', 'always'])).toMatch(/need --managed/);
    expect(formatFailure({ seed: 1, rounds: 6, managed: true, restarts: 'always', skew: 'never' }, ['users: …'])).toContain(
      'replay: npm run sim -- --world --seed 1 --rounds 6 --managed --restarts always --skew never',
    );
  });
});

describe('admin crashes between a send and a write of one step in the managed world', () => {
  /**
   * The process dies between a message it sent and a write of the same step, either way round
   * (stepActs.ts; a step's deferred sends are part of it): peers or tabs heard what the database
   * never stored, or the database stored what nobody was told. docs/hosting.md "After a crash",
   * the send-and-write table; sim/FINDINGS.md 54.
   */
  it(`sent, then died before the write: ${SEEDS} seeds keep every property`, () => {
    const { traces, bad } = sweep({ crashes: 'always', skew: 'never', crashInside: { first: 'send', then: 'write' } });
    expect(bad).toEqual([]);
    expect(traces.filter((t) => t.crashActs !== undefined).length).toBeGreaterThan(SEEDS / 2);
  }, 300_000);

  it(`written, then died before the send: ${SEEDS} seeds keep every property`, () => {
    const { traces, bad } = sweep({ crashes: 'always', skew: 'never', crashInside: { first: 'write', then: 'send' } });
    expect(bad).toEqual([]);
    expect(traces.filter((t) => t.crashActs !== undefined).length).toBeGreaterThan(SEEDS / 2);
  }, 300_000);
});

describe('a power cut of the admin in the managed world', () => {
  /** What a crash run shows of the world, without the random server ids and update hashes. */
  const shape = (t: ReturnType<typeof runManagedWorld>): string =>
    JSON.stringify({ downs: t.downs, lifecycles: t.lifecycles, closed: t.closed, stored: t.stored, entries: t.entries }, (_k, v: unknown) =>
      v instanceof Map ? [...v] : v,
    ).replace(/~[0-9a-f]+/g, '~');

  it("with the admin's synchronous = FULL is a kill -9: no commit lost, the same run (seeds 1-3; FINDINGS 42, 55)", () => {
    // The disk keeps a prefix of the commits (powerCut.ts); with FULL, every one that returned.
    // With SYNCHRONOUS set to NORMAL (server/storage/sqlite.ts) these runs lose the last commits.
    for (const seed of [1, 2, 3]) {
      const cut = runManagedWorld({ seed, crashes: 'always', powerCut: true });
      expect(cut.lostCommits).toBe(0);
      expect(checkWorld(cut)).toEqual([]);
      expect(shape(cut)).toBe(shape(runManagedWorld({ seed, crashes: 'always' })));
    }
  }, 120_000);

  it('with NORMAL loses the last commits after their messages went out: sites at servers are not resumed (seed 2)', () => {
    // meadow's and forest's records (their joins and membership changes of the last seconds)
    // were lost though their servers had them: the next process started both client-server.
    const t = runManagedWorld({ seed: 2, crashes: 'always', powerCut: 'NORMAL' });
    expect(t.lostCommits).toBeGreaterThan(0);
    expect(checkWorld(t).filter((x) => x.startsWith('resumed:'))).toHaveLength(2);
  }, 60_000);
});

describe('the crash inside a step, as the harness places it', () => {
  it('falls in play or not at all, and a process dead mid-step keeps its lifecycles as at its death (seeds 219, 36)', () => {
    // 219: the drawn time is past play; armed anyway, it killed the process running the end's
    // hand-backs ('back: meadow never came back'). 36: the process died at a transfer's world save
    // and ran the rest of the step, its lifecycle then ending in a transfer it never made.
    const between = { first: 'send', then: 'write' } as const;
    const late = runManagedWorld({ seed: 219, crashes: 'always', crashInside: between });
    expect(late.crashActs).toBeUndefined();
    expect(checkWorld(late)).toEqual([]);
    const mid = runManagedWorld({ seed: 36, crashes: 'always', crashInside: between });
    expect(mid.crashActs?.acts).toEqual(['enter town to p7', 'world']);
    expect(checkWorld(mid)).toEqual([]);
  }, 60_000);
});
