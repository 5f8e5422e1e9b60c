import { describe, expect, it } from 'vitest';
import { declineAfter } from './config.js';
import { ZERO_HASH } from './crypto.js';
import { requestIgnore } from './liveness.js';
import { appliedHashes as hashes, growChain, handMadeServer, handMember, playMoves as play, setupSite, type SiteSetup } from './testing.js';

function expectPrefixes(s: SiteSetup, ids: string[]): void {
  const lists = ids.map((id) => hashes(s, id));
  for (const a of lists)
    for (const b of lists) {
      const n = Math.min(a.length, b.length);
      expect(a.slice(0, n)).toEqual(b.slice(0, n));
    }
}

function kinds(s: SiteSetup, kind: string): Array<{ node: string; e: unknown }> {
  return s.events.filter((x) => x.e.kind === kind);
}

/**
 * s0 alone loses s4: until `healAt` every Timeslot of s4, direct or relayed (a TRM answer), is
 * dropped on its way to s0. The others see s4 on time, so no majority to ignore it forms.
 */
function s0LosesS4Until(s: SiteSetup, healAt: number): void {
  s.net.drop = (_f, to, m) => to === 's0' && s.net.time < healAt && ((m.type === 'timeslot' && m.server === 's4') || m.type === 'timeslotReply');
}

/**
 * A site after 10 rounds of play whose s0 reaches the admin over 190 ms each way: every repeat of
 * a request of s0's (each T_req_timeout) leaves before the answer to the one before arrives.
 */
function siteFarFromAdmin(): SiteSetup {
  const far = (a: string, b: string): boolean => (a === 's0' && b === 'admin') || (a === 'admin' && b === 's0');
  const s = setupSite({ latency: (from, to) => (far(from, to) ? 190 : 5) });
  expect(2 * 190).toBeGreaterThan(s.config.T_req_timeout);
  play(s, 10);
  return s;
}

describe('liveness (section 4.4)', () => {
  it('a broken link is bridged by TRM answers; nobody is ignored', () => {
    const s = setupSite({});
    s.net.drop = (from, to, m) => from === 's2' && to === 's0' && m.type === 'timeslot';
    play(s, 30);
    s.net.run(1500);
    expectPrefixes(s, ['s0', 's1', 's2', 's3', 's4']);
    expect(kinds(s, 'ignored')).toEqual([]);
    expect(hashes(s, 's0').length).toBeGreaterThan(5);
    for (const u of s.users.values()) expect(u.pendingActions()).toEqual([]);
  });

  it('a crashed server is ignored at one cut by all, then replaced; the site goes on', () => {
    const s = setupSite({});
    play(s, 10);
    s.net.down.add('s4');
    play(s, 30);
    s.net.run(1000);
    const ign = kinds(s, 'ignored') as Array<{ node: string; e: { server: string; cutSeq: number } }>;
    const honest = ['s0', 's1', 's2', 's3'];
    for (const id of honest) expect(ign.some((x) => x.node === id && x.e.server === 's4')).toBe(true);
    const cuts = new Set(ign.filter((x) => x.e.server === 's4').map((x) => x.e.cutSeq));
    expect(cuts.size).toBe(1);
    expectPrefixes(s, honest);
    for (const u of s.users.values()) expect(u.pendingActions()).toEqual([]);
    // T_ignore later the admin replaces s4 with a spare, which fetches the state from the majority.
    s.net.run(s.config.T_ignore + 2000);
    expect(s.coordinator.activeServers()).not.toContain('s4');
    const newcomer = s.coordinator.activeServers().find((id) => id.startsWith('c'));
    expect(newcomer).toBeDefined();
    play(s, 20);
    s.net.run(2000);
    const nc = s.servers.get(newcomer as string);
    expect(nc?.status()).toBe('running');
    const ids = [...honest, newcomer as string];
    // The newcomer's log starts with the adopted state; from there it matches the others.
    const ref = hashes(s, 's0');
    const mine = hashes(s, newcomer as string);
    expect(mine.length).toBeGreaterThan(0);
    const start = ref.indexOf(mine[0] as string);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(ref.slice(start, start + mine.length)).toEqual(mine.slice(0, ref.length - start));
    expectPrefixes(s, honest);
    void ids;
    for (const u of s.users.values()) expect(u.pendingActions()).toEqual([]);
  });

  // sim/FINDINGS.md 15: the first record restarted every initial member's grace period.
  it("a peer that fell silent is asked to be ignored on time although another's cut arrives meanwhile", () => {
    const s = setupSite({});
    play(s, 10);
    const { T_timeout, T_timeslot } = s.config;
    const asks: Array<{ at: number; target: string }> = [];
    const records: number[] = [];
    s.net.rewrite = (from, to, m) => {
      if (from === 's0' && to === 'admin' && m.type === 'membershipRequest' && m.kind === 'ignore')
        asks.push({ at: s.net.time, target: m.target });
      if (from === 'admin' && to === 's0' && m.type === 'membership') records.push(s.net.time);
      return m;
    };
    // s4 crashes; 150 ms later s3's Timeslots stop reaching anyone. The record that cuts s4
    // reaches s0 after s3 fell silent and before s0 has asked to ignore s3.
    s.net.down.add('s4');
    play(s, 3);
    const silentAt = s.net.time;
    s.net.drop = (from, _to, m) => from === 's3' && m.type === 'timeslot';
    play(s, 30);
    const askS3 = asks.find((a) => a.target === 's3')?.at ?? Infinity;
    expect(records.some((t) => t > silentAt && t < askS3)).toBe(true);
    // T_timeout after s3's last Timeslot s0 asks the others for it; they answer at once that they
    // have nothing, so s0 asks the admin at its next tick or the one after. The record about s4
    // must not restart that wait.
    expect(askS3 - silentAt).toBeLessThanOrEqual(T_timeout + 2 * T_timeslot);
  });
});

describe('ignore cut agreement', () => {
  it('servers that saw different amounts of a dying server still apply one cut and the same medians', () => {
    const s = setupSite({});
    play(s, 8);
    // s4's last Timeslots reach only s0 (and s1 a bit longer): honest servers hold different amounts.
    const t0 = s.net.time;
    s.net.drop = (from, to, m) => {
      if (from !== 's4') return false;
      if (s.net.time > t0 + 350) return true;
      if (s.net.time > t0 + 150) return to !== 's0';
      return to !== 's0' && to !== 's1' && m.type === 'timeslot';
    };
    play(s, 30);
    s.net.down.add('s4');
    play(s, 10);
    s.net.run(1500);
    const ign = kinds(s, 'ignored') as Array<{ node: string; e: { server: string; cutSeq: number } }>;
    const honest = ['s0', 's1', 's2', 's3'];
    const cuts = honest.map((id) => ign.find((x) => x.node === id && x.e.server === 's4')?.e.cutSeq);
    expect(cuts.every((c) => c !== undefined && c === cuts[0])).toBe(true);
    expectPrefixes(s, honest);
    // Same medians too: the applied actions carry them.
    const medians = honest.map((id) =>
      (s.servers.get(id)?.appliedLog() ?? []).flatMap((u) =>
        u.applied.map((a) => `${a.user}#${a.actionNo}@${a.median}`),
      ),
    );
    for (const m of medians) expect(m).toEqual(medians[0]);
    for (const u of s.users.values()) expect(u.pendingActions()).toEqual([]);
  });

  it('a server cut off for a while is ignored, then readmitted at an agreed point, and serves in step again', () => {
    const s = setupSite({ config: { T_ignore: 10_000 } });
    play(s, 10);
    s.net.drop = (from, to) => from === 's2' || to === 's2';
    play(s, 20);
    s.net.drop = () => false;
    play(s, 40);
    s.net.run(2000);
    const admitted = kinds(s, 'admitted') as Array<{ node: string; e: { server: string } }>;
    expect(admitted.some((x) => x.e.server === 's2')).toBe(true);
    expect(s.coordinator.membership()?.members.find((m) => m.id === 's2')?.stints.length).toBe(2);
    const all = ['s0', 's1', 's2', 's3', 's4'];
    expectPrefixes(s, ['s0', 's1', 's3', 's4']);
    // s2 ends in step: same latest update as the others (possibly after a state transfer).
    const last = all.map((id) => s.servers.get(id)?.lastUpdate().hash);
    expect(new Set(last).size).toBe(1);
    for (const u of s.users.values()) expect(u.pendingActions()).toEqual([]);
  });
});

describe('withdrawal', () => {
  it("a lone ignore request is withdrawn once the peer is back: no cut, and no stall until the admin's decline", () => {
    const s = setupSite({});
    play(s, 10);
    const { T_timeout, T_req_timeout } = s.config;
    // s0 alone loses s4 for long enough that it asks to ignore s4.
    const healAt = s.net.time + T_timeout + T_req_timeout + 300;
    s0LosesS4Until(s, healAt);
    const toAdmin: string[] = [];
    s.net.rewrite = (f, to, m) => {
      if (to === 'admin' && f === 's0')
        toAdmin.push(m.type === 'membershipRequest' ? `${m.type}:${m.kind}:${m.target}` : m.type);
      return m;
    };
    play(s, Math.ceil((healAt - s.net.time) / 50));
    expect(toAdmin).toContain('membershipRequest:ignore:s4');
    // Back in time: s0 withdraws and unfreezes well before the admin would decline
    // (declineAfter = 3 (T_req_timeout + T_timeout) after the request).
    play(s, 1);
    s.net.run(T_timeout + 400);
    for (const u of s.users.values()) expect(u.pendingActions()).toEqual([]);
    expect(toAdmin).toContain('withdrawRequest');
    expect(kinds(s, 'ignored')).toEqual([]);
    expectPrefixes(s, ['s0', 's1', 's2', 's3', 's4']);
  });

  it('a withdrawal is answered when the round trip to the admin is longer than its repeat (world seed 100751)', () => {
    // Every repeat of s0's withdrawal leaves before the answer to the one before arrives. A repeat
    // must not make that answer stale, or s0 stays frozen on s4 for good and the others cut s0.
    const s = siteFarFromAdmin();
    const { T_timeout, T_req_timeout } = s.config;
    const healAt = s.net.time + T_timeout + T_req_timeout + 300;
    s0LosesS4Until(s, healAt);
    const withdrawals: number[] = [];
    s.net.rewrite = (f, to, m) => {
      if (to === 'admin' && f === 's0' && m.type === 'withdrawRequest') withdrawals.push(s.net.time);
      return m;
    };
    play(s, Math.ceil((healAt - s.net.time) / 50));
    play(s, 40);
    s.net.run(3000);
    expect(withdrawals.length).toBeGreaterThan(0);
    // Answered: s0 stops asking, unfreezes s4 and nobody is cut.
    expect(withdrawals.at(-1)! - withdrawals[0]!).toBeLessThan(1000);
    expect(kinds(s, 'ignored')).toEqual([]);
    for (const u of s.users.values()) expect(u.pendingActions()).toEqual([]);
    expectPrefixes(s, ['s0', 's1', 's2', 's3', 's4']);
  });
});

describe('a lone ignore request far from the admin (sim/FINDINGS.md 22)', () => {
  it("is declined while its target still lags: its repeats keep its number, so the admin's answer is not stale", () => {
    // s0's link to the admin takes 190 ms each way, so each repeat of its ignore request (every
    // T_req_timeout) leaves before the answer to the one before arrives. s4's Timeslots do not
    // reach s0 for long; the others see them, so no majority forms and the admin declines. s0
    // must take that answer and unfreeze s4 while s4 still lags. With a new number per repeat the
    // answer was stale on arrival: s0 held s4 back until the others cut s0 for stalling them.
    const s = siteFarFromAdmin();
    const { T_timeout, T_req_timeout } = s.config;
    const healAt = s.net.time + T_timeout + T_req_timeout + declineAfter(s.config) + 1500;
    s0LosesS4Until(s, healAt);
    const asks: number[] = [];
    /** When s0's Timeslots declared it ignores s4, or not; when a record first cut s0. */
    const declares: Array<[number, boolean]> = [];
    let s0CutAt = Infinity;
    s.net.rewrite = (f, to, m) => {
      if (f === 's0' && to === 'admin' && m.type === 'membershipRequest' && m.kind === 'ignore') asks.push(m.no);
      if (f === 's0' && to === 's1' && m.type === 'timeslot') declares.push([s.net.time, (m.ignoring ?? []).includes('s4')]);
      if (f === 'admin' && m.type === 'membership' && m.change.target === 's0') s0CutAt = Math.min(s0CutAt, s.net.time);
      return m;
    };
    play(s, Math.ceil((healAt - s.net.time) / 50));
    const frozeAt = declares.find(([, d]) => d)?.[0] ?? Infinity;
    expect(frozeAt).toBeLessThan(healAt);
    expect(asks.length).toBeGreaterThan(2); // repeated while unanswered
    expect(new Set(asks).size).toBeLessThan(asks.length); // a repeat keeps its number
    // Answered before s4 came back and before anyone cut s0: s0 stopped declaring s4.
    const until = Math.min(healAt, s0CutAt);
    expect(declares.some(([t, d]) => t > frozeAt && t < until && !d)).toBe(true);
    play(s, 40);
    s.net.run(3000);
    for (const u of s.users.values()) expect(u.pendingActions()).toEqual([]);
    // Every pair of servers agrees on every update both applied (one may have resynced since).
    const logs = ['s0', 's1', 's2', 's3', 's4'].map((id) => new Map(s.servers.get(id)!.appliedLog().map((u) => [u.seq, u.hash])));
    for (const a of logs) for (const b of logs) for (const [seq, h] of a) if (b.has(seq)) expect(b.get(seq)).toBe(h);
  });
});

describe('out of step', () => {
  it('a server whose state differs from the majority notices and resyncs by state transfer', () => {
    // s3 gets a different (validly signed) hand-over: one item fewer. Its updates hash differently.
    const s = setupSite({
      rewriteInit: (to, init) =>
        to === 's3'
          ? {
              ...init,
              state: { ...init.state, site: { ...init.state.site, items: init.state.site.items.slice(1) } },
            }
          : init,
    });
    play(s, 30);
    s.net.run(2000);
    const s3 = s.servers.get('s3');
    expect(s.events.some((x) => x.node === 's3' && x.e.kind === 'resync')).toBe(true);
    expect(s.events.some((x) => x.node === 's3' && x.e.kind === 'resynced')).toBe(true);
    expect(s3?.lastUpdate()).toEqual(s.servers.get('s0')?.lastUpdate());
    expect(s3?.snapshot()).toEqual(s.servers.get('s0')?.snapshot());
    // Users never accepted s3's divergent updates (they were a minority).
    const ref = hashes(s, 's0');
    for (const u of s.users.values()) {
      const acc = u.acceptedLog().map((a) => `${a.seq}:${a.hash}`);
      expect(acc).toEqual(ref.slice(0, acc.length));
      expect(u.pendingActions()).toEqual([]);
    }
  });
});

describe('restart', () => {
  it('a restarted server (same id and key, no memory) does not sign a second chain', () => {
    const s = setupSite({});
    play(s, 10);
    s.net.down.add('s1');
    s.net.run(100);
    // A new core object for s1: it gets the hand-over forwarded by a peer, sees peers hold its
    // Timeslots, and stops instead of equivocating.
    const fresh = s.makeServer('s1');
    s.net.down.delete('s1');
    play(s, 20);
    s.net.run(1000);
    expect(fresh.status()).toBe('evicted');
    expect(fresh.timeslotSeq()).toBe(0);
    expect(s.coordinator.evicted()).toEqual([]);
    expectPrefixes(s, ['s0', 's2', 's3', 's4']);
  });
});

describe('covers (sim/FINDINGS.md 58)', () => {
  /**
   * s0 (us) readmitted at epoch 2 asks to ignore s1, an initial member whose epoch-2 marker (#3,
   * stamp 300) we hold, as we hold its chain up to #`held`; s2, admitted at epoch 3 and still
   * syncing, never echoed s1, so that marker is not stable. The `covers` our request carries.
   */
  function coversWithUnechoedMarker(held: number): boolean | undefined {
    const { ctx, sent } = handMadeServer({
      nServer: 3,
      now: 1000,
      status: 'running',
      members: [
        handMember('s0', 0, [
          { admit: 0, cut: { seq: 0, hash: ZERO_HASH } },
          { admit: 2, cut: null },
        ]),
        handMember('s1', 1),
        handMember('s2', 2, [{ admit: 3, cut: null }]),
      ],
    });
    growChain(ctx, 's1', held, { epoch: (seq) => (seq >= 3 ? 2 : 1) });
    requestIgnore(ctx, 's1');
    const req = sent.find(({ m }) => m.type === 'membershipRequest')?.m;
    if (req?.type !== 'membershipRequest') throw new Error('no ignore request sent');
    expect(req.held?.seq).toBe(held);
    return req.covers;
  }

  it("a held marker counts although a newcomer never echoed it (seed 13814: the target was gone, and the site's cut waited for good)", () => {
    // Our stint's latest marker is s1's, at 300: every window a server closed without the record
    // admitting us ends before it, and our held #6 (stamp 600) lies past it.
    expect(coversWithUnechoedMarker(6)).toBe(true);
  });

  it('a marker not held leaves the request not covering', () => {
    // s1's chain up to #2 only (epoch 1): its marker for our stint is not known.
    expect(coversWithUnechoedMarker(2)).toBe(false);
  });
});
