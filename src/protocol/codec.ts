/**
 * The compact binary form of the hot peer messages (actions, system actions, Timeslots and their
 * replies, updates, update hashes, echoes) and of the bytes that sign and hash them. One tag byte,
 * then fixed-order fields: unsigned LEB128 integers, numbers as integers when they are ones,
 * UTF-8 strings with their length, hashes as their 16 raw bytes, a known site as one byte.
 *
 * Only the framing lives here; messages.ts decides what is compact (the rest is MessagePack behind
 * TAG_MSGPACK) and checks every decoded value against the schema's bounds. The tags are those of
 * PROTOCOL_VERSION (a new layout is a new version; the admin's `hello` refuses a tab of another).
 * A value the layout cannot carry exactly (a hash that is not 32 hex characters, an unknown event
 * kind) throws NOT_COMPACT, and the caller takes the general form: every round trip is exact.
 */
import type { SiteAction } from '../game/types.js';
import { SITE_IDS } from '../game/world.js';

export const TAG_MSGPACK = 0;
/** A data-channel frame carrying several peer frames (peerCodec.ts `encodeBundle`); never a message itself. */
export const TAG_BUNDLE = 8;
export const TAG = { action: 1, sysAction: 2, timeslot: 3, update: 4, updateHash: 5, timeslotReply: 6, echo: 7 } as const;
/** First byte of hashed or signed content, one per kind (never '[' = 0x5b, which starts canonical JSON). */
export const DOMAIN = { action: 0xf1, sysAction: 0xf2, timeslot: 0xf3, update: 0xf4 } as const;

/** Thrown by a writer for a value its layout cannot carry exactly; callers fall back. */
export const NOT_COMPACT = new Error('not compact');
/** Thrown by a reader on bytes that are not a valid encoding; callers turn it into ERR_MALFORMED. */
export const BAD_BYTES = new Error('bad bytes');

const TWO_51 = 2 ** 51;
const DIRS = ['up', 'down', 'left', 'right'] as const;
const ACTION_KINDS = ['move', 'pickup', 'say', 'portal', 'join', 'leave'] as const;
const REASONS = ['wall', 'no-item', 'no-portal', 'not-here', 'already-here', 'empty-text'] as const;
const EVENT_KINDS = ['moved', 'rejected', 'picked', 'spawned', 'said', 'joined', 'left'] as const;
const VIAS = ['portal', 'logout'] as const;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) NIBBLE['0123456789abcdef'.charCodeAt(i)] = i;

function indexIn(list: readonly string[], value: unknown): number {
  const i = list.indexOf(value as string);
  if (i < 0) throw NOT_COMPACT;
  return i;
}

/** A growable byte buffer, reused across messages (one per purpose) so encoding allocates only its result. */
export class Writer {
  buf = new Uint8Array(4096);
  n = 0;
  private dv = new DataView(this.buf.buffer);

  reset(): this {
    this.n = 0;
    return this;
  }
  /** A copy of what was written (the buffer is reused). */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
  /** A view of what was written, valid until the next reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b;
  }
  /** Unsigned integer up to 2^53 - 1, LEB128 (division, not bit operations: they are 32-bit). */
  uint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw NOT_COMPACT;
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
  }
  /** Any number: 4v (v >= 0) or -4v - 2 (v < 0) for an integer under 2^51 in size, else 1 and float64. */
  num(v: number): void {
    if (typeof v !== 'number') throw NOT_COMPACT;
    if (Number.isInteger(v) && Math.abs(v) < TWO_51) return this.uint(v >= 0 ? v * 4 : -v * 4 - 2);
    this.byte(1);
    this.room(8);
    this.dv.setFloat64(this.n, v, true);
    this.n += 8;
  }
  /** 2 x UTF-8 length then UTF-8; a string with a lone surrogate: 2 x units + 1 then UTF-16LE (exact either way). */
  str(s: string): void {
    if (typeof s !== 'string') throw NOT_COMPACT;
    const len = utf8Length(s);
    if (len < 0) {
      this.uint(s.length * 2 + 1);
      this.room(s.length * 2);
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        this.buf[this.n++] = c & 0xff;
        this.buf[this.n++] = c >> 8;
      }
      return;
    }
    this.uint(len * 2);
    this.room(len);
    const b = this.buf;
    let n = this.n;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) b[n++] = c;
      else if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
        b[n++] = 0x80 | (c & 63);
      } else if (c >= 0xd800 && c <= 0xdbff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
        b[n++] = 0xf0 | (c >> 18);
        b[n++] = 0x80 | ((c >> 12) & 63);
        b[n++] = 0x80 | ((c >> 6) & 63);
        b[n++] = 0x80 | (c & 63);
      } else {
        b[n++] = 0xe0 | (c >> 12);
        b[n++] = 0x80 | ((c >> 6) & 63);
        b[n++] = 0x80 | (c & 63);
      }
    }
    this.n = n;
  }
  /** Lowercase hex of an even length as its bytes, `fixed` of them or (fixed 0) length-prefixed. */
  hex(s: string, fixed: number): void {
    if (typeof s !== 'string' || s.length % 2 !== 0 || (fixed > 0 && s.length !== fixed * 2)) throw NOT_COMPACT;
    const k = s.length / 2;
    if (fixed === 0) this.uint(k);
    this.room(k);
    for (let i = 0; i < k; i++) {
      const hi = NIBBLE[s.charCodeAt(2 * i)] ?? -1;
      const lo = NIBBLE[s.charCodeAt(2 * i + 1)] ?? -1;
      if (hi < 0 || lo < 0) throw NOT_COMPACT;
      this.buf[this.n++] = (hi << 4) | lo;
    }
  }
  hash(s: string): void {
    this.hex(s, 16);
  }
  /** Bytes as they are. */
  raw(b: Uint8Array): void {
    this.room(b.byteLength);
    this.buf.set(b, this.n);
    this.n += b.byteLength;
  }
  /** A site of the world as its index + 1, any other as 0 then the string. */
  site(s: string): void {
    const i = SITE_IDS.indexOf(s);
    if (i >= 0 && i < 255) return this.byte(i + 1);
    this.byte(0);
    this.str(s);
  }
  /** A count, then each item. */
  list<T>(items: readonly T[], each: (item: T) => void): void {
    if (!Array.isArray(items)) throw NOT_COMPACT;
    this.uint(items.length);
    for (const it of items) each(it);
  }
}

/** Reads what a Writer wrote; every read checks the bytes left and throws BAD_BYTES past them. */
export class Reader {
  pos = 0;
  /** Made on the first float only: most messages have none. */
  private view: DataView | null = null;
  constructor(readonly buf: Uint8Array) {}
  get left(): number {
    return this.buf.length - this.pos;
  }
  byte(): number {
    if (this.pos >= this.buf.length) throw BAD_BYTES;
    return this.buf[this.pos++] ?? 0;
  }
  uint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) throw BAD_BYTES;
        return v;
      }
      scale *= 0x80;
    }
    throw BAD_BYTES;
  }
  num(): number {
    const u = this.uint();
    if (u === 1) {
      if (this.left < 8) throw BAD_BYTES;
      this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
      const v = this.view.getFloat64(this.pos, true);
      this.pos += 8;
      return v;
    }
    if (u % 2 !== 0) throw BAD_BYTES;
    return u % 4 === 0 ? u / 4 : -(u + 2) / 4;
  }
  str(): string {
    const h = this.uint();
    const len = Math.floor(h / 2);
    if (h % 2 === 1) {
      if (len * 2 > this.left) throw BAD_BYTES;
      let s = '';
      for (let i = 0; i < len; i++) s += String.fromCharCode((this.buf[this.pos++] ?? 0) | ((this.buf[this.pos++] ?? 0) << 8));
      return s;
    }
    if (len > this.left) throw BAD_BYTES;
    const end = this.pos + len;
    return decodeUtf8(this.buf, this.pos, (this.pos = end));
  }
  hex(fixed: number): string {
    const k = fixed > 0 ? fixed : this.uint();
    if (k > this.left) throw BAD_BYTES;
    let s = '';
    for (let i = 0; i < k; i++) s += HEX[this.buf[this.pos++] ?? 0];
    return s;
  }
  hash(): string {
    return this.hex(16);
  }
  site(): string {
    const b = this.byte();
    if (b === 0) return this.str();
    const s = SITE_IDS[b - 1];
    if (s === undefined) throw BAD_BYTES;
    return s;
  }
  /** A count (at most one item per byte left, so a forged count allocates nothing), then each item. */
  list<T>(each: () => T): T[] {
    const k = this.uint();
    if (k > this.left) throw BAD_BYTES;
    const out: T[] = new Array<T>(k);
    for (let i = 0; i < k; i++) out[i] = each();
    return out;
  }
  /** One of a fixed list, by index. */
  pick<T>(list: readonly T[]): T {
    const v = list[this.byte()];
    if (v === undefined) throw BAD_BYTES;
    return v;
  }
}

/** UTF-8 length of a well-formed string; -1 when it has a lone surrogate (UTF-8 cannot carry it exactly). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return -1;
      n += 2;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return -1;
    else n += 2;
  }
  return n;
}

/** Strict UTF-8 (no overlong forms, surrogates or values past U+10FFFF), so decoding is exact. */
function decodeUtf8(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; ) {
    const c = b[i++] ?? 0;
    if (c < 0x80) {
      s += String.fromCharCode(c);
      continue;
    }
    const k = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (k === 0 || c > 0xf4 || i + k > to) throw BAD_BYTES;
    let cp = c & (0x3f >> k);
    for (let j = 0; j < k; j++) {
      const d = b[i++] ?? 0;
      if ((d & 0xc0) !== 0x80) throw BAD_BYTES;
      cp = (cp << 6) | (d & 0x3f);
    }
    const min = k === 1 ? 0x80 : k === 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw BAD_BYTES;
    s += String.fromCodePoint(cp);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Game values (structural types: the schema in messages.ts is the one that validates)
// ---------------------------------------------------------------------------------------------

interface ItemV {
  id: string;
  kind: string;
  x: number;
  y: number;
}
interface UserV {
  name: string;
  site: string;
  x: number;
  y: number;
  inventory: Array<{ id: string; kind: string }>;
}

function writeItem(w: Writer, it: ItemV): void {
  w.str(it.id);
  w.str(it.kind);
  w.num(it.x);
  w.num(it.y);
}
const readItem = (r: Reader): ItemV => ({ id: r.str(), kind: r.str(), x: r.num(), y: r.num() });

export function writeUser(w: Writer, u: UserV): void {
  w.str(u.name);
  w.site(u.site);
  w.num(u.x);
  w.num(u.y);
  w.list(u.inventory, (c) => {
    w.str(c.id);
    w.str(c.kind);
  });
}
export const readUser = (r: Reader): UserV => ({
  name: r.str(),
  site: r.site(),
  x: r.num(),
  y: r.num(),
  inventory: r.list(() => ({ id: r.str(), kind: r.str() })),
});

/** A player action in one byte (a move's direction included), a say's text after it. */
export function writePlayerAction(w: Writer, a: { kind: string; dir?: string; text?: string }): void {
  if (a.kind === 'move') w.byte(indexIn(DIRS, a.dir));
  else if (a.kind === 'pickup') w.byte(4);
  else if (a.kind === 'portal') w.byte(5);
  else if (a.kind === 'say') {
    w.byte(6);
    w.str(a.text as string);
  } else throw NOT_COMPACT;
}
export function readPlayerAction(r: Reader): SiteAction {
  const b = r.byte();
  if (b < 4) return { kind: 'move', dir: DIRS[b] ?? 'up' };
  if (b === 4) return { kind: 'pickup' };
  if (b === 5) return { kind: 'portal' };
  if (b === 6) return { kind: 'say', text: r.str() };
  throw BAD_BYTES;
}

/** A system action: 0 join (then the user's state), 1 leave. */
export function writeSystemAction(w: Writer, a: { kind: string; user?: UserV }): void {
  if (a.kind === 'join') {
    w.byte(0);
    writeUser(w, a.user as UserV);
  } else if (a.kind === 'leave') w.byte(1);
  else throw NOT_COMPACT;
}
export function readSystemAction(r: Reader): { kind: 'join'; user: UserV } | { kind: 'leave' } {
  const b = r.byte();
  if (b === 0) return { kind: 'join', user: readUser(r) };
  if (b === 1) return { kind: 'leave' };
  throw BAD_BYTES;
}

type EventV = { kind: string } & Record<string, unknown>;

/** `user` writes an acting user's name (an update writes a reference to an applied action). */
export function writeEvent(w: Writer, e: EventV, user: (name: unknown) => void = (n) => w.str(n as string)): void {
  w.byte(indexIn(EVENT_KINDS, e.kind));
  switch (e.kind) {
    case 'moved':
      user(e.user);
      w.num(e.x as number);
      w.num(e.y as number);
      return;
    case 'rejected':
      user(e.user);
      w.byte(indexIn(ACTION_KINDS, e.action));
      w.byte(indexIn(REASONS, e.reason));
      return;
    case 'picked':
      user(e.user);
      writeItem(w, e.item as ItemV);
      return;
    case 'spawned':
      writeItem(w, e.item as ItemV);
      return;
    case 'said':
      user(e.user);
      w.str(e.text as string);
      return;
    case 'joined':
      writeUser(w, e.user as UserV);
      return;
    default:
      writeUser(w, e.user as UserV);
      w.byte(indexIn(VIAS, e.via));
  }
}
export function readEvent(r: Reader, user: () => string = () => r.str()): EventV {
  const kind = r.pick(EVENT_KINDS);
  switch (kind) {
    case 'moved':
      return { kind, user: user(), x: r.num(), y: r.num() };
    case 'rejected':
      return { kind, user: user(), action: r.pick(ACTION_KINDS), reason: r.pick(REASONS) };
    case 'picked':
      return { kind, user: user(), item: readItem(r) };
    case 'spawned':
      return { kind, item: readItem(r) };
    case 'said':
      return { kind, user: user(), text: r.str() };
    case 'joined':
      return { kind, user: readUser(r) };
    default:
      return { kind, user: readUser(r), via: r.pick(VIAS) };
  }
}
