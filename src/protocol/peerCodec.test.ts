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

describe("an update's name table", () => {
  const update = (users: string[]): PeerMessage => ({
    type: 'update',
    site: 'meadow',
    seq: 9,
    prev: H,
    window: 1_733_480_000_100,
    applied: users.map((u, i): [string, number] => [u, 100 + i]),
    events: users.map((u, i) => ({ kind: 'moved' as const, user: u, x: 10 + i, y: 3 })),
    stateHash: H,
    hash: H,
  });

  it('names each acting user once: four bots moving cost 6 B each beyond their names', () => {
    const bots = ['guest-abcdefghi', 'guest-bcdefghij', 'guest-cdefghijk', 'guest-defghijkl'];
    const empty = (encodeCompact(update([])) as Uint8Array).byteLength;
    const four = (encodeCompact(update(bots)) as Uint8Array).byteLength;
    const names = bots.reduce((n, b) => n + 1 + b.length, 0);
    // Per action: index + actionNo (2 B, actionNo under 128) in applied, kind + index + x + y in its event (4 B).
    expect(four - empty).toBe(names + 4 * 6);
    // The same user acting twice is named once.
    const twice = (encodeCompact(update([bots[0]!, bots[0]!])) as Uint8Array).byteLength;
    expect(twice - empty).toBe(1 + bots[0]!.length + 2 * 6);
    expect(decodePeerMessage(encodePeerMessage(update(bots)))).toEqual({ ok: true, value: update(bots) });
  });

  it('refuses a table out of order, with a name never used, or an index past it', () => {
    // The update's fields up to the table, then the table, applied, no events, the hashes.
    const body = (table: string[], applied: Array<[number, number]>): Uint8Array => {
      const w = new Writer();
      w.byte(TAG.update);
      w.site('meadow');
      w.uint(9);
      w.hash(H);
      w.num(0);
      w.list(table, (n) => w.str(n));
      w.list(applied, ([i, no]) => {
        w.uint(i);
        w.uint(no);
      });
      w.uint(0);
      w.hash(H); // stateHash
      w.hash(H); // the update's own hash
      return w.bytes();
    };
    expect(() => decodeCompact(body(['amy', 'bob'], [[0, 1], [1, 1]]))).not.toThrow();
    expect(() => decodeCompact(body(['amy', 'bob'], [[1, 1], [0, 1], [1, 2]]))).toThrow(); // bob used before amy
    expect(() => decodeCompact(body(['amy', 'bob'], [[0, 1]]))).toThrow(); // bob never used
    expect(() => decodeCompact(body(['amy'], [[0, 1], [1, 1]]))).toThrow(); // no name 1
  });
});
