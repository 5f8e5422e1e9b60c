/**
 * The wire's framing beyond one message: bundles (many frames in one data-channel frame) and the
 * update's name table (each acting user named once).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TAG, TAG_BUNDLE, Writer } from './codec.js';
import { decodePeerMessage, encodePeerMessage, type PeerMessage } from './messages.js';
import { decodeCompact, encodeCompact, isBundle, MAX_BUNDLE_BYTES, MAX_BUNDLE_FRAMES, packFrames, unpackBundle } from './peerCodec.js';

const H = 'ab'.repeat(16);

describe('bundles', () => {
  it('packFrames then unpackBundle gives the frames back in order, every bundle within its bounds (seed 11)', () => {
    // Peer frames never start with the bundle tag (that one goes alone: below).
    const frame = fc.oneof(
      { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).filter((f) => f[0] !== TAG_BUNDLE) },
      { weight: 1, arbitrary: fc.integer({ min: MAX_BUNDLE_BYTES - 8, max: MAX_BUNDLE_BYTES + 8 }).map((n) => new Uint8Array(n).fill(1)) },
    );
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 400 }), (frames) => {
        const out = packFrames(frames);
        const back: Uint8Array[] = [];
        for (const f of out) {
          if (!isBundle(f)) {
            back.push(f);
            continue;
          }
          expect(f.byteLength).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
          const u = unpackBundle(f);
          if (!u.ok) throw new Error(u.message);
          expect(u.frames.length).toBeLessThanOrEqual(MAX_BUNDLE_FRAMES);
          back.push(...u.frames);
        }
        expect(back.map((b) => Array.from(b).join())).toEqual(frames.map((b) => Array.from(b).join()));
        // As few frames as the bounds allow: never two lone small frames in a row.
        expect(out.length).toBeLessThanOrEqual(Math.ceil(frames.length / MAX_BUNDLE_FRAMES) + frames.filter((f) => f.byteLength > 1000).length * 2 + 1);
      }),
      { seed: 11, numRuns: 200 },
    );
  });

  it('a lone frame goes as it is; a bundle is never a peer message', () => {
    const one = encodePeerMessage({ type: 'updateHash', site: 'meadow', seq: 3, hash: H });
    expect(packFrames([one])).toEqual([one]);
    const two = packFrames([one, one]);
    expect(two).toHaveLength(1);
    expect(two[0]?.[0]).toBe(TAG_BUNDLE);
    expect(decodePeerMessage(two[0] as Uint8Array)).toMatchObject({ ok: false, code: 'ERR_MALFORMED' });
    // A frame that is a bundle is not wrapped in another: it goes alone, between the others.
    const odd = Uint8Array.from([TAG_BUNDLE, 5]);
    const out = packFrames([one, one, odd, one]);
    expect(out.map((f) => (f === odd ? 'odd' : f === one ? 'one' : 'bundle'))).toEqual(['bundle', 'odd', 'one']);
  });

  it('never throws on random bytes behind the bundle tag, and refuses what is not a bundle of 2 to 128 frames (seed 12)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const r = unpackBundle(Uint8Array.from([TAG_BUNDLE, ...tail]));
        if (r.ok) expect(r.frames.length).toBeGreaterThanOrEqual(2);
      }),
      { seed: 12, numRuns: 2000 },
    );
    const frames = (k: number): number[] => [TAG_BUNDLE, ...(k > 127 ? [0x80 | (k & 0x7f), k >> 7] : [k]), ...Array.from({ length: k }, () => [1, 0x61]).flat()];
    expect(unpackBundle(Uint8Array.from(frames(2))).ok).toBe(true);
    expect(unpackBundle(Uint8Array.from(frames(MAX_BUNDLE_FRAMES))).ok).toBe(true);
    expect(unpackBundle(Uint8Array.from(frames(MAX_BUNDLE_FRAMES + 1))).ok).toBe(false);
    expect(unpackBundle(Uint8Array.from(frames(1))).ok).toBe(false);
  });
});

describe("an update's events name their users by reference", () => {
  type Events = Extract<PeerMessage, { type: 'update' }>['events'];
  const update = (users: string[], events: Events = users.map((u, i) => ({ kind: 'moved' as const, user: u, x: 10 + i, y: 3 }))): PeerMessage => ({
    type: 'update',
    site: 'meadow',
    seq: 9,
    prev: H,
    window: 1_733_480_000_100,
    applied: users.map((u, i): [string, number] => [u, 100 + i]),
    events,
    stateHash: H,
    hash: H,
  });
  const size = (m: PeerMessage): number => (encodeCompact(m) as Uint8Array).byteLength;
  const bots = ['guest-abcdefghi', 'guest-bcdefghij', 'guest-cdefghijk', 'guest-defghijkl'];

  it('names each acting user once: four bots moving cost 6 B each beyond their names', () => {
    const names = bots.reduce((n, b) => n + 1 + b.length, 0);
    // Per action: actionNo (1 B, under 128) in applied; kind, reference, x, y in its event (4 B).
    expect(size(update(bots)) - size(update([]))).toBe(names + 4 * 5);
    expect(decodePeerMessage(encodePeerMessage(update(bots)))).toEqual({ ok: true, value: update(bots) });
  });

  it('round-trips events of two per action, of no action and of other users exactly', () => {
    const [a, b, c] = bots as [string, string, string];
    const item = { id: 'i1', kind: 'gem', x: 1, y: 2 };
    const events: Events = [
      { kind: 'picked' as const, user: a, item },
      { kind: 'spawned' as const, item },
      { kind: 'said' as const, user: a, text: 'hi' },
      { kind: 'moved' as const, user: c, x: 1, y: 1 }, // out of order: in full
      { kind: 'moved' as const, user: b, x: 2, y: 2 },
      { kind: 'said' as const, user: 'someone-else', text: 'x' },
    ];
    const m = update([a, b], events);
    expect(decodeCompact(encodeCompact(m) as Uint8Array)).toEqual(m);
  });

  it('refuses a reference past the applied actions', () => {
    // The update's fields, one applied action, then an event of kind moved naming applied action 2.
    const body = (ref: number): Uint8Array => {
      const w = new Writer();
      w.byte(TAG.update);
      w.site('meadow');
      w.uint(9);
      w.hash(H);
      w.num(0);
      w.uint(1);
      w.str('amy');
      w.uint(1);
      w.uint(1);
      w.byte(0); // moved
      w.uint(ref);
      w.num(1);
      w.num(1);
      w.hash(H); // stateHash
      w.hash(H); // the update's own hash
      return w.bytes();
    };
    expect(decodeCompact(body(1))).toMatchObject({ events: [{ kind: 'moved', user: 'amy' }] });
    expect(() => decodeCompact(body(2))).toThrow();
  });
});
