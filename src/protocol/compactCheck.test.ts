/**
 * The hand-written bounds of compactCheck.ts against the one schema (zod, messages.ts): on
 * compact messages generated at, below and past every bound, both give the same verdict and the
 * same value. A bound dropped or moved in compactCheck.ts makes this fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCompact } from './compactCheck.js';
import { decodePeerMessage, encodePeerMessage, MAX_TIMESLOTS_PER_REPLY, parsePeerMessage, type PeerMessage } from './messages.js';
import { decodeCompact, encodeCompact } from './peerCodec.js';

const H = 'ab'.repeat(16);
// Around every bound: lengths 0, 1, 64, 65 (ids), 480, 481 (texts); seq 0 and 1; odd numbers.
const str = (max: number) => fc.oneof(fc.string({ maxLength: 3 }), fc.string({ minLength: max - 1, maxLength: max + 1 }), fc.constantFrom('', 'x'.repeat(max), 'x'.repeat(max + 1)));
const id = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('bot-17', 'alice~00ff') }, { weight: 2, arbitrary: str(64) });
const site = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('meadow', 'town') }, { weight: 1, arbitrary: str(64) });
const text = str(480);
const seq = fc.oneof(fc.constantFrom(0, 1, 2, Number.MAX_SAFE_INTEGER), fc.nat(1000));
const num = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(0.5, -2.25, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, 1_733_480_000_100.25),
);
const sig = fc.oneof(fc.constantFrom('', 'ab', 'cd'.repeat(64), 'ef'.repeat(128), 'ef'.repeat(129)), fc.constant('12'.repeat(32)));
const count = <T>(a: fc.Arbitrary<T>, max: number) => fc.array(a, { maxLength: Math.min(max + 1, 4) });
const carried = fc.record({ id: str(64), kind: str(64) });
const user = fc.record({ name: id, site, x: num, y: num, inventory: count(carried, 1000) });
const item = fc.record({ id: str(64), kind: str(64), x: num, y: num });
const action = fc.oneof(
  fc.record({ kind: fc.constant('move'), dir: fc.constantFrom('up', 'left') }),
  fc.record({ kind: fc.constantFrom('pickup', 'portal') }),
  fc.record({ kind: fc.constant('say'), text }),
);
const event = fc.oneof(
  fc.record({ kind: fc.constant('moved'), user: id, x: num, y: num }),
  fc.record({ kind: fc.constant('rejected'), user: id, action: fc.constant('move'), reason: fc.constant('wall') }),
  fc.record({ kind: fc.constant('picked'), user: id, item }),
  fc.record({ kind: fc.constant('spawned'), item }),
  fc.record({ kind: fc.constant('said'), user: id, text }),
  fc.record({ kind: fc.constant('joined'), user }),
  fc.record({ kind: fc.constant('left'), user, via: fc.constant('logout') }),
);
const heads = count(fc.tuple(id, seq, fc.constant(H)), 256);
const ignoring = count(id, 64);
const timeslot = fc.record(
  {
    site,
    server: id,
    seq,
    stamp: num,
    prevHash: fc.constant(H),
    epoch: seq,
    entries: count(fc.tuple(id, seq, num, fc.constant(H)), 4096),
    heads,
    update: fc.option(fc.tuple(seq, fc.constant(H)), { nil: null }),
    ignoring,
    sig,
  },
  { requiredKeys: ['site', 'server', 'seq', 'stamp', 'prevHash', 'epoch', 'entries', 'heads', 'update', 'sig'] },
);
const hot = fc.oneof(
  fc.record({ type: fc.constant('action'), site, user: id, actionNo: seq, action }),
  fc.record({
    type: fc.constant('sysAction'),
    site,
    sysNo: seq,
    actor: id,
    action: fc.oneof(fc.record({ kind: fc.constant('join'), user }), fc.record({ kind: fc.constant('leave') })),
    sig,
  }),
  timeslot.map((t) => ({ type: 'timeslot', ...t })),
  fc.record({ type: fc.constant('timeslotReply'), site, timeslots: count(timeslot, 64), epoch: seq }, { requiredKeys: ['type', 'site', 'timeslots'] }),
  fc.record({
    type: fc.constant('update'),
    site,
    seq,
    prev: fc.constant(H),
    window: num,
    applied: count(fc.tuple(id, seq), 100_000),
    events: count(event, 100_000),
    stateHash: fc.constant(H),
    hash: fc.constant(H),
  }),
  fc.record({ type: fc.constant('updateHash'), site, seq, hash: fc.constant(H) }),
  fc.record({ type: fc.constant('echo'), site, heads, ignoring }, { requiredKeys: ['type', 'site', 'heads'] }),
) as fc.Arbitrary<PeerMessage>;

/** Both verdicts on the compact form of `m` (null: `m` has none). */
function verdicts(m: PeerMessage) {
  const bytes = encodeCompact(m);
  if (bytes === null) return null;
  const data = decodeCompact(bytes);
  return { hand: checkCompact(data), zod: parsePeerMessage(structuredClone(data)) };
}

function agree(m: PeerMessage): boolean {
  const v = verdicts(m);
  if (v === null) return true;
  expect(v.hand.ok, `${JSON.stringify(m).slice(0, 300)}: hand ${v.hand.ok ? 'ok' : v.hand.message}, zod ${v.zod.ok ? 'ok' : v.zod.message}`).toBe(v.zod.ok);
  if (v.hand.ok && v.zod.ok) expect(v.hand.value).toEqual(v.zod.value);
  return true;
}

describe('compactCheck: the schema bounds, by hand', () => {
  it('gives the schema verdict and value on generated compact messages at and past every bound (seed 7)', () => {
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(hot, (m) => {
        const v = verdicts(m);
        if (v?.zod.ok) accepted++;
        else if (v) refused++;
        return agree(m);
      }),
      { seed: 7, numRuns: 3000 },
    );
    // Both sides of the bounds were exercised.
    expect(refused).toBeGreaterThan(300);
    expect(accepted).toBeGreaterThan(300);
  });

  it('holds the long lists to the schema maxima, at the bound and one past it', () => {
    const ts: Extract<PeerMessage, { type: 'timeslot' }> = { type: 'timeslot', site: 'meadow', server: 'bob~abcd', seq: 1, stamp: 5, prevHash: H, epoch: 0, entries: [], heads: [], update: null, sig: 'ab' };
    const cases: Array<[string, number, (k: number) => PeerMessage]> = [
      ['timeslots in a reply', MAX_TIMESLOTS_PER_REPLY, (k) => ({ type: 'timeslotReply', site: 'meadow', timeslots: Array.from({ length: k }, () => ts) })],
      ['entries', 4096, (k) => ({ ...ts, entries: Array.from({ length: k }, (_, i): [string, number, number, string] => ['bot-1', i + 1, 5, H]) })],
      ['heads', 256, (k) => ({ type: 'echo', site: 'meadow', heads: Array.from({ length: k }, (_, i): [string, number, string] => [`s${i}`, 1, H]) })],
      ['ignoring', 64, (k) => ({ type: 'echo', site: 'meadow', heads: [], ignoring: Array.from({ length: k }, (_, i) => `s${i}`) })],
      ['applied', 100_000, (k) => ({ type: 'update', site: 'meadow', seq: 1, prev: H, window: 0, applied: Array.from({ length: k }, (_, i): [string, number] => ['u', i + 1]), events: [], stateHash: H, hash: H })],
      ['events', 100_000, (k) => ({ type: 'update', site: 'meadow', seq: 1, prev: H, window: 0, applied: [], events: Array.from({ length: k }, () => ({ kind: 'moved' as const, user: 'u', x: 1, y: 2 })), stateHash: H, hash: H })],
      [
        'inventory',
        1000,
        (k) => ({ type: 'sysAction', site: 'meadow', sysNo: 1, actor: '@admin', action: { kind: 'join', user: { name: 'u', site: 'meadow', x: 0, y: 0, inventory: Array.from({ length: k }, () => ({ id: 'i', kind: 'k' })) } }, sig: 'ab' }),
      ],
    ];
    for (const [what, max, make] of cases) {
      const at = verdicts(make(max));
      const past = verdicts(make(max + 1));
      expect(at?.hand.ok && at.zod.ok, `${what}: ${max} accepted by both`).toBe(true);
      expect(past?.hand.ok === false && past.zod.ok === false, `${what}: ${max + 1} refused by both`).toBe(true);
    }
  });

  it('is what decodePeerMessage uses for compact frames: an off-bound value is ERR_MALFORMED with its path', () => {
    const r = decodePeerMessage(encodePeerMessage({ type: 'updateHash', site: 'meadow', seq: 0, hash: H } as PeerMessage));
    expect(r).toEqual({ ok: false, code: 'ERR_MALFORMED', message: 'seq: below 1' });
    const t = decodePeerMessage(encodePeerMessage({ type: 'action', site: 'meadow', user: 'x'.repeat(65), actionNo: 1, action: { kind: 'pickup' } }));
    expect(t.ok === false && t.message.startsWith('user:')).toBe(true);
  });
});
