/**
 * The rewrites cheat modes apply to what a server sends: a Timeslot stream re-signed per
 * recipient with its hash chain kept consistent, updates with other events, forged departures and
 * forged state chunks. Tests only (src/net/p2p/cheat.ts).
 */
import type { GameEvent } from '../../game/types.js';
import { hashOf, type SignatureScheme } from '../../protocol/crypto.js';
import { decodeTransfer, encodeTransfer, type Membership, type PeerMessage, type Timeslot } from '../../protocol/messages.js';
import { signTimeslot, timeslotHash, updateHash, type TimeslotBody } from '../../protocol/signed.js';

/** Who signs the rewritten Timeslots: the cheating server itself. */
export interface Signer {
  id: string;
  secretKey: string;
  crypto: SignatureScheme;
  /** Its record in force: Timeslots are signed and hashed in its stay. */
  membership: () => Membership | null;
}

export const stripTimeslot = (m: PeerMessage & { type: 'timeslot' }): Timeslot => {
  const { type: _type, ...ts } = m;
  return ts;
};

/** Rewrites a server's own Timeslot stream per recipient view, keeping hash chains consistent. */
export class ChainRewriter {
  private readonly views = new Map<string, Map<string, Timeslot>>();
  /** Latest Timeslot head received directly from each other server (what a cheater echoes). */
  readonly latest = new Map<string, [string, number, string]>();
  constructor(private readonly ctx: Signer) {}

  rewrite(view: string, ts: Timeslot, f: (body: TimeslotBody, prev: Timeslot | undefined) => TimeslotBody): Timeslot {
    // The core signs nothing before it holds a record: there is a stay whenever there is a Timeslot.
    const stay = this.ctx.membership()?.stay;
    if (stay === undefined) return ts;
    let m = this.views.get(view);
    if (!m) this.views.set(view, (m = new Map()));
    const origHash = timeslotHash(ts, stay);
    const cached = m.get(origHash);
    if (cached) return cached;
    const { sig: _sig, ...orig } = ts;
    const prev = m.get(ts.prevHash);
    const self = this.ctx.id;
    let body: TimeslotBody = {
      ...orig,
      prevHash: prev ? timeslotHash(prev, stay) : ts.prevHash,
      // Echo the freshest heads received: the cheater's own core may fall out of step with its
      // peers because of its lies, and a stale echo would stall everyone (a different attack).
      heads: ts.heads.map((h) => {
        if (h[0] === self) {
          const r = m.get(h[2]);
          return r ? [h[0], h[1], timeslotHash(r, stay)] : h;
        }
        const fresh = this.latest.get(h[0]);
        return fresh && fresh[1] > h[1] ? fresh : h;
      }),
    };
    body = f(body, prev);
    const signed = signTimeslot(body, this.ctx.secretKey, this.ctx.crypto, stay);
    m.set(origHash, signed);
    return signed;
  }
}

export type UpdateMsg = PeerMessage & { type: 'update' };

/** An update with other events and the hash that matches them. */
export function withEvents(msg: UpdateMsg, events: GameEvent[]): UpdateMsg {
  const { type: _t, hash: _h, ...rest } = msg;
  const body = { ...rest, events };
  return { ...body, type: 'update', hash: updateHash(body) };
}

/** A leaver's state with one more item than it had (the forged departure the admin must not store). */
export function forgeDepartures(msg: UpdateMsg): UpdateMsg {
  return withEvents(
    msg,
    msg.events.map((e): GameEvent =>
      e.kind === 'left' ? { ...e, user: { ...e.user, inventory: [...e.user.inventory, { id: `forged-${msg.seq}`, kind: 'gem' }] } } : e,
    ),
  );
}

/**
 * A state chunk series with a forged snapshot (every user handed a forged item), its update's
 * `stateHash` and hash recomputed: self-consistent, only the majority's hashes say otherwise.
 */
export function forgeStateChunks(chunks: Array<PeerMessage & { type: 'stateChunk' }>): Array<PeerMessage & { type: 'stateChunk' }> {
  const first = chunks[0];
  if (!first) return chunks;
  const whole = new Uint8Array(chunks.reduce((n, c) => n + c.data.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    whole.set(c.data, at);
    at += c.data.byteLength;
  }
  const p = decodeTransfer(whole);
  if (!p.ok) return chunks;
  const { state, update, hints } = p.value;
  const users = state.snapshot.users.map((u) => ({ ...u, inventory: [...u.inventory, { id: `forged-${update.seq}`, kind: 'gem' }] }));
  const forgedState = { ...state, snapshot: { ...state.snapshot, users } };
  const { hash: _h, ...body } = { ...update, stateHash: hashOf(forgedState) };
  const forgedUpdate = { ...body, hash: updateHash(body) };
  const bytes = encodeTransfer({ update: forgedUpdate, state: forgedState, hints });
  const size = first.data.byteLength > 0 ? Math.max(...chunks.map((c) => c.data.byteLength)) : bytes.byteLength;
  const count = Math.max(1, Math.ceil(bytes.byteLength / Math.max(1, size)));
  return Array.from({ length: count }, (_, i) => ({ ...first, hash: forgedUpdate.hash, index: i, count, data: bytes.slice(i * size, (i + 1) * size) }));
}
