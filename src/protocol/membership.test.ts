/**
 * Requests from peers that no record the receiver holds names (sim/FINDINGS.md 14): a server a
 * newer record admits, whose record is still on its way to the receiver, is asked for the record
 * and not refused, and a Timeslot it sent is kept until the record comes (FINDINGS 35); a stranger
 * is refused.
 */
import { describe, expect, it } from 'vitest';
import { createSite } from '../game/rules.js';
import type { CoreEvent } from './api.js';
import { makeSiteConfig } from './config.js';
import { createSiteCoordinator } from './coordinator.js';
import { insecureFastScheme, ZERO_HASH } from './crypto.js';
import type { Membership, PeerMessage, SiteInit, Timeslot } from './messages.js';
import { createSiteServer } from './server.js';
import { signMembership, signTimeslot, timeslotHash } from './signed.js';
import { MAX_EARLY_TIMESLOTS } from './timeslots.js';

const crypto = insecureFastScheme;
const ADMIN_SECRET = 'ad'.repeat(32);
const secret = (id: string): string => (id.charCodeAt(id.length - 1).toString(16) + 'cd').repeat(16).slice(0, 64);

function setup(withInit = true) {
  const config = makeSiteConfig({ site: 'meadow', N_server: 3 });
  let init: SiteInit | null = null;
  const admin = createSiteCoordinator({
    config,
    secretKey: ADMIN_SECRET,
    crypto,
    now: () => 0,
    random: () => 0,
    send: (_to, m) => {
      if (m.type === 'siteInit') init = m;
    },
    servers: ['s0', 's1', 's2'].map((id) => ({ id, key: crypto.publicKeyOf(secret(id)) })),
    candidates: () => [],
    users: () => [],
  });
  admin.handOver({ snapshot: createSite('meadow'), seq: 0, prev: ZERO_HASH, start: 0, lastActionNo: [] });
  const events: CoreEvent[] = [];
  const sent: Array<{ to: string; m: PeerMessage }> = [];
  const server = createSiteServer({
    config,
    id: 's0',
    secretKey: secret('s0'),
    adminKey: admin.adminKey(),
    crypto,
    now: () => 10,
    send: (to, m) => sent.push({ to, m }),
    ...(withInit ? { init: init as unknown as SiteInit } : {}),
    observe: (e) => events.push(e),
  });
  const codes = (): string[] => events.flatMap((e) => (e.kind === 'rejected' ? [e.code] : []));
  /** The record after the hand-over's: s2 replaced by p0. */
  const admitP0 = (): Membership => {
    const first = admin.membership();
    if (!first) throw new Error('no hand-over');
    const members = first.members.map((m) => (m.id === 's2' ? { ...m, slot: null } : m));
    members.push({ id: 'p0', key: crypto.publicKeyOf(secret('p0')), slot: 2, stints: [{ admit: 2, cut: null }] });
    return signMembership({ site: 'meadow', stay: first.stay, epoch: first.epoch + 1, members, change: { kind: 'admit', target: 'p0' } }, ADMIN_SECRET, crypto);
  };
  return { server, events, sent, codes, admitP0, stay: admin.membership()!.stay };
}

const stateRequest = (epoch?: number): PeerMessage => ({ type: 'stateRequest', site: 'meadow', seq: null, ...(epoch === undefined ? {} : { epoch }) });
const timeslotRequest = (epoch?: number): PeerMessage => ({
  type: 'timeslotRequest',
  site: 'meadow',
  server: 's1',
  fromSeq: 1,
  toSeq: 4,
  ...(epoch === undefined ? {} : { epoch }),
});
const timeslotReply = (epoch?: number): PeerMessage => ({ type: 'timeslotReply', site: 'meadow', timeslots: [], ...(epoch === undefined ? {} : { epoch }) });

describe('requests from peers no record names', () => {
  it('a server admitted in a newer record is asked for it, not refused; once it is applied its requests are served', () => {
    const t = setup();
    expect(t.server.membership()?.epoch).toBe(1);
    for (const m of [stateRequest(2), timeslotRequest(2), timeslotReply(2)]) t.server.receive('p0', m);
    expect(t.codes()).toEqual([]);
    // One record request (rate-limited), nothing served meanwhile.
    expect(t.sent).toEqual([{ to: 'p0', m: { type: 'recordRequest', site: 'meadow', epoch: 1 } }]);
    t.sent.length = 0;
    t.server.receive('p0', { type: 'membership', ...t.admitP0() });
    expect(t.server.membership()?.epoch).toBe(2);
    t.server.receive('p0', stateRequest(2));
    t.server.receive('p0', timeslotRequest(2));
    // No update yet: the state is the hand-over; and s0 answers the TRM (it holds none of s1's).
    expect(t.sent.map((x) => `${x.to}:${x.m.type}`)).toEqual(['p0:siteInit', 'p0:timeslotReply']);
    expect(t.sent[1]?.m).toEqual({ type: 'timeslotReply', site: 'meadow', timeslots: [], epoch: 2 });
    expect(t.codes()).toEqual([]);
  });

  it('forwards the hand-over only to a server it names: a replacement asking at epoch 0 gets the record alone (FINDINGS 84)', () => {
    // Seed 269 (with its crash): p6, a replacement still waiting for its record, asked p3 at epoch
    // 0; the hand-over came back after its record, while it was syncing with nothing, and it took
    // it as its state (`adoptInit`: for a joiner before any update) though updates 4-10 existed.
    const t = setup();
    t.server.receive('p0', { type: 'membership', ...t.admitP0() });
    t.sent.length = 0;
    t.server.receive('p0', { type: 'recordRequest', site: 'meadow', epoch: 0 });
    expect(t.sent.map((x) => `${x.to}:${x.m.type}`)).toEqual(['p0:membership']);
    t.sent.length = 0;
    // An initial member that never got its hand-over still does.
    t.server.receive('s1', { type: 'recordRequest', site: 'meadow', epoch: 0 });
    expect(t.sent.map((x) => `${x.to}:${x.m.type}`)).toEqual(['s1:siteInit', 's1:membership']);
    expect(t.codes()).toEqual([]);
  });

  it("keeps a newcomer's Timeslot that came before its record, and serves it once the record is applied", () => {
    // Seed 306 (sim/FINDINGS.md 35): p0's #1 came before the record that admits it and was dropped;
    // p0 was cut at #2 and gone, and no server could give #1, so every window waited for it.
    const t = setup();
    const p0ts = (seq: number, prevHash: string): Timeslot =>
      signTimeslot({ site: 'meadow', server: 'p0', seq, stamp: seq * 100, prevHash, epoch: 2, entries: [], heads: [], update: null }, secret('p0'), crypto, t.stay);
    const first = p0ts(1, ZERO_HASH);
    t.server.receive('p0', { type: 'timeslot', ...first });
    t.server.receive('p0', { type: 'membership', ...t.admitP0() });
    t.server.receive('p0', { type: 'timeslot', ...p0ts(2, timeslotHash(first, t.stay)) });
    expect(t.codes()).toEqual([]);
    t.sent.length = 0;
    t.server.receive('s1', { type: 'timeslotRequest', site: 'meadow', server: 'p0', fromSeq: 1, toSeq: 2, epoch: 2 });
    const reply = t.sent.find((x) => x.to === 's1' && x.m.type === 'timeslotReply')?.m;
    expect(reply?.type === 'timeslotReply' ? reply.timeslots.map((ts) => ts.seq) : null).toEqual([1, 2]);
  });

  it('keeps at most MAX_EARLY_TIMESLOTS of them, the latest', () => {
    const t = setup();
    let prev = ZERO_HASH;
    const n = MAX_EARLY_TIMESLOTS + 8;
    for (let seq = 1; seq <= n; seq++) {
      const ts = signTimeslot({ site: 'meadow', server: 'p0', seq, stamp: seq * 100, prevHash: prev, epoch: 2, entries: [], heads: [], update: null }, secret('p0'), crypto, t.stay);
      prev = timeslotHash(ts, t.stay);
      t.server.receive('p0', { type: 'timeslot', ...ts });
    }
    t.server.receive('p0', { type: 'membership', ...t.admitP0() });
    t.sent.length = 0;
    t.server.receive('s1', { type: 'timeslotRequest', site: 'meadow', server: 'p0', fromSeq: 1, toSeq: n, epoch: 2 });
    const reply = t.sent.find((x) => x.to === 's1' && x.m.type === 'timeslotReply')?.m;
    expect(reply?.type === 'timeslotReply' ? reply.timeslots.map((ts) => ts.seq) : null).toEqual(Array.from({ length: MAX_EARLY_TIMESLOTS }, (_, i) => i + 9));
  });

  it('a peer that claims no newer epoch than ours is refused as a stranger, and is sent nothing', () => {
    const t = setup();
    const msgs = [stateRequest(), stateRequest(1), stateRequest(0), timeslotRequest(), timeslotRequest(1), timeslotReply(), timeslotReply(1)];
    for (const m of msgs) t.server.receive('zz', m);
    expect(t.codes()).toEqual(msgs.map(() => 'ERR_UNKNOWN_PEER'));
    expect(t.sent).toEqual([]);
  });

  it('a server still waiting for its first record cannot rule out any sender: it asks for the records', () => {
    const t = setup(false);
    expect(t.server.status()).toBe('waiting');
    t.server.receive('zz', stateRequest());
    expect(t.codes()).toEqual([]);
    expect(t.sent).toEqual([{ to: 'zz', m: { type: 'recordRequest', site: 'meadow', epoch: 0 } }]);
  });
});
