/**
 * A cut whose Timeslots nobody gives (sim/FINDINGS.md 90, seed 23874): a server blocked on them
 * tells the admin (`cutWait`), and the coordinator finds the site unable to order once N_majority
 * active servers say so lately (`cutUnheld`, read by the admin's lost rule).
 */
import { describe, expect, it } from 'vitest';
import { Chain } from './chain.js';
import type { CutWatch } from './coordinator.js';
import type { SiteCoordinator } from './api.js';
import { windowReady } from './finality.js';
import type { Member, Stint } from './messages.js';
import { extendChain, growChain, HAND_STAY, handMadeServer, handMember, setMembers, setupSite } from './testing.js';

const IDS = ['s0', 's1', 's2', 's3', 's4'];
const member = (id: string, stints?: Stint[]): Member => handMember(id, IDS.indexOf(id), stints);

describe('a server blocked on a cut it cannot fetch', () => {
  it('tells the admin after 2 T_timeout, again every T_req_timeout, and no more once it holds the cut', () => {
    let now = 1000;
    const { ctx, sent } = handMadeServer({ nServer: 5, now: () => now, status: 'running', members: IDS.map((id) => member(id)) });
    ctx.ordering.frontier = 0;
    for (const y of IDS) growChain(ctx, y, 2);
    for (const p of IDS)
      for (const y of IDS) if (p !== y) ctx.finality.cover.set(p, (ctx.finality.cover.get(p) ?? new Map()).set(y, 2));
    growChain(ctx, 's4', 4);
    const cut = { seq: 4, hash: ctx.timeslots.chains.get('s4')!.hashOf(4)! };
    ctx.timeslots.chains.get('s4')!.truncate(2);
    setMembers(ctx, IDS.map((id) => (id === 's4' ? member(id, [{ admit: 0, cut }]) : member(id))));
    const waits = () => sent.filter(({ to, m }) => to === 'admin' && m.type === 'cutWait').map(({ m }) => m);
    const { T_timeout, T_req_timeout } = ctx.cfg;

    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toBe("fetching s4's Timeslots up to its cut 4");
    now += 2 * T_timeout - 1;
    windowReady(ctx);
    expect(waits()).toEqual([]); // a cut's Timeslots usually come within a round trip
    now += 1;
    windowReady(ctx);
    expect(waits()).toEqual([{ type: 'cutWait', site: 'meadow', epoch: ctx.roster.membership?.epoch ?? 0, target: 's4', seq: 4 }]);
    now += T_req_timeout - 1;
    windowReady(ctx);
    expect(waits()).toHaveLength(1);
    now += 1;
    windowReady(ctx);
    expect(waits()).toHaveLength(2);

    extendChain(ctx.timeslots.chains.get('s4') as Chain, 4);
    expect(windowReady(ctx)).toBe(true);
    now += 10 * T_req_timeout;
    windowReady(ctx);
    expect(waits()).toHaveLength(2);
  });
});

describe("a server blocked backfilling a cut server's chain below what it holds", () => {
  it('tells the admin after 2 T_timeout, as for Timeslots past what it holds (sim/FINDINGS.md 106, seed 48968)', () => {
    // s4 is cut at #2 (stamped 150, past the frontier); we hold its chain only from #3 on, anchored
    // at #2: #1-#2 went to nobody, and s4 is gone. Every server of seed 48968's town waited so for good.
    let now = 1000;
    const cut = { seq: 2, hash: 'c'.repeat(32), stamp: 150, epoch: 1 };
    const { ctx, sent } = handMadeServer({
      nServer: 5,
      now: () => now,
      status: 'running',
      members: IDS.map((id) => (id === 's4' ? member(id, [{ admit: 0, cut }]) : member(id))),
    });
    for (const y of ['s0', 's1', 's2', 's3']) growChain(ctx, y, 4);
    for (const p of IDS)
      for (const y of IDS) if (p !== y) ctx.finality.cover.set(p, (ctx.finality.cover.get(p) ?? new Map()).set(y, 4));
    const s4 = new Chain('s4', { seq: 2, hash: cut.hash, stamp: -Infinity }, 256, 256, HAND_STAY);
    ctx.timeslots.chains.set('s4', s4);
    extendChain(s4, 3, { stamp: (seq) => seq * 75 });
    ctx.ordering.frontier = 100;
    const waits = () => sent.filter(({ to, m }) => to === 'admin' && m.type === 'cutWait').map(({ m }) => m);

    expect(windowReady(ctx)).toBe(false);
    expect(ctx.finality.blocked).toBe("backfilling s4's Timeslots before #3");
    now += 2 * ctx.cfg.T_timeout - 1;
    windowReady(ctx);
    expect(waits()).toEqual([]);
    now += 1;
    windowReady(ctx);
    expect(waits()).toEqual([{ type: 'cutWait', site: 'meadow', epoch: ctx.roster.membership?.epoch ?? 0, target: 's4', seq: 2 }]);
  });
});

describe('coordinator: servers that wait for a cut nobody gives (cutUnheld)', () => {
  /** s4 cut off from everyone until the servers' own requests cut it, at a Timeslot they hold. */
  function cutS4() {
    const s = setupSite({});
    const c = s.coordinator as SiteCoordinator & CutWatch;
    s.net.run(1000);
    s.net.drop = (from, to) => from === 's4' || to === 's4';
    const cutOfS4 = () => c.membership()?.members.find((m) => m.id === 's4')?.stints.at(-1)?.cut ?? null;
    for (let t = 0; t < 10_000 && cutOfS4() === null; t += 100) s.net.run(100);
    const k = cutOfS4()?.seq ?? 0;
    const wait = (from: string, seq = k): void =>
      c.receive(from, { type: 'cutWait', site: 'meadow', epoch: c.membership()?.epoch ?? 0, target: 's4', seq });
    return { s, c, k, wait };
  }

  it('holds once N_majority active servers said so lately, about the cut in force', () => {
    const { s, c, k, wait } = cutS4();
    expect(k).toBeGreaterThan(0);
    expect(c.cutUnheld()).toBe(false);
    wait('s0');
    wait('s1');
    wait('s4'); // cut: its word counts for nothing
    wait('s2', k + 1); // not the cut in force
    expect(c.cutUnheld()).toBe(false);
    wait('s2');
    expect(c.cutUnheld()).toBe(true);
    // Not repeated: it may have got them since (each blocked server repeats every T_req_timeout).
    s.net.run(2 * s.config.T_req_timeout + s.config.T_timeout + 1);
    expect(c.cutUnheld()).toBe(false);
  });
});
