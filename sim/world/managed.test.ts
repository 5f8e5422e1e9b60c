/**
 * The managed world (managed.ts: the admin's real Game and P2PManager, users' own cores, loss,
 * partitions, slow tabs) under `npm run test:sim`: its runs keep the properties, each managed
 * property fails on a broken trace, the re-login stall is kept as a seed, and so are the seeds
 * that found core defects.
 */
import { describe, expect, it } from 'vitest';
import { ENTRY_BOUND_MS, runManagedWorld } from './managed.js';
import { checkWorld } from './properties.js';
import { runWorld, type WorldTrace } from './world.js';

const SEEDS = Number(process.env.MANAGED_SEEDS ?? 8);
/**
 * Seeds that found core defects (sim/FINDINGS.md 17, 18, 20 and 21), kept as ordinary seeds: 4 (an
 * honest replacement applied another update 7: 'logs:'; then, after an admin restart, two joins
 * ordered before it never sent again: 'users:'), 23 (a replacement's admission point
 * never known, its site never handed back: 'back:'), 32 (a join two new servers noted before
 * their admission points: 'entries:'), 172 (a cut's stamp taken for a server that had marked
 * before its cut: 'logs:'), 384 and 458 (a server admitted into a slot a refill filled, never
learning its admission point, FINDINGS 20: 'back:').
 */
const FOUND = [4, 23, 32, 97, 111, 172, 384, 458]; // 97: FINDINGS 24 ('choice:'), the admin's pick; 111: FINDINGS 26, a replacement applied another update
// (Seed 4 runs twice with the default MANAGED_SEEDS: named here, it stays when that changes.)

/** Seeds of the fresh managed sweeps (docs/testing.md, 3000-4999) that failed before a fix: what failed, and where the fix is. */
const SWEPT: Array<[number, string]> = [
  [3085, "back: ends at suspend, a restarted admin refused a record with an empty slot (server/p2p/resume.ts)"],
  [3167, 'back: as 3085, one slot empty and one refilled'],
  [3250, 'back: as 3085, suspended while transferring with two slots empty'],
  [3844, 'back: as 3085'],
  [3798, "entries: a login moved on by its previous session's portal before it had the state (managed.ts)"],
  [3868, 'entries: as 3798, on a resumed site'],
  [3299, "users: a departure applied while the admin was down, its copies at a server that walked in (FINDINGS 30: resent on keyOk)"],
  [3627, 'users: as 3299'],
  [3813, 'users: as 3299'],
  [4157, 'entries: town handed to three players whose portals there came later in the same update (FINDINGS 32: Transit.enRoute)'],
  [4513, 'entries: a refill picked a player whose login waited for its state from that very site (FINDINGS 33)'],
  [4311, "users: the admin stopped while handing a site back; its record lacked the marker's number, so a join after the restart reused it (FINDINGS 34: server/p2p/reads.ts)"],
  [4594, "entries: a slow tab's new server re-asked every T_content for contents queued behind its input, its own login 16 s late (FINDINGS 36: src/protocol/applying.ts backs off)"],
  [4648, 'entries: a login 9.8 s late at a41994e; passes since b83b174 (not traced)'],
  [3623, 'entries: a transfer short of a working majority, a refill of a waiting login and a content burst (FINDINGS 37: passes with 33 and 36)'],
  [5731, "back: windows waited for Timeslots, before its admission point, of a server gone that no one else held (FINDINGS 38: finality.ts)"],
  [215, "back: a walked-in server's cut waited for good when `covers` compared with the rounded admission point (FINDINGS 39: liveness.ts)"],
  [7769, "logs: a chain joined midway at a server's cut lacked the cut Timeslot's reports, and another update 216 was applied (FINDINGS 43: finality.ts)"],
  [9594, "logs: a replacement closed a window without a readmitted server's Timeslots up to its earlier stint's cut, and another update 188 was applied (FINDINGS 50: finality.ts)"],
  [8747, "users: a resumed site's fallback folded pending joins into its base, and a later save dropped those users (FINDINGS 49: fallback.ts SiteFallback.resumed)"],
  [12312, 'threw: the harness played a path on the map of another site, from a view of a server of the site its player had left (harness: managed.ts plays only on a view of its own site)'],
  [9353, "entries: a slow tab's login 4.7 s into its 7 s bound, its enter still queued when the run stopped (harness: managed.ts runs open entries out)"],
  [9711, "back: a replacement joined a gone server's chain midway at its state's hint and backfilled for good; the hand-back's fetch verified its older update every time (FINDINGS 60: timeslots.ts anchorAtHints; 51: stateFetch.ts newerThan)"],
  [11557, "back: a replaced tab's cut that no decider covered was never decided, and the hand-back never ended (FINDINGS 57, 70: found lost on coordinator.ts uncoverable)"],
  [19543, "users: a departure applied while the admin was down reached it only from a server evicted as its key came back (FINDINGS 76: coordinator.ts counts it over its recorded stint; relay.ts lets a past server's word through)"],
  [18968, "entries: a loaded replacement re-asked for contents whose answers were still in its queue, 2.5 s behind, and held meadow back (FINDINGS 77: applying.ts waits while answers come in)"],
  [23874, "back: every server of town waited for a cut's Timeslots that only gone servers held, and the hand-back never ended (FINDINGS 90: cutWait, coordinator's cutUnheld finds it lost; at the merged code it passes without that too, the run moved)"],
  [28882, "back: a resumed site gave its old id back to a server it had evicted before its key came back; its tab served on with the old core, which later 'proved' an honest server of the next period equivocated (FINDINGS 91: resumedWaiting.ts)"],
  [44669, "logs: a replacement held a server's chain only from a later epoch's Timeslot and took that mark for a readmission's marker: a later admission point than the others', two windows closed without the readmitted server's reports, and another update 25 was applied (FINDINGS 105: finality.ts markIsFirst)"],
  [48968, "back: every server of town waited for good to backfill a cut server's Timeslots below the ones it held, which went to nobody, and never told the admin, so the hand-back never ended (FINDINGS 106: finality.ts, cutWait from the backfill)"],
];

/** One clean managed run, copied fresh for each breakage. */
const BASE_SEED = 1;
const base = runWorld({ seed: BASE_SEED, managed: true });
const copy = (): WorldTrace => structuredClone(base);

describe('the managed world', () => {
  it(`keeps every property over ${SEEDS} seeds`, () => {
    const bad: string[] = [];
    let transfers = 0;
    let accepted = 0;
    let compared = 0;
    let entries = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const t = runWorld({ seed, managed: true });
      transfers += t.transfers ?? 0;
      accepted += (t.views ?? []).reduce((n, x) => n + x.accepted.length, 0);
      compared += (t.storedChecks ?? []).filter((c) => c.majority !== null).length;
      entries += (t.entries ?? []).filter((e) => e.readyAt !== null).length;
      for (const x of checkWorld(t)) bad.push(`seed ${seed}: ${x}`);
    }
    expect(bad).toEqual([]);
    // The runs did something: the manager moved sites to servers, users accepted updates by
    // majority, hand-backs were compared with the majority, players logged in and took portals.
    expect(transfers).toBeGreaterThan(SEEDS);
    expect(accepted).toBeGreaterThan(SEEDS * 20);
    expect(compared).toBeGreaterThan(SEEDS);
    expect(entries).toBeGreaterThan(SEEDS * 15);
  }, 600_000);

  it.each(FOUND)('keeps every property on seed %i, which found a core defect', (seed) => {
    expect(checkWorld(runWorld({ seed, managed: true }))).toEqual([]);
  }, 60_000);

  // (3844's site waits for its lost majority to show: about 4 s of CPU, minutes of wall under load.)
  it.each(SWEPT)('keeps every property on seed %i, which a fresh sweep found (%s)', (seed) => {
    expect(checkWorld(runWorld({ seed, managed: true }))).toEqual([]);
  }, 180_000);

  it("a login the admin moves on before it had the state is done where it was put last (seed 3798)", () => {
    // p0 logs in on town while its previous session's portal is still on its way at the servers:
    // applied 0.9 s later, it moves p0 to meadow, where the login gets the state.
    const t = runWorld({ seed: 3798, managed: true });
    const login = t.entries!.find((e) => e.user === 'p0' && e.via === 'login' && e.at === 6579)!;
    expect(login.site).toBe('meadow');
    expect(login.readyAt! - login.at).toBeLessThan(ENTRY_BOUND_MS);
  }, 60_000);

  it('is reproducible: a seed gives the same run', () => {
    const again = runWorld({ seed: BASE_SEED, managed: true });
    expect(again.entries).toEqual(base.entries);
    expect([...again.lifecycles]).toEqual([...base.lifecycles]);
    expect([...again.closed]).toEqual([...base.closed]);
  });
});

describe('each managed-world property fails on a broken trace', () => {
  it('the real trace is clean and has what the breakages need', () => {
    expect(checkWorld(base)).toEqual([]);
    expect(base.views?.some((v) => v.accepted.length > 1)).toBe(true);
    expect(base.storedChecks?.some((c) => c.majority !== null)).toBe(true);
    const calm = Math.max(0, ...(base.faults ?? []).map((f) => f.end));
    const ready = base.entries!.filter((e) => e.readyAt !== null && e.at > calm);
    expect(ready.filter((e) => e.site !== ready.at(-1)!.site).length).toBeGreaterThan(2);
  });

  it('views: a user that accepted another update than its servers, or one no server applied', () => {
    const t = copy();
    const v = t.views!.find((x) => x.accepted.length > 1)!;
    const [seq] = v.accepted[0]!;
    v.accepted[0] = [seq, 'f'.repeat(32)];
    v.accepted.push([1e9, 'e'.repeat(32)]);
    expect(checkWorld(t)).toEqual([
      `views: ${v.user} accepted another update ${seq} on ${v.key} than its servers`,
      `views: ${v.user} accepted update 1000000000 on ${v.key} that no server applied`,
    ]);
  });

  it("views: a user is compared with the update most servers applied, not with a minority's (FINDINGS 105)", () => {
    const t = copy();
    // A site whose last-read server log shares its first seq with two others, and a user that accepted that seq there.
    const found = [...t.logs].flatMap(([key, logs]) => {
      const withLogs = [...logs].filter(([, x]) => x.length > 0);
      const [server, log] = withLogs.at(-1) ?? [];
      if (!server || !log || withLogs.length < 3) return [];
      const seq = log[0]![0];
      const agree = withLogs.filter(([, x]) => x.some(([s, h]) => s === seq && h === log[0]![1])).length;
      const user = t.views?.find((v) => v.key === key && v.accepted.some(([s]) => s === seq));
      return agree >= 3 && user ? [{ key, server, seq }] : [];
    })[0]!;
    // The last server read diverges on that seq: the logs property names it; the users agree with the majority.
    const log = t.logs.get(found.key)!.get(found.server)!;
    log[0] = [found.seq, 'f'.repeat(32)];
    expect(checkWorld(t)).toEqual([`logs: on ${found.key}, ${found.server} accepted another update ${found.seq}`]);
  });

  it('entries: one never ready, one too slow, one closed after waiting past the bound; a fault on its site healing later excuses the wait', () => {
    const t = copy();
    // Entries after every fault of the run healed (faults before them excuse nothing).
    const calm = Math.max(0, ...(t.faults ?? []).map((f) => f.end));
    const ready = t.entries!.filter((e) => e.readyAt !== null && e.at > calm);
    // d's site gets a fault of its own: the three others are on other sites.
    const d = ready.at(-1)!;
    const [a, b, c] = ready.filter((e) => e.site !== d.site);
    a!.readyAt = null;
    b!.readyAt = b!.at + ENTRY_BOUND_MS + 1;
    c!.readyAt = null;
    c!.abandoned = c!.at + ENTRY_BOUND_MS + 1;
    // Late, but a partition ended just before: counted from its healing, in bound.
    d.readyAt = d.at + ENTRY_BOUND_MS + 500;
    t.faults = [
      ...(t.faults ?? []),
      { start: d.at, end: d.at + 1000, what: `${d.site} lost its majority`, site: d.site! },
    ];
    const out = checkWorld(t).filter((x) => x.startsWith('entries:'));
    expect(out).toHaveLength(3);
    expect(out[0]).toContain(`${a!.user}'s ${a!.via}`);
    expect(out[0]).toContain('never had');
    expect(out[1]).toContain(`took ${ENTRY_BOUND_MS + 1} ms`);
    expect(out[2]).toContain('when its tab closed');
  });

  it('stored: the admin took back another state than the majority had at the cut', () => {
    const t = copy();
    const c = t.storedChecks!.find((x) => x.majority !== null)!;
    c.stored = c.stored!.replace(/"x":\d+/, '"x":99');
    expect(checkWorld(t)).toEqual([
      `stored: ${c.site} as the admin stored it at the cut ${c.seq} is not the majority's state`,
    ]);
  });

  it('choice: a player picked to serve the site it plays on', () => {
    const t = copy();
    expect(t.serves!.length).toBeGreaterThan(2);
    const c = t.serves![0]!;
    c.playingOn = c.site;
    expect(checkWorld(t)).toEqual([
      `choice: ${c.user} was picked to serve ${c.site} at ${c.at} while playing on it`,
    ]);
  });
});

describe('the re-login stall as a seed', () => {
  /**
   * On each P2P site, quiet by then, one player at a time logs out and in again, three times;
   * servers keep sending to the user's previous session until the new one speaks (tab.ts), as
   * closed tabs' channels did. Without last session's fix (src/protocol/user.ts: an entering user
   * asks for the state after 4 T_timeout on its own) these logins never get the state: checked
   * by reverting it, which gives "entries: ...'s login (...) had no state after 7938 ms when its
   * tab closed".
   */
  it('every log-out-and-in on a P2P site gets the state within the bound', () => {
    const t = runManagedWorld({ seed: 2, relogins: 3 });
    // The scenario is the stall's: messages went down previous sessions' channels.
    expect(t.lingered).toBeGreaterThan(0);
    const logins = (t.entries ?? []).filter((e) => e.via === 'login' && e.at > 6000);
    expect(logins.length).toBeGreaterThan(6);
    expect(checkWorld(t)).toEqual([]);
  }, 60_000);
});

describe('seeds found with the admin restarting in every run', () => {
  /**
   * 41, 49 and 96: a restarted admin dropped a P2P site short of servers (sim/FINDINGS.md 25,
   * 'back:'); 74: a login's entry stayed on the site the admin first put the player on after the
   * game moved it on (its previous session's portal applied late), a harness defect ('entries:').
   */
  it.each([41, 49, 74, 96])('keeps every property on seed %i with an admin restart', (seed) => {
    expect(checkWorld(runWorld({ seed, managed: true, restarts: 'always' }))).toEqual([]);
  }, 60_000);
});
