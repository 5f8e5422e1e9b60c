/**
 * Peer messages already validated by parsePeerMessage, so that a core's `receive` does not
 * validate the same object twice: a host decodes a frame (decodePeerMessage validates it) and
 * hands the core the very object it got. The set holds objects weakly. Messages are read-only
 * once parsed (the cores and hosts never change one); anything not in the set is validated.
 * A decoder that validates by other means than parsePeerMessage marks its output here too.
 */
import type { ParseResult, PeerMessage } from './messages.js';

const parsed = new WeakSet<object>();

/** Records `msg` as a valid peer message (call only with what a full validation returned). */
export function markParsed(msg: PeerMessage): void {
  parsed.add(msg);
}

/** `raw` as a parse result when it was validated already, else null (then validate it). */
export function alreadyParsed(raw: unknown): ParseResult<PeerMessage> | null {
  return typeof raw === 'object' && raw !== null && parsed.has(raw) ? { ok: true, value: raw as PeerMessage } : null;
}
