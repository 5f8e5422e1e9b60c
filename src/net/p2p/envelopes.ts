/**
 * A tab's side of the `peer` envelopes over the admin WebSocket (src/protocol/chunks.ts): the
 * peer messages it sends the admin, encoded and cut into chunks under one envelope id each, and
 * the admin's chunks to it, joined per role and decoded. P2PNode and the simulator's tabs
 * (sim/world/tab.ts) both use it; the admin's side is server/p2p/relay.ts.
 */
import { ChunkAssembler, splitChunks } from '../../protocol/chunks.js';
import {
  decodePeerMessage,
  encodePeerMessage,
  type ClientMessage,
  type ParseResult,
  type PeerMessage,
  type PeerRole,
  type ServerMessage,
} from '../../protocol/messages.js';

export class TabEnvelopes {
  private readonly assemblers = new Map<PeerRole, ChunkAssembler>();
  private nextId = 1;

  /** The envelopes that carry `msg` to the admin from this tab's `as` on `site`, in order. */
  wrap(as: PeerRole, site: string, msg: PeerMessage): Array<Extract<ClientMessage, { type: 'peer' }>> {
    const chunks = splitChunks(encodePeerMessage(msg));
    const id = this.nextId++ & 0x7fffffff;
    return chunks.map((data, index) => ({ type: 'peer', as, site, id, index, count: chunks.length, data }));
  }

  /**
   * The admin's peer message once the envelope's last chunk came (`now`: local ms, for abandoning
   * partial ones); null while incomplete; an error for a bad chunk or undecodable bytes.
   */
  unwrap(m: Extract<ServerMessage, { type: 'peer' }>, now: number): ParseResult<PeerMessage> | null {
    let asm = this.assemblers.get(m.to);
    if (!asm) this.assemblers.set(m.to, (asm = new ChunkAssembler()));
    const r = asm.add(m.site, m, now);
    if (r === null) return null;
    return r.ok ? decodePeerMessage(r.value) : r;
  }
}
