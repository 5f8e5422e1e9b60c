/**
 * Cutting bytes into chunks and joining them again, the one place for both:
 * - `cutBytes` / `ChunkSlots`: any chunked transfer (a state transfer's `stateChunk`s, stateFetch.ts;
 *   the admin WebSocket's `peer` envelopes below).
 * - Peer messages that involve the admin travel over the admin WebSocket as `peer` envelopes (one
 *   schema, messages.ts): the MessagePack bytes of one peer message, cut into base64 chunks small
 *   enough for the WebSocket frame cap (a `siteInit` with a busy site's snapshot, a membership
 *   request carrying a held Timeslot). `splitChunks` cuts, `ChunkAssembler` reassembles.
 * Nothing here throws on bad input.
 */
import { MAX_PEER_CHUNKS, PEER_CHUNK_BYTES, type ParseResult } from './messages.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map<string, number>([...B64].map((c, i) => [c, i]));

export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
    out += b === undefined ? '=' : B64[(n >> 6) & 63]!;
    out += c === undefined ? '=' : B64[n & 63]!;
  }
  return out;
}

/** Null when not canonical base64. */
export function fromBase64(text: string): Uint8Array | null {
  if (text.length % 4 !== 0) return null;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const ch = text[i + j] ?? '';
      const v = ch === '=' && i + 4 === text.length && j >= 4 - pad ? 0 : B64_INDEX.get(ch);
      if (v === undefined) return null;
      n = (n << 6) | v;
    }
    // The bits past the last byte must be zero: otherwise several texts decode to the same bytes.
    if (i + 4 === text.length && (n & ((1 << (8 * pad)) - 1)) !== 0) return null;
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** `bytes` cut into copies of at most `size` bytes (a piece shares no buffer); empty bytes give one empty piece. */
export function cutBytes(bytes: Uint8Array, size: number): Array<Uint8Array<ArrayBuffer>> {
  const out: Array<Uint8Array<ArrayBuffer>> = [];
  for (let i = 0; i < Math.max(1, bytes.length); i += size) out.push(bytes.slice(i, i + size));
  return out;
}

/**
 * The pieces of one chunked message as they arrive, in any order: `count` is fixed by the first
 * chunk, a repeated index is ignored (the first copy counts).
 */
export class ChunkSlots {
  private readonly parts: Array<Uint8Array | undefined>;
  private have = 0;

  constructor(readonly count: number) {
    this.parts = new Array<Uint8Array | undefined>(count);
  }

  /** Stores piece `index` (0 <= index < count, the caller checks); the joined bytes once all are in. */
  put(index: number, bytes: Uint8Array): Uint8Array | null {
    if (this.parts[index] !== undefined) return null;
    this.parts[index] = bytes;
    this.have++;
    return this.have < this.count ? null : this.join();
  }

  private join(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, c) => n + (c?.byteLength ?? 0), 0));
    let off = 0;
    for (const c of this.parts) {
      if (c) out.set(c, off);
      off += c?.byteLength ?? 0;
    }
    return out;
  }
}

/** The base64 chunks of one encoded peer message (at most MAX_PEER_CHUNKS; the encoder caps size). */
export function splitChunks(bytes: Uint8Array): string[] {
  return cutBytes(bytes, PEER_CHUNK_BYTES).map(toBase64);
}

export interface Chunk {
  id: number;
  index: number;
  count: number;
  data: string;
}

interface Partial {
  slots: ChunkSlots;
  startedAt: number;
}

/**
 * Reassembles chunked messages of one sender. Bounded: at most `maxOpen` messages in progress (the
 * oldest is dropped), each abandoned after `timeoutMs`; chunks that disagree on `count` are
 * refused (and their message dropped), a repeated index is ignored (the first copy counts).
 */
export class ChunkAssembler {
  private readonly open = new Map<string, Partial>();

  constructor(private readonly opts: { maxOpen?: number; timeoutMs?: number } = {}) {}

  /** The whole message once its last chunk arrives; null while incomplete; an error for a bad chunk. */
  add(key: string, chunk: Chunk, now: number): ParseResult<Uint8Array> | null {
    const timeout = this.opts.timeoutMs ?? 10_000;
    for (const [k, p] of this.open) if (now - p.startedAt > timeout) this.open.delete(k);
    if (chunk.count < 1 || chunk.count > MAX_PEER_CHUNKS || chunk.index < 0 || chunk.index >= chunk.count) {
      return { ok: false, code: 'ERR_MALFORMED', message: 'chunk index out of range' };
    }
    const bytes = fromBase64(chunk.data);
    if (!bytes || bytes.length > PEER_CHUNK_BYTES) return { ok: false, code: 'ERR_MALFORMED', message: 'chunk is not base64 of at most PEER_CHUNK_BYTES' };
    if (chunk.count === 1) return { ok: true, value: bytes };
    const k = `${key}\u0000${chunk.id}`;
    let p = this.open.get(k);
    if (!p) {
      if (this.open.size >= (this.opts.maxOpen ?? 4)) {
        const oldest = this.open.keys().next().value;
        if (oldest !== undefined) this.open.delete(oldest);
      }
      p = { slots: new ChunkSlots(chunk.count), startedAt: now };
      this.open.set(k, p);
    }
    if (p.slots.count !== chunk.count) {
      this.open.delete(k);
      return { ok: false, code: 'ERR_MALFORMED', message: 'chunks of one message disagree on their count' };
    }
    const whole = p.slots.put(chunk.index, bytes);
    if (!whole) return null;
    this.open.delete(k);
    return { ok: true, value: whole };
  }

  /** Messages in progress (for tests and limits). */
  get pending(): number {
    return this.open.size;
  }
}
