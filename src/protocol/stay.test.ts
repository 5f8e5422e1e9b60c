/**
 * A Timeslot is signed and hashed in its stay (sim/FINDINGS.md 92). A server id lasts for its
 * tab's session, so one server can serve a site in two stays (hand-over, return, hand-over
 * again), and its seqs start at 1 again in each: its #1 of one stay and its #1 of the next differ
 * without any lie. Seed 28882 had the admin take such a pair as an equivocation proof and evict
 * an honest server. Here: two stays of meadow with the same servers, the admin's coordinator of
 * the second, and a core of the second.
 */
import { describe, expect, it } from 'vitest';
import { createSite } from '../game/rules.js';
import type { CoreEvent } from './api.js';
import { makeSiteConfig } from './config.js';
import { createSiteCoordinator } from './coordinator.js';
import { insecureFastScheme, ZERO_HASH } from './crypto.js';
import type { PeerMessage, SiteInit, Timeslot } from './messages.js';
import { createSiteServer } from './server.js';
import { signMembership, signTimeslot, timeslotHash, type TimeslotBody } from './signed.js';

const crypto = insecureFastScheme;
const ADMIN_SECRET = 'ad'.repeat(32);
const secret = (id: string): string => (id.charCodeAt(id.length - 1).toString(16) + 'e7').repeat(16).slice(0, 64);
const config = makeSiteConfig({ site: 'meadow', N_server: 3 });
const ids = ['s0', 's1', 's2'];

/** The admin's coordinator of a stay of meadow handed to s0..s2 at `start`, its hand-over and what it sent. */
function stay(start: number, resume?: ReturnType<ReturnType<typeof createSiteCoordinator>['record']>) {
  let init: SiteInit | null = null;
  const sent: Array<{ to: string; m: PeerMessage }> = [];
  const events: CoreEvent[] = [];
  const admin = createSiteCoordinator({
    config,
    secretKey: ADMIN_SECRET,
    crypto,
    now: () => start,
    random: () => 0,
    send: (to, m) => {
      if (m.type === 'siteInit') init = m;
      else sent.push({ to, m });
    },
    servers: ids.map((id) => ({ id, key: crypto.publicKeyOf(secret(id)) })),
    candidates: () => [],
    users: () => [],
    observe: (e) => events.push(e),
    ...(resume ? { resume } : {}),
  });
  if (!resume) admin.handOver({ snapshot: createSite('meadow'), seq: 0, prev: ZERO_HASH, start, lastActionNo: [] });
  const id = admin.membership()!.stay;
  /** `server`'s chain in this stay: Timeslots 1..n, stamped from `start` (`salt` makes another branch). */
  const chain = (server: string, n: number, salt = 0): Timeslot[] => {
    const out: Timeslot[] = [];
    for (let seq = 1; seq <= n; seq++) {
      const body: TimeslotBody = {
        site: 'meadow',
        server,
        seq,
        stamp: start + seq * 100 + salt,
        prevHash: out.at(-1) ? timeslotHash(out.at(-1)!, id) : ZERO_HASH,
        epoch: 1,
        entries: [],
        heads: [],
        update: null,
      };
      out.push(signTimeslot(body, secret(server), crypto, id));
    }
    return out;
  };
  const ignoreCalls = (): string[] => sent.filter((x) => x.m.type === 'ignoreCall').map((x) => x.to).sort();
  const rejected = (): string[] => events.flatMap((e) => (e.kind === 'rejected' ? [e.code] : []));
  return { admin, init: init as unknown as SiteInit, stay: id, chain, ignoreCalls, rejected, events };
}

/** A core of the stay `b` (server s0, from its hand-over), what it sent and the codes it rejected with. */
function coreOf(b: ReturnType<typeof stay>) {
  const events: CoreEvent[] = [];
  const sent: Array<{ to: string; m: PeerMessage }> = [];
  const server = createSiteServer({
    config,
    id: 's0',
    secretKey: secret('s0'),
    adminKey: b.admin.adminKey(),
    crypto,
    now: () => 5050,
    send: (to, m) => sent.push({ to, m }),
    init: b.init,
    observe: (e) => events.push(e),
  });
  const deliver = (ts: Timeslot): void => server.receive(ts.server, { type: 'timeslot', ...ts });
  const codes = (): string[] => events.flatMap((e) => (e.kind === 'rejected' ? [e.code] : []));
  return { server, sent, deliver, codes };
}

describe('a Timeslot is bound to its stay (FINDINGS 92)', () => {
  it('two stays of one site with the same servers have different stays', () => {
    expect(stay(0).stay).not.toBe(stay(5000).stay);
    expect(stay(0).stay).toBe(stay(0).stay);
  });

  it("the 28882 shape: an honest server's #1 of the stay before and its #1 of this one are no proof for this stay's admin", () => {
    const a = stay(0);
    const b = stay(5000);
    const [s1a] = a.chain('s1', 1);
    const [s1b] = b.chain('s1', 1);
    b.admin.receive('s0', { type: 'equivocationProof', site: 'meadow', a: s1a!, b: s1b! });
    b.admin.receive('s0', { type: 'equivocationProof', site: 'meadow', a: s1b!, b: s1a! });
    expect(b.ignoreCalls()).toEqual([]);
    expect(b.events.some((e) => e.kind === 'equivocation')).toBe(false);
    expect(b.rejected()).toEqual(['ERR_BAD_SIGNATURE', 'ERR_BAD_SIGNATURE']);
    // Two versions of #1 signed in this stay are a proof: s1 is evicted (the others are asked to ignore it).
    const [other] = b.chain('s1', 1, 1);
    b.admin.receive('s0', { type: 'equivocationProof', site: 'meadow', a: s1b!, b: other! });
    expect(b.ignoreCalls()).toEqual(['s0', 's2']);
  });

  it('a coordinator resumed from its record keeps the stay: the same pair is still no proof, a real one still is', () => {
    const a = stay(0);
    const b = stay(5000);
    const resumed = stay(5000, JSON.parse(JSON.stringify(b.admin.record())));
    expect(resumed.stay).toBe(b.stay);
    const [s2a] = a.chain('s2', 1);
    const [s2b] = b.chain('s2', 1);
    resumed.admin.receive('s0', { type: 'equivocationProof', site: 'meadow', a: s2a!, b: s2b! });
    expect(resumed.ignoreCalls()).toEqual([]);
    const [other] = b.chain('s2', 1, 1);
    resumed.admin.receive('s0', { type: 'equivocationProof', site: 'meadow', a: s2b!, b: other! });
    expect(resumed.ignoreCalls()).toEqual(['s0', 's1']);
  });

  it("an ignore request whose held Timeslot is of another stay does not set the cut", () => {
    const a = stay(0);
    const b = stay(5000);
    const heldA = a.chain('s2', 7).at(-1)!; // #7 of the stay before: higher than anything of this one
    const heldB = b.chain('s2', 3).at(-1)!;
    const ask = (from: string, held: Timeslot): void =>
      b.admin.receive(from, { type: 'membershipRequest', site: 'meadow', epoch: 1, no: 1, kind: 'ignore', target: 's2', held });
    ask('s0', heldA);
    ask('s1', heldB);
    const cut = b.admin.membership()?.members.find((m) => m.id === 's2')?.stints.at(-1)?.cut;
    expect(cut).toEqual({ seq: 3, hash: timeslotHash(heldB, b.stay), stamp: heldB.stamp, epoch: 1 });
  });

  it('a core drops a Timeslot of another stay (no conflict, no proof) and takes the one of its own', () => {
    const a = stay(0);
    const b = stay(5000);
    const t = coreOf(b);
    const [s1b] = b.chain('s1', 1);
    const [s1a] = a.chain('s1', 1);
    t.deliver(s1b!);
    expect(t.codes()).toEqual([]);
    t.deliver(s1a!);
    expect(t.codes()).toEqual(['ERR_BAD_SIGNATURE']);
    expect(t.server.equivocations()).toEqual([]);
    expect(t.sent.some((x) => x.m.type === 'equivocationProof')).toBe(false);
  });

  it('a core drops a membership record of another stay, whatever its epoch', () => {
    const a = stay(0);
    const b = stay(5000);
    const t = coreOf(b);
    const old = a.admin.membership()!;
    const later = signMembership({ ...old, epoch: 9, change: { kind: 'admit', target: 's2' } }, ADMIN_SECRET, crypto);
    t.server.receive('s1', { type: 'membership', ...later });
    expect(t.codes()).toEqual(['ERR_STALE']);
    expect(t.server.membership()?.epoch).toBe(1);
    expect(t.server.membership()?.stay).toBe(b.stay);
  });

  it("a replacement syncing before any update takes its own stay's hand-over as its state, not an earlier stay's", () => {
    const a = stay(0);
    const b = stay(5000);
    const first = b.admin.membership()!;
    const members = first.members.map((m) => (m.id === 's2' ? { ...m, slot: null } : m));
    members.push({ id: 'p0', key: crypto.publicKeyOf(secret('p0')), slot: 2, stints: [{ admit: 2, cut: null }] });
    const admit = signMembership({ ...first, epoch: 2, members, change: { kind: 'admit', target: 'p0' } }, ADMIN_SECRET, crypto);
    const events: CoreEvent[] = [];
    const p0 = createSiteServer({
      config,
      id: 'p0',
      secretKey: secret('p0'),
      adminKey: b.admin.adminKey(),
      crypto,
      now: () => 5050,
      send: () => {},
      observe: (e) => events.push(e),
    });
    p0.receive('admin', { type: 'membership', ...admit });
    expect(p0.status()).toBe('syncing');
    // A peer of the earlier stay forwards its hand-over (as to a server that missed one).
    p0.receive('s1', a.init);
    expect(events.flatMap((e) => (e.kind === 'rejected' ? [e.code] : []))).toEqual(['ERR_STALE']);
    expect(p0.status()).toBe('syncing');
    p0.receive('s1', b.init);
    expect(p0.status()).toBe('running');
  });
});
