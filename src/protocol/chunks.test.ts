import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkAssembler, ChunkSlots, cutBytes, fromBase64, splitChunks, toBase64, type Chunk } from './chunks.js';
import {
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_PEER_CHUNKS,
  MAX_PEER_MESSAGE_BYTES,
  PEER_CHUNK_BYTES,
  parseClientMessage,
} from './messages.js';
import { SITE_IDS } from '../game/world.js';

const bytesOf = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 255);

/** The chunks of `bytes` as one sender numbers them. */
function chunksOf(bytes: Uint8Array, id = 7): Chunk[] {
  const data = splitChunks(bytes);
  return data.map((d, index) => ({ id, index, count: data.length, data: d }));
}

describe('base64', () => {
  it('round-trips any bytes, of every length mod 3 and empty, and encodes as the standard alphabet does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(text)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
    for (const n of [0, 1, 2, 3, 4, 5]) expect(fromBase64(toBase64(bytesOf(n)))).toEqual(bytesOf(n));
    expect(toBase64(new Uint8Array(0))).toBe('');
    expect(fromBase64('')).toEqual(new Uint8Array(0));
  });

  it('refuses text that is not canonical base64', () => {
    for (const bad of [
      'QQ', // no padding
      'QQ=', // length not a multiple of 4
      'Q===', // too much padding
      '====',
      'QQ==QQ==', // padding in the middle
      'QQ=A',
      'QU*D', // not in the alphabet
      'QU-D', // base64url
      ' QUJD',
      'QR==', // nonzero bits past the last byte: 'QQ==' is the one encoding of 'A'
      'QUJ=', // same with one pad: 'QUI=' is the one encoding of 'AB'
    ]) {
      expect(fromBase64(bad), bad).toBeNull();
    }
  });
});

describe('ChunkAssembler', () => {
  it('reassembles a split message whatever order its chunks come in', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 * PEER_CHUNK_BYTES + 7 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(Math.max(1, Math.ceil(n / PEER_CHUNK_BYTES))).keys()], { minLength: Math.max(1, Math.ceil(n / PEER_CHUNK_BYTES)) })),
        ),
        ([n, order]) => {
          const bytes = bytesOf(n, n);
          const chunks = chunksOf(bytes);
          expect(chunks).toHaveLength(order.length);
          const asm = new ChunkAssembler();
          const results = order.map((i) => asm.add('alice', chunks[i]!, 0));
          expect(results.slice(0, -1)).toEqual(results.slice(0, -1).map(() => null));
          expect(results.at(-1)).toEqual({ ok: true, value: bytes });
          expect(asm.pending).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps messages of different senders and ids apart', () => {
    const a = chunksOf(bytesOf(3000, 1), 1);
    const b = chunksOf(bytesOf(3000, 2), 1);
    const asm = new ChunkAssembler();
    expect(asm.add('alice', a[0]!, 0)).toBeNull();
    expect(asm.add('bob', b[1]!, 0)).toBeNull();
    expect(asm.add('alice', a[1]!, 0)).toEqual({ ok: true, value: bytesOf(3000, 1) });
    expect(asm.add('bob', b[0]!, 0)).toEqual({ ok: true, value: bytesOf(3000, 2) });
  });

  it('ignores a repeated chunk (the first copy counts)', () => {
    const bytes = bytesOf(3 * PEER_CHUNK_BYTES);
    const [c0, c1, c2] = chunksOf(bytes);
    const asm = new ChunkAssembler();
    expect(asm.add('alice', c0!, 0)).toBeNull();
    expect(asm.add('alice', c0!, 0)).toBeNull();
    // A repeat of index 1 with other bytes does not replace the first copy.
    expect(asm.add('alice', c1!, 0)).toBeNull();
    expect(asm.add('alice', { ...c1!, data: toBase64(bytesOf(PEER_CHUNK_BYTES, 99)) }, 0)).toBeNull();
    expect(asm.add('alice', c2!, 0)).toEqual({ ok: true, value: bytes });
  });

  it('refuses chunks of one message that disagree on the count, and forgets that message', () => {
    const [c0, c1, c2] = chunksOf(bytesOf(3 * PEER_CHUNK_BYTES));
    for (const count of [2, 4]) {
      const asm = new ChunkAssembler();
      expect(asm.add('alice', c0!, 0)).toBeNull();
      expect(asm.add('alice', { ...c1!, count }, 0), `count ${count}`).toMatchObject({ ok: false, code: 'ERR_MALFORMED' });
      expect(asm.pending).toBe(0);
      // What came before the bad chunk is gone: the right other chunks alone do not complete it.
      expect(asm.add('alice', c1!, 0)).toBeNull();
      expect(asm.add('alice', c2!, 0)).toBeNull();
    }
  });

  it('refuses an index outside the count, and a count outside 1..MAX_PEER_CHUNKS', () => {
    const asm = new ChunkAssembler();
    const data = toBase64(bytesOf(10));
    for (const c of [
      { id: 1, index: 2, count: 2, data },
      { id: 1, index: -1, count: 2, data },
      { id: 1, index: 0, count: 0, data },
      { id: 1, index: 0, count: MAX_PEER_CHUNKS + 1, data },
    ]) {
      expect(asm.add('alice', c, 0), JSON.stringify(c)).toMatchObject({ ok: false, code: 'ERR_MALFORMED' });
    }
    expect(asm.pending).toBe(0);
  });

  it('refuses a chunk over PEER_CHUNK_BYTES, or that is not base64', () => {
    const asm = new ChunkAssembler();
    expect(asm.add('alice', { id: 1, index: 0, count: 1, data: toBase64(bytesOf(PEER_CHUNK_BYTES)) }, 0)).toMatchObject({ ok: true });
    expect(asm.add('alice', { id: 1, index: 0, count: 1, data: toBase64(bytesOf(PEER_CHUNK_BYTES + 1)) }, 0)).toMatchObject({ ok: false, code: 'ERR_MALFORMED' });
    expect(asm.add('alice', { id: 2, index: 0, count: 2, data: toBase64(bytesOf(PEER_CHUNK_BYTES + 1)) }, 0)).toMatchObject({ ok: false, code: 'ERR_MALFORMED' });
    expect(asm.add('alice', { id: 3, index: 0, count: 2, data: 'QQ' }, 0)).toMatchObject({ ok: false, code: 'ERR_MALFORMED' });
    expect(asm.pending).toBe(0);
  });

  it('holds at most maxOpen partial messages: a new one drops the oldest', () => {
    const asm = new ChunkAssembler({ maxOpen: 2 });
    const msgs = [1, 2, 3].map((id) => chunksOf(bytesOf(2 * PEER_CHUNK_BYTES, id), id));
    for (const m of msgs) expect(asm.add('alice', m[0]!, 0)).toBeNull();
    expect(asm.pending).toBe(2);
    // Message 1 was dropped: its second chunk starts it anew (and, at the bound, drops message 2).
    expect(asm.add('alice', msgs[0]![1]!, 0)).toBeNull();
    expect(asm.add('alice', msgs[2]![1]!, 0)).toEqual({ ok: true, value: bytesOf(2 * PEER_CHUNK_BYTES, 3) });
    expect(asm.pending).toBe(1);
  });

  it('abandons a partial message after timeoutMs', () => {
    const bytes = bytesOf(2 * PEER_CHUNK_BYTES);
    const [c0, c1] = chunksOf(bytes);
    const late = new ChunkAssembler({ timeoutMs: 1000 });
    expect(late.add('alice', c0!, 0)).toBeNull();
    expect(late.add('alice', c1!, 1001)).toBeNull();
    expect(late.pending).toBe(1);
    const onTime = new ChunkAssembler({ timeoutMs: 1000 });
    expect(onTime.add('alice', c0!, 0)).toBeNull();
    expect(onTime.add('alice', c1!, 1000)).toEqual({ ok: true, value: bytes });
  });

  it('expires partial messages of other senders too, when any chunk arrives', () => {
    const asm = new ChunkAssembler({ timeoutMs: 1000 });
    expect(asm.add('alice', chunksOf(bytesOf(2 * PEER_CHUNK_BYTES))[0]!, 0)).toBeNull();
    expect(asm.add('bob', chunksOf(bytesOf(2 * PEER_CHUNK_BYTES))[0]!, 1500)).toBeNull();
    expect(asm.pending).toBe(1);
  });
});

describe('peer envelopes on the admin WebSocket', () => {
  it('every chunk of a largest peer message, sent as a `peer` client message, fits the frame cap and parses', () => {
    const bytes = bytesOf(MAX_PEER_MESSAGE_BYTES);
    const chunks = splitChunks(bytes);
    expect(chunks).toHaveLength(MAX_PEER_CHUNKS);
    const site = [...SITE_IDS].sort((a, b) => b.length - a.length)[0]!;
    const asm = new ChunkAssembler();
    let whole: Uint8Array | null = null;
    chunks.forEach((data, index) => {
      const frame = JSON.stringify({ type: 'peer', as: 'server', site, id: 0x7fffffff, index, count: chunks.length, data });
      expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(MAX_CLIENT_MESSAGE_BYTES);
      const parsed = parseClientMessage(frame);
      expect(parsed.ok, parsed.ok ? '' : parsed.message).toBe(true);
      if (!parsed.ok || parsed.value.type !== 'peer') return;
      const r = asm.add('alice', parsed.value, 0);
      if (r?.ok) whole = r.value;
    });
    expect(whole).toEqual(bytes);
  });
});

describe('cutBytes and ChunkSlots (every chunked transfer: state chunks and peer envelopes)', () => {
  it('cuts into copies of at most `size` bytes that join back whatever order they come in', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 64 }), fc.integer(), (bytes, size, seed) => {
        const pieces = cutBytes(bytes, size);
        expect(pieces.length).toBe(Math.max(1, Math.ceil(bytes.length / size)));
        for (const p of pieces) {
          expect(p.length).toBeLessThanOrEqual(size);
          expect(p.buffer).not.toBe(bytes.buffer); // a piece shares no buffer with the whole
        }
        const slots = new ChunkSlots(pieces.length);
        const order = pieces.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13) || a - b);
        const results = order.map((i) => slots.put(i, pieces[i]!));
        expect(results.slice(0, -1).every((r) => r === null)).toBe(true);
        expect(results[results.length - 1]).toEqual(bytes);
      }),
    );
  });

  it('keeps the first copy of a repeated piece, and is not complete before every index came', () => {
    const slots = new ChunkSlots(3);
    expect(slots.put(1, Uint8Array.of(2))).toBeNull();
    expect(slots.put(1, Uint8Array.of(9))).toBeNull();
    expect(slots.put(0, Uint8Array.of(1))).toBeNull();
    expect(slots.put(2, Uint8Array.of(3))).toEqual(Uint8Array.of(1, 2, 3));
  });
});
