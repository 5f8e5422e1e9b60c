import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ZERO_HASH } from './crypto.js';
import {
  ADMIN_ID,
  decodePeerMessage,
  encodePeerMessage,
  MAX_PEER_MESSAGE_BYTES,
  parsePeerMessage,
  type PeerMessage,
} from './messages.js';
import { createSiteUser } from './user.js';
import { insecureFastScheme } from './crypto.js';
import { signMembership } from './signed.js';
import type { CoreEvent } from './api.js';
import { makeSiteConfig } from './config.js';
import { setupSite } from './testing.js';

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const hash = fc.oneof(hex(32), fc.constant(ZERO_HASH));
const sig = hex(128);
const site = fc.constantFrom('meadow', 'forest');
const id = fc.constantFrom('s0', 's1', 's2', 's3', 's4', 'c0', 'alice', 'bob', 'mallory', '@admin', 'admin');
const seq = fc.integer({ min: 0, max: 40 });
const seq1 = fc.integer({ min: 1, max: 40 });
const time = fc.oneof(fc.integer({ min: -100, max: 5000 }), fc.double({ min: -1e3, max: 1e4, noNaN: true, noDefaultInfinity: true })).map((t) => t + 0); // -0 travels as 0 (and signs the same: canonical JSON has no -0)
const action = fc.oneof(
  fc.record({ kind: fc.constant('move' as const), dir: fc.constantFrom('up' as const, 'down' as const, 'left' as const, 'right' as const) }),
  fc.record({ kind: fc.constant('pickup' as const) }),
  fc.record({ kind: fc.constant('portal' as const) }),
  fc.record({ kind: fc.constant('say' as const), text: fc.string({ minLength: 1, maxLength: 20 }) }),
);
const userState = fc.record({
  name: id,
  site,
  x: fc.integer({ min: -2, max: 25 }),
  y: fc.integer({ min: -2, max: 20 }),
  inventory: fc.array(fc.record({ id: fc.string({ maxLength: 8 }), kind: fc.constantFrom('coin', 'gem') }), { maxLength: 2 }),
});
const item = fc.record({ id: fc.string({ maxLength: 8 }), kind: fc.constantFrom('coin', 'gem'), x: fc.integer({ min: 0, max: 19 }), y: fc.integer({ min: 0, max: 13 }) });
const event = fc.oneof(
  fc.record({ kind: fc.constant('moved' as const), user: id, x: fc.integer({ min: 0, max: 19 }), y: fc.integer({ min: 0, max: 13 }) }),
  fc.record({ kind: fc.constant('spawned' as const), item }),
  fc.record({ kind: fc.constant('left' as const), user: userState, via: fc.constantFrom('portal' as const, 'logout' as const) }),
);
const timeslot = fc.record({
  site,
  server: id,
  seq: seq1,
  stamp: time,
  prevHash: hash,
  epoch: seq,
  entries: fc.array(fc.tuple(id, seq1, time, hash), { maxLength: 4 }),
  heads: fc.array(fc.tuple(id, seq1, hash), { maxLength: 3 }),
  update: fc.option(fc.tuple(seq, hash), { nil: null }),
  sig,
});
const member = fc.record({
  id,
  key: hex(64),
  slot: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
  stints: fc.array(fc.record({ admit: seq, cut: fc.option(fc.record({ seq, hash }), { nil: null }) }), { minLength: 1, maxLength: 2 }),
});
const membership = fc.record({
  site,
  stay: hash,
  epoch: seq1,
  members: fc.array(member, { minLength: 1, maxLength: 6 }),
  change: fc.record({ kind: fc.constantFrom('init' as const, 'ignore' as const, 'admit' as const, 'evict' as const), target: fc.option(id, { nil: null }) }),
  sig,
});
const snapshot = fc.record({
  site: fc.record({
    site,
    step: fc.integer({ min: 0, max: 100 }),
    rng: fc.integer({ min: 0, max: 0xffffffff }),
    nextItemNo: fc.integer({ min: 0, max: 100 }),
    items: fc.array(item, { maxLength: 3 }),
    respawnAt: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 3 }),
  }),
  users: fc.array(userState, { maxLength: 3 }),
});

const peerMessage: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc.record({ type: fc.constant('action' as const), site, user: id, actionNo: seq1, action }),
  fc.record({
    type: fc.constant('sysAction' as const),
    site,
    sysNo: seq1,
    actor: id,
    action: fc.oneof(fc.record({ kind: fc.constant('join' as const), user: userState }), fc.record({ kind: fc.constant('leave' as const) })),
    sig,
  }),
  timeslot.map((t) => ({ type: 'timeslot' as const, ...t })),
  // `epoch` (the sender's) is optional on these three: servers send it, users and the admin do not.
  fc.record(
    { type: fc.constant('timeslotRequest' as const), site, server: id, fromSeq: seq1, toSeq: seq1, epoch: seq },
    { requiredKeys: ['type', 'site', 'server', 'fromSeq', 'toSeq'] },
  ),
  fc.record(
    { type: fc.constant('timeslotReply' as const), site, timeslots: fc.array(timeslot, { maxLength: 2 }), epoch: seq },
    { requiredKeys: ['type', 'site', 'timeslots'] },
  ),
  fc.record({ type: fc.constant('contentRequest' as const), site, items: fc.array(fc.tuple(id, seq1, hash), { maxLength: 3 }) }),
  fc.record({
    type: fc.constant('update' as const),
    site,
    seq: seq1,
    prev: hash,
    window: time,
    applied: fc.array(fc.tuple(id, seq1), { maxLength: 3 }),
    events: fc.array(event, { maxLength: 3 }),
    stateHash: hash,
    hash,
  }),
  fc.record({ type: fc.constant('updateHash' as const), site, seq: seq1, hash }),
  fc.record({ type: fc.constant('hashRequest' as const), site, seq: seq1 }),
  fc.record({ type: fc.constant('stateRequest' as const), site, seq: fc.option(seq, { nil: null }), epoch: seq }, { requiredKeys: ['type', 'site', 'seq'] }),
  fc.record({
    type: fc.constant('stateChunk' as const),
    site,
    seq,
    hash,
    index: fc.integer({ min: 0, max: 3 }),
    count: fc.integer({ min: 1, max: 4 }),
    data: fc.uint8Array({ maxLength: 64 }),
  }),
  fc.record({ type: fc.constant('equivocationProof' as const), site, a: timeslot, b: timeslot }),
  fc.record({
    type: fc.constant('membershipRequest' as const),
    site,
    epoch: seq,
    no: seq,
    kind: fc.constantFrom('ignore' as const, 'readmit' as const, 'replace' as const),
    target: id,
    held: fc.option(timeslot, { nil: null }),
  }),
  fc.record({ type: fc.constant('withdrawRequest' as const), site, epoch: seq, no: seq, target: id }),
  membership.map((m) => ({ type: 'membership' as const, ...m })),
  fc.record({ type: fc.constant('ignoreCall' as const), site, epoch: seq, target: id }),
  fc.record({
    type: fc.constant('siteInit' as const),
    site,
    membership,
    seq,
    prev: hash,
    start: time,
    state: snapshot,
    lastActionNo: fc.array(fc.tuple(id, seq), { maxLength: 3 }),
    sig,
  }),
  fc.record({ type: fc.constant('echo' as const), site, heads: fc.array(fc.tuple(id, seq1, hash), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('recordRequest' as const), site, epoch: seq }),
  fc.record({ type: fc.constant('updateRequest' as const), site, seq: seq1 }),
  fc.record({
    type: fc.constant('requestDeclined' as const),
    site,
    epoch: seq,
    no: seq,
    kind: fc.constantFrom('ignore' as const, 'readmit' as const, 'replace' as const),
    target: id,
  }),
  fc.record({ type: fc.constant('flagReport' as const), site, server: id, seq, reason: fc.string({ maxLength: 10 }) }),
);

describe('peer wire encoding', () => {
  it('round-trips every valid message exactly (hex fields packed as bytes)', () => {
    fc.assert(
      fc.property(peerMessage, (m) => {
        expect(parsePeerMessage(m).ok).toBe(true);
        const bytes = encodePeerMessage(m);
        const back = decodePeerMessage(bytes);
        expect(back).toEqual({ ok: true, value: m });
      }),
      { numRuns: 300 },
    );
  });

  it('packs a 16-byte hash into 16 bytes (plus a 2-byte header)', () => {
    const a = encodePeerMessage({ type: 'updateHash', site: 'meadow', seq: 1, hash: 'ab'.repeat(16) });
    const b = encodePeerMessage({ type: 'hashRequest', site: 'meadow', seq: 1 });
    expect(a.byteLength - b.byteLength).toBeLessThan(16 + 2 + 8 + 2);
  });

  // decodePeerMessage catches its own exceptions ('unreadable structure'): that it returns is no
  // proof of anything. What it returns is: a message that passes the schema and re-encodes to
  // itself, or ERR_MALFORMED / ERR_UNKNOWN_TYPE for bytes that are no message, never an exception
  // of its own.
  const expectSoundDecode = (bytes: Uint8Array): void => {
    const r = decodePeerMessage(bytes);
    if (r.ok) {
      expect(parsePeerMessage(r.value).ok).toBe(true);
      expect(decodePeerMessage(encodePeerMessage(r.value))).toEqual(r);
    } else {
      expect(['ERR_MALFORMED', 'ERR_UNKNOWN_TYPE']).toContain(r.code);
      expect(r.message).not.toBe('unreadable structure');
    }
  };

  it('never throws on random bytes, and caps the size', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), expectSoundDecode), { numRuns: 2000 });
    // Mutations of valid messages.
    fc.assert(
      fc.property(peerMessage, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }), (m, flips) => {
        const bytes = encodePeerMessage(m).slice();
        for (const [i, v] of flips) if (bytes.length > 0) bytes[i % bytes.length] = v;
        expectSoundDecode(bytes);
      }),
      { numRuns: 500 },
    );
    const r = decodePeerMessage(new Uint8Array(MAX_PEER_MESSAGE_BYTES + 1));
    expect(r.ok ? '' : r.code).toBe('ERR_TOO_LARGE');
    expect(decodePeerMessage(new Uint8Array([0xc1])).ok).toBe(false);
  });
});

/** What a core's rejections during one call must be, for a message from outside (no ERR_INTERNAL ever). */
function expectedRejections(target: 'server' | 'user', from: string, m: PeerMessage): string[] | 'some' {
  // A running server ignores a second siteInit whatever its site (it has one already).
  if (m.type === 'siteInit' && target === 'server') return [];
  if (m.site !== 'meadow') return ['ERR_WRONG_SITE'];
  // Admin-signed records and system actions carry random signatures here.
  if (m.type === 'membership' && (target === 'server' || from === ADMIN_ID)) return ['ERR_BAD_SIGNATURE'];
  if (m.type === 'sysAction' && target === 'server') return ['ERR_BAD_SIGNATURE'];
  // The rest depends on the server's state (who is a member, what it holds): any peer code.
  return target === 'server' ? 'some' : [];
}

const PEER_CODES = ['ERR_UNKNOWN_PEER', 'ERR_BAD_SIGNATURE', 'ERR_BROKEN_CHAIN', 'ERR_STAMP_ORDER', 'ERR_ARRIVAL_WINDOW', 'ERR_REPLAYED', 'ERR_TOO_FAR_AHEAD', 'ERR_EQUIVOCATION', 'ERR_RATE_LIMITED', 'ERR_WRONG_SITE'];

describe('hostile but valid messages', () => {
  it('a SiteServer, SiteUser and coordinator refuse them with the right codes, never ERR_INTERNAL, and honest servers stay in step', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(id, peerMessage, fc.constantFrom('s0', 'alice', 'admin')), { minLength: 1, maxLength: 40 }), (msgs) => {
        const s = setupSite({});
        s.net.run(250);
        s.net.poke('alice', () => s.users.get('alice')?.act({ kind: 'move', dir: 'down' }));
        for (const [rawFrom, m, target] of msgs) {
          const from = rawFrom === target ? 'mallory' : rawFrom;
          const n = s.events.length;
          s.net.get(target)?.receive(from, m);
          const codes = s.events
            .slice(n)
            .filter((e) => e.node === target && e.e.kind === 'rejected')
            .map((e) => (e.e.kind === 'rejected' ? e.e.code : ''));
          expect(codes, `${m.type} from ${from} to ${target}`).not.toContain('ERR_INTERNAL');
          if (target !== 'admin') {
            const want = expectedRejections(target === 's0' ? 'server' : 'user', from, m);
            if (want === 'some') for (const c of codes) expect(PEER_CODES, `${m.type} from ${from}`).toContain(c);
            else expect(codes, `${m.type} from ${from} to ${target}`).toEqual(want);
          }
          s.net.rewake(target);
          s.net.run(7);
        }
        // An object that is no message changes nothing at the server and is refused as one.
        const s0 = s.servers.get('s0');
        const before = structuredClone([s0?.appliedLog(), s0?.lastUpdate(), s0?.membership(), s0?.ignored(), s0?.snapshot()]);
        const n = s.events.length;
        s0?.receive('s1', { garbage: true } as unknown as PeerMessage);
        expect(structuredClone([s0?.appliedLog(), s0?.lastUpdate(), s0?.membership(), s0?.ignored(), s0?.snapshot()])).toEqual(before);
        expect(s.events.slice(n).map((e) => (e.e.kind === 'rejected' ? e.e.code : e.e.kind))).toEqual(['ERR_UNKNOWN_TYPE']);
        // Likewise at the coordinator (FINDINGS 16: it used to drop such input without a word).
        const adminBefore = structuredClone([s.coordinator.membership(), s.coordinator.evicted(), s.coordinator.activeServers()]);
        const k = s.events.length;
        s.coordinator.receive('s1', { garbage: true } as unknown as PeerMessage);
        s.coordinator.receive('s1', { type: 'membershipRequest', site: 'meadow' } as unknown as PeerMessage);
        expect(structuredClone([s.coordinator.membership(), s.coordinator.evicted(), s.coordinator.activeServers()])).toEqual(adminBefore);
        expect(s.events.slice(k).map((e) => [e.node, e.e.kind === 'rejected' ? `${e.e.code} ${e.e.msgType}` : e.e.kind])).toEqual([
          [ADMIN_ID, 'ERR_UNKNOWN_TYPE ?'],
          [ADMIN_ID, 'ERR_MALFORMED membershipRequest'],
        ]);
        s.net.poke('bob', () => s.users.get('bob')?.act({ kind: 'move', dir: 'up' }));
        s.net.run(800);
        const others = ['s1', 's2', 's3', 's4'].map((x) => (s.servers.get(x)?.appliedLog() ?? []).map((u) => u.hash));
        // Progress is owed unless the admin itself called for an ignore: it is trusted (paper,
        // section 3; an ignoreCall is unsigned, the transport names its sender), and a lone call
        // (seed 1837770930) holds windows until it declines the request it caused. Refusal
        // codes and agreement hold whoever sent what.
        const adminCalled = msgs.some(([rawFrom, m, target]) => rawFrom !== target && rawFrom === ADMIN_ID && m.type === 'ignoreCall');
        if (!adminCalled) expect(Math.max(...others.map((o) => o.length))).toBeGreaterThan(0);
        for (const a of others) for (const b of others) {
          const n = Math.min(a.length, b.length);
          expect(a.slice(0, n)).toEqual(b.slice(0, n));
        }
        const hostile = s.events.filter((e) => e.e.kind === 'rejected' && e.e.code === 'ERR_INTERNAL');
        expect(hostile).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });

  it('the coordinator refuses whatever fails to parse with the parse code, as the server and the user do', () => {
    const s = setupSite({});
    s.net.run(250);
    const state = () => structuredClone([s.coordinator.membership(), s.coordinator.evicted(), s.coordinator.activeServers()]);
    const initial = state();
    const junk = fc.oneof(
      fc.anything(),
      // a known type with fields off the schema
      peerMessage.chain((m) => fc.constantFrom<unknown>({ ...m, site: 7 }, { ...m, extra: 1 }, { ...m, type: `${m.type}!` })),
    );
    fc.assert(
      fc.property(id, junk, (from, raw) => {
        const parsed = parsePeerMessage(raw);
        fc.pre(!parsed.ok);
        const n = s.events.length;
        s.coordinator.receive(from, raw as PeerMessage);
        const got = s.events.slice(n).map((e) => (e.e.kind === 'rejected' ? [e.node, e.e.from, e.e.code] : [e.node, e.e.kind]));
        expect(got).toEqual([[ADMIN_ID, from, parsed.ok ? '' : parsed.code]]);
        expect(state()).toEqual(initial);
      }),
      { numRuns: 300 },
    );
  });

  it('a SiteUser refuses arbitrary input with the right codes and changes none of its state', () => {
    const config = makeSiteConfig({ site: 'meadow', N_server: 3 });
    const crypto = insecureFastScheme;
    const events: CoreEvent[] = [];
    const user = createSiteUser({
      config,
      user: 'alice',
      now: () => 0,
      send: () => {},
      servers: ['s0', 's1', 's2'],
      seq: 0,
      hash: ZERO_HASH,
      nextActionNo: 1,
      adminKey: crypto.publicKeyOf('ad'.repeat(32)),
      crypto,
      observe: (e) => events.push(e),
    });
    user.act({ kind: 'move', dir: 'up' });
    user.act({ kind: 'say', text: 'hi' });
    const state = () => structuredClone({ accepted: user.acceptedLog(), last: user.lastAccepted(), pending: user.pendingActions() });
    const initial = state();
    expect(initial.pending).toHaveLength(2);
    const rejections = (from: number) => events.slice(from).flatMap((e) => (e.kind === 'rejected' ? [e.code] : []));
    fc.assert(
      fc.property(id, peerMessage, (from, m) => {
        let n = events.length;
        user.receive(from, m);
        expect(rejections(n), `${m.type} from ${from}`).toEqual(expectedRejections('user', from, m));
        expect(state()).toEqual(initial);
        n = events.length;
        user.receive(from, { garbage: true } as unknown as PeerMessage);
        expect(rejections(n)).toEqual(['ERR_UNKNOWN_TYPE']);
        expect(state()).toEqual(initial);
      }),
      { numRuns: 500 },
    );
    // Hostile in particular: a full update whose content does not hash to its claim is flagged,
    // not counted; a membership record not signed by the admin is refused.
    const n = events.length;
    const upd: PeerMessage = { type: 'update', site: 'meadow', seq: 1, prev: ZERO_HASH, window: 100, applied: [['alice', 1]], events: [], stateHash: ZERO_HASH, hash: 'ab'.repeat(16) };
    for (const s of ['s0', 's1', 's2']) user.receive(s, upd);
    expect(events.slice(n).map((e) => e.kind)).toEqual(['flagged', 'flagged', 'flagged']);
    const forged = signMembership({ site: 'meadow', stay: ZERO_HASH, epoch: 9, members: [{ id: 'm0', key: '00'.repeat(32), slot: 0, stints: [{ admit: 0, cut: null }] }], change: { kind: 'admit', target: 'm0' } }, 'ee'.repeat(32), crypto);
    user.receive(ADMIN_ID, { type: 'membership', ...forged });
    expect(rejections(n)).toEqual(['ERR_BAD_SIGNATURE']);
    expect(state()).toEqual(initial);
  });
});
