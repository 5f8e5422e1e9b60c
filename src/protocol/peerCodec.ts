/**
 * The compact layouts of the hot peer messages (codec.ts has the primitives) and the bytes that
 * sign and hash Timeslots, updates and actions. A move is about a dozen bytes: tag, site, user,
 * action number, one byte for the move. messages.ts calls `encodeCompact`/`decodeCompact` and
 * checks every decoded value against the schema's bounds (compactCheck.ts); a message without a
 * compact layout, or with a value none can carry exactly, goes as MessagePack behind TAG_MSGPACK.
 * Bundles (at the end) carry several frames in one data-channel frame.
 *
 * Signed and hashed content is the same compact layout behind a DOMAIN byte (one per kind; the
 * kind's canonical JSON, which starts with '[', only for content no layout carries), so signing
 * never goes through JSON, and a Timeslot's bytes are computed once per object: verifying it and
 * then hashing it into its chain reuse them. Anyone holding the values (the admin checking a
 * forwarded Timeslot as evidence) rebuilds the same bytes: they depend on the values only.
 */
import { canonicalJson } from '../game/canonical.js';
import {
  BAD_BYTES,
  DOMAIN,
  NOT_COMPACT,
  Reader,
  TAG,
  TAG_BUNDLE,
  Writer,
  readEvent,
  readPlayerAction,
  readSystemAction,
  writeEvent,
  writePlayerAction,
  writeSystemAction,
} from './codec.js';
import { utf8 } from './crypto.js';
import type { PeerMessage, Timeslot, UpdateMessage } from './messages.js';

type TimeslotBody = Omit<Timeslot, 'sig'>;
type UpdateBody = Omit<UpdateMessage, 'type' | 'hash'>;
type ActionContent = { site: string; user: string; actionNo: number; action: unknown };
type SysActionContent = { site: string; sysNo: number; actor: string; action: unknown };

const COMPACT_TAGS: ReadonlySet<number> = new Set(Object.values(TAG));

/** Whether `tag` starts a compact message of this protocol version. */
export function isCompactTag(tag: number): boolean {
  return COMPACT_TAGS.has(tag);
}

// One writer per purpose, reused: wire encoding and signing never interleave, but keeping them
// apart means a signing call inside an encoder could never clobber it.
const wire = new Writer();
const signing = new Writer();

/** The compact form of `msg`, or null when it has none (then it goes as MessagePack). */
export function encodeCompact(msg: PeerMessage): Uint8Array | null {
  wire.reset();
  try {
    writeMessage(wire, msg);
  } catch {
    // NOT_COMPACT, or a value of the wrong type: the general form carries it exactly.
    return null;
  }
  return wire.bytes();
}

/**
 * The plain value of compact bytes, for the schema to validate; throws BAD_BYTES on a truncated,
 * unknown or overlong encoding (the caller turns it into ERR_MALFORMED).
 */
export function decodeCompact(bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const value = readMessage(r);
  if (r.left !== 0) throw BAD_BYTES;
  return value;
}

function writeMessage(w: Writer, m: PeerMessage): void {
  switch (m.type) {
    case 'action':
      w.byte(TAG.action);
      writeActionContent(w, m);
      return;
    case 'sysAction':
      w.byte(TAG.sysAction);
      writeSysActionContent(w, m);
      w.hex(m.sig, 0);
      return;
    case 'timeslot':
      writeTimeslot(w, m);
      return;
    case 'timeslotReply':
      w.byte(TAG.timeslotReply);
      w.site(m.site);
      w.list(m.timeslots, (t) => writeTimeslot(w, t));
      optionalUint(w, m.epoch);
      return;
    case 'update':
      w.byte(TAG.update);
      writeUpdateBody(w, m);
      w.hash(m.hash);
      return;
    case 'updateHash':
      w.byte(TAG.updateHash);
      w.site(m.site);
      w.uint(m.seq);
      w.hash(m.hash);
      return;
    case 'echo':
      w.byte(TAG.echo);
      w.site(m.site);
      w.list(m.heads, (h) => writeHead(w, h));
      optionalList(w, m.ignoring);
      return;
    default:
      throw NOT_COMPACT;
  }
}

function readMessage(r: Reader): unknown {
  const tag = r.byte();
  switch (tag) {
    case TAG.action:
      return { type: 'action', ...readActionContent(r) };
    case TAG.sysAction:
      return { type: 'sysAction', ...readSysActionContent(r), sig: r.hex(0) };
    case TAG.timeslot:
      return { type: 'timeslot', ...readTimeslotAfterTag(r) };
    case TAG.timeslotReply: {
      const site = r.site();
      const timeslots = r.list(() => {
        if (r.byte() !== TAG.timeslot) throw BAD_BYTES;
        return readTimeslotAfterTag(r);
      });
      const epoch = readOptionalUint(r);
      return { type: 'timeslotReply', site, timeslots, ...(epoch === undefined ? {} : { epoch }) };
    }
    case TAG.update:
      return { type: 'update', ...readUpdateBody(r), hash: r.hash() };
    case TAG.updateHash:
      return { type: 'updateHash', site: r.site(), seq: r.uint(), hash: r.hash() };
    case TAG.echo: {
      const site = r.site();
      const heads = r.list(() => readHead(r));
      const ignoring = readOptionalList(r);
      return { type: 'echo', site, heads, ...(ignoring === undefined ? {} : { ignoring }) };
    }
    default:
      throw BAD_BYTES;
  }
}

// ---------------------------------------------------------------------------------------------
// Layouts
// ---------------------------------------------------------------------------------------------

function writeActionContent(w: Writer, a: ActionContent): void {
  w.site(a.site);
  w.str(a.user);
  w.uint(a.actionNo);
  writePlayerAction(w, a.action as { kind: string });
}
const readActionContent = (r: Reader): ActionContent => ({ site: r.site(), user: r.str(), actionNo: r.uint(), action: readPlayerAction(r) });

function writeSysActionContent(w: Writer, a: SysActionContent): void {
  w.site(a.site);
  w.uint(a.sysNo);
  w.str(a.actor);
  writeSystemAction(w, a.action as { kind: string });
}
const readSysActionContent = (r: Reader): SysActionContent => ({ site: r.site(), sysNo: r.uint(), actor: r.str(), action: readSystemAction(r) });

function writeHead(w: Writer, h: readonly [string, number, string]): void {
  w.str(h[0]);
  w.uint(h[1]);
  w.hash(h[2]);
}
const readHead = (r: Reader): [string, number, string] => [r.str(), r.uint(), r.hash()];

/** Absent as 0, else length + 1 then the strings (so absent and empty stay apart). */
function optionalList(w: Writer, list: readonly string[] | undefined): void {
  if (list === undefined) return w.uint(0);
  if (!Array.isArray(list)) throw NOT_COMPACT;
  w.uint(list.length + 1);
  for (const s of list) w.str(s);
}
function readOptionalList(r: Reader): string[] | undefined {
  const k = r.uint();
  if (k === 0) return undefined;
  if (k - 1 > r.left) throw BAD_BYTES;
  return Array.from({ length: k - 1 }, () => r.str());
}
function optionalUint(w: Writer, v: number | undefined): void {
  if (v === undefined) return w.byte(0);
  w.byte(1);
  w.uint(v);
}
function readOptionalUint(r: Reader): number | undefined {
  const present = r.byte();
  if (present > 1) throw BAD_BYTES;
  return present === 1 ? r.uint() : undefined;
}

/** The tag and body of a Timeslot: its signing bytes but for the first byte, then its signature. */
function writeTimeslot(w: Writer, t: Timeslot): void {
  w.byte(TAG.timeslot);
  writeTimeslotBody(w, t, false);
  w.hex(t.sig, 0);
}
function readTimeslotAfterTag(r: Reader): Timeslot {
  const site = r.site();
  const server = r.str();
  const seq = r.uint();
  const stamp = r.num();
  const prevHash = r.hash();
  const epoch = r.uint();
  const entries = r.list((): [string, number, number, string] => [r.str(), r.uint(), r.num(), r.hash()]);
  const heads = r.list(() => readHead(r));
  const u = r.byte();
  if (u > 1) throw BAD_BYTES;
  const update: [number, string] | null = u === 1 ? [r.uint(), r.hash()] : null;
  const ignoring = readOptionalList(r);
  const sig = r.hex(0);
  return { site, server, seq, stamp, prevHash, epoch, entries, heads, update, ...(ignoring === undefined ? {} : { ignoring }), sig };
}

/** `signed`: an absent `ignoring` signs like an empty one (signTimeslot drops an empty one). */
function writeTimeslotBody(w: Writer, t: TimeslotBody, signed: boolean): void {
  w.site(t.site);
  w.str(t.server);
  w.uint(t.seq);
  w.num(t.stamp);
  w.hash(t.prevHash);
  w.uint(t.epoch);
  w.list(t.entries, (e) => {
    w.str(e[0]);
    w.uint(e[1]);
    w.num(e[2]);
    w.hash(e[3]);
  });
  w.list(t.heads, (h) => writeHead(w, h));
  if (t.update === null) w.byte(0);
  else {
    w.byte(1);
    w.uint(t.update[0]);
    w.hash(t.update[1]);
  }
  optionalList(w, signed ? (t.ignoring ?? []) : t.ignoring);
}

/**
 * An update's event names its user by reference to the applied action it comes from: 1 + that
 * action's index, or 0 then the name (an event of no applied action's user). A name was most of
 * an action's bytes in an update (a bot's is 14) and each action named its user twice (applied,
 * event): this is what grew with n. Events come in the order of the actions that made them, so
 * the encoder tries the action at its cursor and the one before (two events of one action), and
 * no search: an update is hashed by writing it, once per full copy a user receives. Equal values
 * may have other encodings (a name in full where a reference could be); nothing depends on that:
 * hashes and signatures are over the values, written by this encoder.
 */
function writeUpdateBody(w: Writer, u: UpdateBody): void {
  w.site(u.site);
  w.uint(u.seq);
  w.hash(u.prev);
  w.num(u.window);
  const applied = u.applied;
  w.list(applied, (a) => {
    w.str(a[0]);
    w.uint(a[1]);
  });
  let next = 0;
  const user = (name: unknown): void => {
    if (applied[next]?.[0] === name) {
      w.uint(++next);
      return;
    }
    if (next > 0 && applied[next - 1]?.[0] === name) return w.uint(next);
    w.uint(0);
    w.str(name as string);
  };
  w.list(u.events, (e) => writeEvent(w, e, user));
  w.hash(u.stateHash);
}
function readUpdateBody(r: Reader): UpdateBody {
  const site = r.site();
  const seq = r.uint();
  const prev = r.hash();
  const window = r.num();
  const applied = r.list((): [string, number] => [r.str(), r.uint()]);
  const user = (): string => {
    const k = r.uint();
    if (k === 0) return r.str();
    const a = applied[k - 1];
    if (a === undefined) throw BAD_BYTES;
    return a[0];
  };
  const events = r.list(() => readEvent(r, user)) as UpdateBody['events'];
  return { site, seq, prev, window, applied, events, stateHash: r.hash() };
}

// ---------------------------------------------------------------------------------------------
// Signed and hashed content
// ---------------------------------------------------------------------------------------------

/**
 * DOMAIN byte + layout, or the canonical JSON of `json()` when the layout cannot carry a value.
 * `view`: a view of the shared buffer, valid until the next call (for a hash taken at once).
 */
function contentBytes(domain: number, write: (w: Writer) => void, json: () => unknown[], view: boolean): Uint8Array {
  signing.reset();
  try {
    signing.byte(domain);
    write(signing);
  } catch {
    // NOT_COMPACT, or a value of the wrong type: hashed as before this layout, exactly.
    return utf8(canonicalJson(json()));
  }
  return view ? signing.view() : signing.bytes();
}

// Signing bytes per Timeslot object and the stay they were built for: verifying a Timeslot and then
// hashing it into its chain (and signing one and then offering it to our own chain) build them
// once. A Timeslot is never changed in place once signed or parsed (cheaters in the simulator
// build a new one and re-sign it). Asked for another stay, the bytes are built again (and kept).
const timeslotBytes = new WeakMap<object, { stay: string; bytes: Uint8Array }>();

/**
 * The signed and hashed content of a Timeslot of the stay `stay` (membership record's `stay`):
 * DOMAIN byte, the stay's 16 bytes, then the layout. The stay is not sent: each side puts in its
 * own, so a Timeslot of another stay fails its signature everywhere (sim/FINDINGS.md 92).
 */
export function timeslotContent(t: TimeslotBody, stay: string): Uint8Array {
  const held = timeslotBytes.get(t);
  if (held && held.stay === stay) return held.bytes;
  const bytes = contentBytes(
    DOMAIN.timeslot,
    (w) => {
      w.hash(stay);
      writeTimeslotBody(w, t, true);
    },
    () => ['timeslot/2', stay, t.site, t.server, t.seq, t.stamp, t.prevHash, t.epoch, t.entries, t.heads, t.update, t.ignoring ?? []],
    false,
  );
  timeslotBytes.set(t, { stay, bytes });
  return bytes;
}

/** Records the signing bytes of a Timeslot just signed over them (its body had the same values). */
export function rememberTimeslotContent(t: Timeslot, stay: string, bytes: Uint8Array): void {
  timeslotBytes.set(t, { stay, bytes });
}

/** A view, valid until the next content call: hash it at once. */
export function updateContent(u: UpdateBody): Uint8Array {
  return contentBytes(
    DOMAIN.update,
    (w) => writeUpdateBody(w, u),
    () => ['update/1', u.site, u.seq, u.prev, u.window, u.applied, u.events, u.stateHash],
    true,
  );
}

/** A view, valid until the next content call: hash it at once. */
export function actionContent(a: ActionContent): Uint8Array {
  return contentBytes(
    DOMAIN.action,
    (w) => writeActionContent(w, a),
    () => ['action/1', a.site, a.user, a.actionNo, a.action],
    true,
  );
}

/** A copy (signed, or hashed, by the caller). */
export function sysActionContent(a: SysActionContent): Uint8Array {
  return contentBytes(
    DOMAIN.sysAction,
    (w) => writeSysActionContent(w, a),
    () => ['sysAction/1', a.site, a.sysNo, a.actor, a.action],
    false,
  );
}

// ---------------------------------------------------------------------------------------------
// Bundles: the frames one host sends one peer during one wake, as one data-channel frame
// ---------------------------------------------------------------------------------------------

/** Most frames in one bundle (a wake sends a peer a handful; a link's opening queue more). */
export const MAX_BUNDLE_FRAMES = 128;
/**
 * Most bytes of one bundle: 16 KiB, the message size every WebRTC stack delivers whole (larger
 * messages depend on the peers' max-message-size). A frame larger than this goes alone.
 */
export const MAX_BUNDLE_BYTES = 16 * 1024;
/** Bytes a bundle adds: its tag and count (up to 2 B), and each frame's length (up to 3 B). */
const BUNDLE_HEAD = 3;
const FRAME_HEAD = 3;

/**
 * Packs `frames` (in order) into as few data-channel frames as the bounds allow: a bundle is
 * TAG_BUNDLE, the frame count, then each frame's length and bytes; a lone frame, one too large
 * for a bundle and one that is a bundle go as they are.
 */
export function packFrames(frames: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let group: Uint8Array[] = [];
  let size = BUNDLE_HEAD;
  const close = (): void => {
    if (group.length === 1) out.push(group[0] as Uint8Array);
    else if (group.length > 1) out.push(encodeBundle(group));
    group = [];
    size = BUNDLE_HEAD;
  };
  for (const f of frames) {
    // Too large, or a bundle itself (only a hostile or broken sender has one): alone, as it is.
    if (f.byteLength + FRAME_HEAD + BUNDLE_HEAD > MAX_BUNDLE_BYTES || f[0] === TAG_BUNDLE) {
      close();
      out.push(f);
      continue;
    }
    if (group.length >= MAX_BUNDLE_FRAMES || size + FRAME_HEAD + f.byteLength > MAX_BUNDLE_BYTES) close();
    group.push(f);
    size += FRAME_HEAD + f.byteLength;
  }
  close();
  return out;
}

const bundling = new Writer();

function encodeBundle(frames: readonly Uint8Array[]): Uint8Array {
  const w = bundling.reset();
  w.byte(TAG_BUNDLE);
  w.uint(frames.length);
  for (const f of frames) {
    w.uint(f.byteLength);
    w.raw(f);
  }
  return w.bytes();
}

/** Whether a data-channel frame is a bundle (then `unpackBundle` it) rather than one peer frame. */
export const isBundle = (bytes: Uint8Array): boolean => bytes[0] === TAG_BUNDLE;

/**
 * The frames of a bundle, in order (views into `bytes`), or why it is refused: a count of 2 to
 * MAX_BUNDLE_FRAMES, at most MAX_BUNDLE_BYTES in all, every frame non-empty, no bundle inside,
 * nothing after the last. Never throws.
 */
export function unpackBundle(bytes: Uint8Array): { ok: true; frames: Uint8Array[] } | { ok: false; message: string } {
  if (bytes.byteLength > MAX_BUNDLE_BYTES) return { ok: false, message: `bundle of ${bytes.byteLength} bytes exceeds ${MAX_BUNDLE_BYTES}` };
  try {
    const r = new Reader(bytes);
    if (r.byte() !== TAG_BUNDLE) return { ok: false, message: 'not a bundle' };
    const count = r.uint();
    if (count < 2 || count > MAX_BUNDLE_FRAMES) return { ok: false, message: `bundle of ${count} frames (2 to ${MAX_BUNDLE_FRAMES})` };
    const frames: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const len = r.uint();
      if (len === 0 || len > r.left) return { ok: false, message: `frame ${i} of the bundle is empty or truncated` };
      const frame = bytes.subarray(r.pos, r.pos + len);
      if (frame[0] === TAG_BUNDLE) return { ok: false, message: `frame ${i} of the bundle is a bundle` };
      frames.push(frame);
      r.pos += len;
    }
    if (r.left !== 0) return { ok: false, message: `${r.left} bytes after the bundle's last frame` };
    return { ok: true, frames };
  } catch {
    return { ok: false, message: 'truncated bundle' };
  }
}
