/** Whole-world runs (world.ts) under `npm run test:sim`, and each property failing on a broken trace. */
import { describe, expect, it } from 'vitest';
import { formatFailure, parseWorldArgs, runWorldCli } from './cli.js';
import { checkWorld } from './properties.js';
import { DEFAULT_P2P } from '../../server/p2p/settings.js';
import { runWorld, type WorldTrace } from './world.js';

const SEEDS = Number(process.env.WORLD_SEEDS ?? 24);

/** One real run, copied fresh for each breakage. */
const base = runWorld({ seed: 1 });
const copy = (): WorldTrace => structuredClone(base);

describe('the whole world', () => {
  it(`keeps every property over ${SEEDS} seeds`, () => {
    const bad: string[] = [];
    let joins = 0;
    let carried = 0;
    let crashed = 0;
    let replacedServed = 0;
    let restarts = 0;
    let resent = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const t = runWorld({ seed });
      joins += t.joins.length;
      crashed += t.crashed.length;
      restarts += t.restarts;
      resent += t.resentDepartures;
      for (const logs of t.logs.values())
        for (const [id, log] of logs) if (/-c\d$/.test(id) && log.length > 0) replacedServed++;
      carried += [...t.closed.values()].flatMap((v) => v.snapshot.users.flatMap((u) => u.inventory)).length;
      for (const v of checkWorld(t)) bad.push(`seed ${seed}: ${v}`);
    }
    expect(bad).toEqual([]);
    // The runs did something: players switched sites and logged in again, and carried items.
    expect(joins).toBeGreaterThan(SEEDS * 3);
    expect(carried).toBeGreaterThan(SEEDS);
    // Tabs crashed, and spares took their slots and served.
    expect(crashed).toBeGreaterThan(SEEDS / 5);
    expect(replacedServed).toBeGreaterThanOrEqual(crashed);
    // The admin restarted, and departures applied while it was down reached it by the resend.
    expect(restarts).toBeGreaterThan(SEEDS / 10);
    expect(resent).toBeGreaterThan(0);
  }, 600_000);

  it('is reproducible: a seed gives the same run', () => {
    const again = runWorld({ seed: 1 });
    expect(again.joins).toEqual(base.joins);
    expect([...again.closed]).toEqual([...base.closed]);
  });
});

describe('seeds the long sweep found (docs/testing.md)', () => {
  it('100751: two servers 300 ms from the admin withdraw their ignore requests, and the site comes back', () => {
    // Servers as the admin chose them before MMO_MAX_SERVER_RTT_MS was 200 (at 400). A repeated
    // withdrawal took a new number, so the admin's answer to the one before (a round trip longer
    // than T_req_timeout) was stale on arrival: frozen for good (src/protocol/liveness.ts).
    expect(checkWorld(runWorld({ seed: 100751, players: 1, rounds: 2, maxServerRttMs: 400 }))).toEqual([]);
  });

  it('101779: a departure the stopping admin had one vote for reaches the restarted one by the resend', () => {
    // forest-s1's update with p0's departure reached the admin just before it stopped, and
    // forest-s2 crashed while it was down: only a resend of everything kept, as SiteServerHost
    // does, gives the new admin a majority for it (else "p0 is in no place").
    const t = runWorld({ seed: 101779, players: 8, rounds: 6 });
    expect(t.restarts).toBe(1);
    expect(checkWorld(t)).toEqual([]);
  });
});

describe('found by the long sweep after the fixes', () => {
  it('205047: an admin stopped during the hand-back takes it up again once restarted, and every site comes back', () => {
    // The restart came after the run had started handing every site back: the new admin resumed
    // each site as running, and nothing closed it again ("meadow never came back", players lost).
    const t = runWorld({ seed: 205047 });
    expect(t.restarts).toBe(1);
    expect(checkWorld(t)).toEqual([]);
    for (const site of t.sites)
      expect(t.lifecycles.get(site)).toEqual(['resume', 'allBack', 'handBack', 'cut']);
  });

  it('206965: a join whose user logs out before the next look still counts as shown, once its departure is applied', () => {
    // p3 landed on forest just before the hand-back and logged out during it: no snapshot ever
    // held it, yet the majority applied its departure ("p3 joined forest ... and never showed").
    const t = runWorld({ seed: 206965 });
    const j = t.joins.find((x) => x.user === 'p3' && x.site === 'forest' && x.at > 5000);
    expect(j?.seenAt).not.toBeNull();
    expect(checkWorld(t)).toEqual([]);
  });
});

describe('servers the admin may choose (MMO_MAX_SERVER_RTT_MS)', () => {
  it('keeps its limit within T_timeout - T_timeslot, the echo lag the core tolerates', () => {
    expect(DEFAULT_P2P.maxServerRttMs).toBeLessThanOrEqual(DEFAULT_P2P.T_timeout - DEFAULT_P2P.T_timeslot);
  });

  it('101868: servers 300 ms and more from the admin stall joins past the bound; within the limit none serve (131 too)', () => {
    // The precondition of JOIN_BOUND_MS, shown: with the old limit (400) these peers served. 131
    // at 400 stalled also on declines stale on arrival (sim/FINDINGS.md 22), and passes since.
    expect(checkWorld(runWorld({ seed: 131, maxServerRttMs: 400 }))).toEqual([]);
    expect(checkWorld(runWorld({ seed: 101868, players: 6, maxServerRttMs: 400 }))).not.toEqual([]);
    expect(checkWorld(runWorld({ seed: 131 }))).toEqual([]);
    expect(checkWorld(runWorld({ seed: 101868, players: 6 }))).toEqual([]);
  });
});

describe('each world property fails on a broken trace', () => {
  it('the real trace is clean', () => {
    expect(checkWorld(base)).toEqual([]);
  });

  it('back: a site that never came back, a lifecycle that did not end at the admin, an error logged', () => {
    const t = copy();
    t.closed.delete('meadow');
    t.lifecycles.set('forest', ['transfer', 'running']);
    t.errors.push('p2p.illegal_transition {}');
    const v = checkWorld(t).filter((x) => x.startsWith('back:'));
    expect(v).toHaveLength(3);
  });

  it('users: a player in two places, one in none, a ghost', () => {
    const t = copy();
    const [site, v] = [...t.closed].find(([, s]) => s.snapshot.users.length > 0)!;
    const someone = v.snapshot.users[0]!;
    t.stored.set(someone.name, someone);
    const other = [...t.closed.values()]
      .flatMap((c) => c.snapshot.users.map((u) => u.name))
      .find((n) => n !== someone.name)!;
    for (const c of t.closed.values()) c.snapshot.users = c.snapshot.users.filter((u) => u.name !== other);
    t.arrivedAtAdmin.set('nobody', { ...someone, name: 'nobody' });
    const out = checkWorld(t).filter((x) => x.startsWith('users:'));
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${someone.name} is in on ${site} and stored`),
        expect.stringContaining(`${other} is in no place`),
        expect.stringContaining('nobody appeared from nowhere'),
      ]),
    );
  });

  it('items: an item on a map and in an inventory', () => {
    const t = copy();
    const v = [...t.closed.values()].find(
      (s) => s.snapshot.users.length > 0 && s.snapshot.site.items.length > 0,
    )!;
    const item = v.snapshot.site.items[0]!;
    v.snapshot.users[0]!.inventory.push(item);
    expect(checkWorld(t)).toEqual([`items: ${item.id} exists 2 times`]);
  });

  it('logs: a server that accepted another update for a seq', () => {
    const t = copy();
    const logs = t.logs.get('meadow')!;
    const [, log] = [...logs].find(([, l]) => l.length > 1)!;
    const seq = log[1]![0];
    log[1] = [seq, 'f'.repeat(32)];
    const v = checkWorld(t);
    expect(v.length).toBeGreaterThan(0);
    for (const x of v)
      expect(x).toMatch(new RegExp(`^logs: on meadow, meadow-[sc]\\d accepted another update ${seq}$`));
  });

  it('joins: one never seen, one too slow', () => {
    const t = copy();
    expect(t.joins.length).toBeGreaterThan(1);
    t.joins[0]!.seenAt = null;
    t.joins[1]!.seenAt = t.joins[1]!.at + 3001;
    expect(checkWorld(t).filter((x) => x.startsWith('joins:'))).toHaveLength(2);
  });
});

describe('npm run sim -- --world', () => {
  it('parses its options strictly', () => {
    expect(parseWorldArgs(['--seed', '7', '--seeds', '3'])).toMatchObject({ seed: 7, seeds: 3 });
    expect(parseWorldArgs(['--seeds', '0'])).toMatch(/--seeds needs a whole number/);
    expect(parseWorldArgs(['--runs', '2'])).toMatch(/unknown option --runs/);
    expect(parseWorldArgs(['--seed', '1', '--seed', '2'])).toMatch(/given twice/);
    expect(parseWorldArgs(['--managed', '--seed', '4'])).toMatchObject({ seed: 4, managed: true });
    expect(parseWorldArgs(['--managed', '--managed'])).toMatch(/--managed given twice/);
  });

  it('prints the line that replays a failing seed', () => {
    expect(formatFailure({ seed: 42, players: 8, rounds: 6 }, ['users: p1 is in no place'])).toContain(
      'replay: npm run sim -- --world --seed 42 --players 8 --rounds 6',
    );
    expect(formatFailure({ seed: 4, rounds: 6, managed: true }, ['logs: …'])).toContain(
      'replay: npm run sim -- --world --seed 4 --rounds 6 --managed',
    );
  });

  it('runs seeds and exits 0 when clean, 2 on bad arguments', () => {
    const out: string[] = [];
    expect(runWorldCli(['--seed', '3'], (t) => void out.push(t))).toBe(0);
    expect(out.join('')).toMatch(/1 world run\(s\), seeds 3\.\.3.*violations: 0/);
    expect(
      runWorldCli(
        ['--bogus'],
        () => undefined,
        () => undefined,
      ),
    ).toBe(2);
  });
});
