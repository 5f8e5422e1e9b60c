/**
 * The peer message parsePeerMessage validated last, so that a core's `receive` does not validate
 * the same object twice: a host decodes a frame (decodePeerMessage validates it) and hands the
 * core that very object at once. One slot, not a WeakSet: adding to a WeakSet cost about 1 µs
 * per message (bench/serve.ts), and a host passes on what it decoded before decoding the next.
 * Messages are read-only once parsed (the cores and hosts never change one); any other object
 * is validated. A decoder that validates by other means than parsePeerMessage marks its output
 * here too.
 */
import type { ParseResult, PeerMessage } from './messages.js';

let last: PeerMessage | null = null;

/** Records `msg` as a valid peer message (call only with what a full validation returned). */
export function markParsed(msg: PeerMessage): void {
  last = msg;
}

/** `raw` as a parse result when it is the message validated last, else null (then validate it). */
export function alreadyParsed(raw: unknown): ParseResult<PeerMessage> | null {
  return raw === last && last !== null ? { ok: true, value: last } : null;
}
