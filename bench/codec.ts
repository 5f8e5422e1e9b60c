/**
 * `npm run bench` section 1: the peer wire codec, the layout of PROTOCOL_VERSION 4 (MessagePack
 * with hex packing; content signed and hashed as canonical JSON) against the compact one
 * (peerCodec.ts), on the same messages, in one run. Per message: encode, decode (the schema
 * included) and what a receiver hashes: a Timeslot's signed bytes (built twice by version 4, for
 * its signature check and its chain hash, once now) and their hash, an update's hash, an action's
 * content hash. The signature check itself is the same in both and is section 2.
 */
import { performance } from 'node:perf_hooks';
import { canonicalJson } from '../src/game/canonical.js';
import { hashBytes, registerSha256, utf8 } from '../src/protocol/crypto.js';
import { decodePeerMessage, encodeMsgpackPeer, encodePeerMessage, type PeerMessage } from '../src/protocol/messages.js';
import { actionContentHash, timeslotHash, timeslotSigningBytes, updateHash } from '../src/protocol/signed.js';
import { nodeSha256 } from '../src/net/crypto/node.js';

/** What a receiver hashes of `m` by version 4's rules: canonical JSON, a Timeslot's built twice. */
function oldHash(m: PeerMessage): void {
  const json = (v: unknown[]): Uint8Array => utf8(canonicalJson(v));
  if (m.type === 'timeslot') {
    const fields = ['timeslot/1', m.site, m.server, m.seq, m.stamp, m.prevHash, m.epoch, m.entries, m.heads, m.update, m.ignoring ?? []];
    json(fields); // the signature check's bytes
    hashBytes(json(fields)); // the chain's hash
  } else if (m.type === 'update') {
    hashBytes(json(['update/1', m.site, m.seq, m.prev, m.window, m.applied, m.events, m.stateHash]));
  } else if (m.type === 'action') {
    hashBytes(json(['action/1', m.site, m.user, m.actionNo, m.action]));
  }
}

/** A stay as a receiver holds one (16 bytes, in every Timeslot's signed bytes since version 8). */
const STAY = '5a'.repeat(16);

/** The same by the compact rules: a Timeslot's bytes once per object (verify, then hash, reuse them). */
function newHash(m: PeerMessage): void {
  if (m.type === 'timeslot') {
    timeslotSigningBytes(m, STAY);
    timeslotHash(m, STAY);
  } else if (m.type === 'update') updateHash(m);
  else if (m.type === 'action') actionContentHash(m);
}

function perCall(fn: () => void, ms: number): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    t = performance.now();
  }
  return ((t - t0) * 1000) / n;
}

/** The fastest of five short runs, in µs per call (a shared machine disturbs the others). */
const bestUs = (fn: () => void): number => Math.min(...Array.from({ length: 5 }, () => perCall(fn, 150)));

export interface CodecRow {
  type: PeerMessage['type'];
  oldBytes: number;
  newBytes: number;
  /** µs per message: encode + decode + hash. */
  oldUs: number;
  newUs: number;
}

/** Old against new on each message, native SHA-256 (as bots and the admin hash) for both. */
export function codecBench(messages: PeerMessage[]): CodecRow[] {
  registerSha256(nodeSha256);
  try {
    return messages.map((m) => {
      const oldWire = encodeMsgpackPeer(m);
      const newWire = encodePeerMessage(m);
      const oldUs = bestUs(() => {
        encodeMsgpackPeer(m);
        const r = decodePeerMessage(oldWire);
        if (r.ok) oldHash(r.value);
      });
      const newUs = bestUs(() => {
        encodePeerMessage(m);
        const r = decodePeerMessage(newWire);
        if (r.ok) newHash(r.value);
      });
      return { type: m.type, oldBytes: oldWire.byteLength - 1, newBytes: newWire.byteLength, oldUs, newUs };
    });
  } finally {
    registerSha256(null);
  }
}
