import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Reader, TAG, TAG_MSGPACK } from './codec.js';
import { ed25519Scheme, insecureFastScheme, ZERO_HASH } from './crypto.js';
import {
  decodePeerMessage,
  encodeMsgpackPeer,
  encodePeerMessage,
  MAX_PEER_MESSAGE_BYTES,
  parsePeerMessage,
  type PeerMessage,
  type Timeslot,
} from './messages.js';
import {
  actionContentHash,
  signSysAction,
  signTimeslot,
  timeslotHash,
  timeslotSigningBytes,
  timeslotsConflict,
  updateHash,
  verifySysAction,
  verifyTimeslot,
  type TimeslotBody,
} from './signed.js';

// Wider than the values the game makes: any string (lone surrogates too), big clock values,
// fractions, negative coordinates, sites outside the world, `ignoring` absent, empty or not.
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const hash = fc.oneof(hex(32), fc.constant(ZERO_HASH));
const sig = fc.oneof(hex(128), hex(64), hex(2));
const site = fc.oneof(fc.constantFrom('meadow', 'town', 'ruins'), fc.string({ minLength: 1, maxLength: 64 }));
const id = fc.oneof(fc.constantFrom('bot-17', 'alice~00ff', '@admin'), fc.string({ minLength: 1, maxLength: 64 }));
const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }), fc.constant('a\ud800b'), fc.constant('\udc00'));
const seq = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(Number.MAX_SAFE_INTEGER));
const seq1 = fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.constant(Number.MAX_SAFE_INTEGER));
const int = fc.oneof(fc.integer({ min: -70_000, max: 70_000 }), fc.constantFrom(-(2 ** 53) + 1, 2 ** 51, -(2 ** 51), 2 ** 53 - 1));
const time = fc
  .oneof(int, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(1_733_480_000_100), fc.constant(1_733_480_000_100.25))
  .map((t) => t + 0); // -0 travels as 0
const action = fc.oneof(
  fc.record({ kind: fc.constant('move' as const), dir: fc.constantFrom('up' as const, 'down' as const, 'left' as const, 'right' as const) }),
  fc.record({ kind: fc.constantFrom('pickup' as const, 'portal' as const) }),
  fc.record({ kind: fc.constant('say' as const), text: text.filter((t) => t.length > 0) }),
);
const carried = fc.record({ id: fc.string({ maxLength: 64 }), kind: fc.string({ maxLength: 64 }) });
const user = fc.record({ name: id, site, x: int, y: int, inventory: fc.array(carried, { maxLength: 3 }) });
const item = fc.record({ id: fc.string({ maxLength: 64 }), kind: fc.string({ maxLength: 64 }), x: int, y: int });
const event = fc.oneof(
  fc.record({ kind: fc.constant('moved' as const), user: id, x: int, y: int }),
  fc.record({
    kind: fc.constant('rejected' as const),
    user: id,
    action: fc.constantFrom('move' as const, 'pickup' as const, 'say' as const, 'portal' as const, 'join' as const, 'leave' as const),
    reason: fc.constantFrom('wall' as const, 'no-item' as const, 'no-portal' as const, 'not-here' as const, 'already-here' as const, 'empty-text' as const),
  }),
  fc.record({ kind: fc.constant('picked' as const), user: id, item }),
  fc.record({ kind: fc.constant('spawned' as const), item }),
  fc.record({ kind: fc.constant('said' as const), user: id, text }),
  fc.record({ kind: fc.constant('joined' as const), user }),
  fc.record({ kind: fc.constant('left' as const), user, via: fc.constantFrom('portal' as const, 'logout' as const) }),
);
const heads = fc.array(fc.tuple(id, seq1, hash), { maxLength: 4 });
const ignoring = fc.array(id, { maxLength: 3 });
const timeslot: fc.Arbitrary<Timeslot> = fc.record(
  {
    site,
    server: id,
    seq: seq1,
    stamp: time,
    prevHash: hash,
    epoch: seq,
    entries: fc.array(fc.tuple(id, seq1, time, hash), { maxLength: 5 }),
    heads,
    update: fc.option(fc.tuple(seq, hash), { nil: null }),
    ignoring,
    sig,
  },
  { requiredKeys: ['site', 'server', 'seq', 'stamp', 'prevHash', 'epoch', 'entries', 'heads', 'update', 'sig'] },
);
const hot: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc.record({ type: fc.constant('action' as const), site, user: id, actionNo: seq1, action }),
  fc.record({
    type: fc.constant('sysAction' as const),
    site,
    sysNo: seq1,
    actor: id,
    action: fc.oneof(fc.record({ kind: fc.constant('join' as const), user }), fc.record({ kind: fc.constant('leave' as const) })),
    sig,
  }),
  timeslot.map((t) => ({ type: 'timeslot' as const, ...t })),
  fc.record({ type: fc.constant('timeslotReply' as const), site, timeslots: fc.array(timeslot, { maxLength: 3 }), epoch: seq }, { requiredKeys: ['type', 'site', 'timeslots'] }),
  fc.record({
    type: fc.constant('update' as const),
    site,
    seq: seq1,
    prev: hash,
    window: time,
    applied: fc.array(fc.tuple(id, seq1), { maxLength: 4 }),
    events: fc.array(event, { maxLength: 4 }),
    stateHash: hash,
    hash,
  }),
  fc.record({ type: fc.constant('updateHash' as const), site, seq: seq1, hash }),
  fc.record({ type: fc.constant('echo' as const), site, heads, ignoring }, { requiredKeys: ['type', 'site', 'heads'] }),
);

const H = 'ab'.repeat(16);
const move: PeerMessage = { type: 'action', site: 'meadow', user: 'bot-17', actionNo: 42, action: { kind: 'move', dir: 'left' } };
const body: TimeslotBody = {
  site: 'meadow',
  server: 'bob~abcd',
  seq: 5,
  stamp: 1_733_480_000_100.25,
  prevHash: H,
  epoch: 2,
  entries: [['bot-17', 42, 1_733_480_000_050, 'cd'.repeat(16)]],
  heads: [['eve~1234', 4, H]],
  update: [3, H],
};
const decodeOk = (bytes: Uint8Array): PeerMessage => {
  const r = decodePeerMessage(bytes);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.value;
};

describe('compact peer codec', () => {
  it('round-trips every hot message exactly, in its compact form, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(hot, (m) => {
        expect(parsePeerMessage(m).ok).toBe(true);
        const bytes = encodePeerMessage(m);
        // A signature of odd bytes has no compact form (the schema allows any hex length).
        if (!('sig' in m) || m.sig.length % 2 === 0) expect(bytes[0]).not.toBe(TAG_MSGPACK);
        const back = decodePeerMessage(bytes);
        expect(back).toEqual({ ok: true, value: m });
        expect(encodePeerMessage(decodeOk(bytes))).toEqual(bytes);
      }),
      { numRuns: 400 },
    );
  });

  it('is much smaller than the MessagePack form: a move in 11 bytes, an update hash in 20', () => {
    expect(encodePeerMessage(move).byteLength).toBe(11);
    expect(encodePeerMessage({ type: 'updateHash', site: 'meadow', seq: 1234, hash: H }).byteLength).toBe(20);
    expect(encodeMsgpackPeer(move).byteLength).toBeGreaterThan(60);
  });

  it('encodes a message sent to many peers once, and equal content to equal bytes', () => {
    const update: PeerMessage = { type: 'update', site: 'meadow', seq: 9, prev: H, window: 900, applied: [['bot-17', 42]], events: [], stateHash: H, hash: H };
    const first = encodePeerMessage(update);
    expect(encodePeerMessage(update)).toBe(first);
    const copy = encodePeerMessage({ ...update });
    expect(copy).not.toBe(first);
    expect(copy).toEqual(first);
  });

  it('sends a message without a compact layout, or with a value no layout carries, as MessagePack behind its tag', () => {
    const other: PeerMessage = { type: 'hashRequest', site: 'meadow', seq: 3 };
    const oddSig: PeerMessage = { type: 'timeslot', ...body, sig: 'abc' };
    for (const m of [other, oddSig]) {
      const bytes = encodePeerMessage(m);
      expect(bytes[0]).toBe(TAG_MSGPACK);
      expect(decodePeerMessage(bytes)).toEqual({ ok: true, value: m });
    }
  });

  it('rejects every truncation and any trailing byte as ERR_MALFORMED', () => {
    fc.assert(
      fc.property(hot, fc.nat(), fc.nat(255), (m, cut, extra) => {
        const bytes = encodePeerMessage(m);
        if (bytes[0] === TAG_MSGPACK) return;
        const short = bytes.subarray(0, cut % bytes.byteLength);
        const r = decodePeerMessage(short);
        expect(r.ok ? 'ok' : r.code).toBe('ERR_MALFORMED');
        const long = new Uint8Array(bytes.byteLength + 1);
        long.set(bytes);
        long[bytes.byteLength] = extra;
        const l = decodePeerMessage(long);
        expect(l.ok ? 'ok' : l.code).toBe('ERR_MALFORMED');
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same codes as before for garbage, unknown tags, oversized and off-schema input', () => {
    const code = (b: Uint8Array): string => {
      const r = decodePeerMessage(b);
      return r.ok ? 'ok' : r.code;
    };
    expect(code(new Uint8Array([0xee, 1, 2]))).toBe('ERR_MALFORMED'); // as undecodable bytes were before tags
    expect(code(new Uint8Array(0))).toBe('ERR_MALFORMED');
    expect(code(new Uint8Array(MAX_PEER_MESSAGE_BYTES + 1).fill(TAG.action))).toBe('ERR_TOO_LARGE');
    // Well framed, off schema: an update hash of seq 0 (seqs start at 1), an action number 0.
    expect(code(Uint8Array.from([TAG.updateHash, 1, 0, ...new Array<number>(16).fill(0)]))).toBe('ERR_MALFORMED');
    expect(code(Uint8Array.from([TAG.action, 1, 2, 0x61, 0x62, 0, 0]))).toBe('ERR_MALFORMED');
    // A forged count of 2^40 entries is refused on the bytes left, before anything is allocated.
    expect(code(Uint8Array.from([TAG.echo, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0]))).toBe('ERR_MALFORMED');
    // A string that is not UTF-8, an unknown site index, an unknown event kind.
    expect(code(Uint8Array.from([TAG.action, 1, 2, 0xff, 0, 1, 0]))).toBe('ERR_MALFORMED');
    expect(code(Uint8Array.from([TAG.action, 200, 2, 0x61, 1, 0]))).toBe('ERR_MALFORMED');
    const update = encodePeerMessage({ type: 'update', site: 'meadow', seq: 1, prev: H, window: 0, applied: [], events: [{ kind: 'spawned', item: { id: 'i', kind: 'coin', x: 1, y: 1 } }], stateHash: H, hash: H });
    update[1 + 1 + 1 + 16 + 1 + 1 + 1] = 7; // the event's kind byte
    expect(code(update)).toBe('ERR_MALFORMED');
  });

  it('refuses a forged count on the bytes left, before reading or allocating any item', () => {
    let read = 0;
    const r = new Reader(Uint8Array.from([0xe8, 0x07, 1, 2, 3])); // 1000 items in 3 bytes
    expect(() => r.list(() => ++read)).toThrow();
    expect(read).toBe(0);
    const ok = new Reader(Uint8Array.from([3, 7, 8, 9]));
    expect(ok.list(() => ok.byte())).toEqual([7, 8, 9]);
  });

  it('never throws on random bytes after a compact tag', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(TAG)), fc.uint8Array({ maxLength: 200 }), (tag, rest) => {
        const bytes = Uint8Array.from([tag, ...rest]);
        const r = decodePeerMessage(bytes);
        if (r.ok) expect(decodePeerMessage(encodePeerMessage(r.value))).toEqual(r);
        else expect(r.code).toBe('ERR_MALFORMED');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('signing and hashing the compact layout', () => {
  const STAY = '5a'.repeat(16);
  const secret = '11'.repeat(32);
  const pub = ed25519Scheme.publicKeyOf(secret);

  it('a Timeslot signed with ed25519 verifies after the wire, for a receiver and for a third party holding only the values', () => {
    const ts = signTimeslot(body, secret, ed25519Scheme, STAY);
    const got = decodeOk(encodePeerMessage({ type: 'timeslot', ...ts }));
    if (got.type !== 'timeslot') throw new Error('not a timeslot');
    const { type: _t, ...received } = got;
    void _t;
    expect(verifyTimeslot(received, pub, ed25519Scheme, STAY)).toBe(true);
    expect(timeslotHash(received, STAY)).toBe(timeslotHash(ts, STAY));
    // Forwarded as evidence in a MessagePack message (an equivocation proof) and rebuilt by the admin.
    const proof = decodeOk(encodePeerMessage({ type: 'equivocationProof', site: 'meadow', a: received, b: received }));
    if (proof.type !== 'equivocationProof') throw new Error('not a proof');
    expect(verifyTimeslot(JSON.parse(JSON.stringify(proof.a)) as Timeslot, pub, ed25519Scheme, STAY)).toBe(true);
    expect(verifyTimeslot({ ...received, stamp: received.stamp + 1 }, pub, ed25519Scheme, STAY)).toBe(false);
    expect(verifyTimeslot({ ...received, entries: [] }, pub, ed25519Scheme, STAY)).toBe(false);
  });

  it('signs and hashes by value, never by a stale copy: a changed copy of a signed Timeslot does not verify and conflicts', () => {
    fc.assert(
      fc.property(timeslot, time, (t, stamp) => {
        const ts = signTimeslot(t, 'aa'.repeat(32), insecureFastScheme, STAY);
        const key = insecureFastScheme.publicKeyOf('aa'.repeat(32));
        expect(verifyTimeslot(ts, key, insecureFastScheme, STAY)).toBe(true);
        const copy = JSON.parse(JSON.stringify(ts)) as Timeslot;
        if (Object.is(ts.stamp, -0)) copy.stamp = -0;
        expect(timeslotHash(copy, STAY)).toBe(timeslotHash(ts, STAY));
        if (stamp !== ts.stamp) {
          const moved = { ...ts, stamp };
          expect(verifyTimeslot(moved, key, insecureFastScheme, STAY)).toBe(false);
          expect(timeslotsConflict(ts, moved, STAY)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('tags each kind with its own first byte, so a signature over one kind never passes as another', () => {
    expect(timeslotSigningBytes(body, STAY)[0]).toBe(0xf3);
    const sys = signSysAction({ site: 'meadow', sysNo: 1, actor: 'alice', action: { kind: 'leave' } }, secret, ed25519Scheme);
    const back = decodeOk(encodePeerMessage(sys));
    if (back.type !== 'sysAction') throw new Error('not a sysAction');
    expect(verifySysAction(back, pub, ed25519Scheme)).toBe(true);
    expect(verifySysAction({ ...back, sysNo: 2 }, pub, ed25519Scheme)).toBe(false);
  });

  it('hashes equal content equally and different content differently, whichever the form of its strings', () => {
    const u = { site: 'meadow', seq: 1, prev: H, window: 100, applied: [['a', 1]] as Array<[string, number]>, events: [], stateHash: H };
    expect(updateHash(u)).toBe(updateHash(JSON.parse(JSON.stringify(u)) as typeof u));
    expect(updateHash({ ...u, window: 101 })).not.toBe(updateHash(u));
    expect(updateHash({ ...u, applied: [['a', 2]] })).not.toBe(updateHash(u));
    const say = (t: string) => actionContentHash({ site: 'meadow', user: 'a', actionNo: 1, action: { kind: 'say', text: t } });
    // A lone surrogate and the replacement character UTF-8 would turn it into stay apart.
    expect(say('x\ud800')).not.toBe(say('x\ufffd'));
    // Content no layout carries is hashed as canonical JSON, never thrown on.
    expect(actionContentHash({ site: 'meadow', user: 'a', actionNo: 1, action: { kind: 'fly' } })).toMatch(/^[0-9a-f]{32}$/);
  });
});
