/**
 * The simulator's one doorway to the protocol core (src/protocol): the wire codec and the few
 * helpers the hosts need. Everything protocol-specific the simulator touches is imported here or
 * in cheaters.ts, so an API change of the core shows up in one place.
 */
import {
  decodePeerMessage,
  encodePeerMessage,
  type CoreEvent,
  type Membership,
  type PeerMessage,
} from '../src/protocol/index.js';
import type { Codec } from './network.js';

export type { CoreEvent, Membership, PeerMessage };

/** Peer messages as they go over a data channel: MessagePack, parsed on arrival. */
export const peerCodec: Codec<PeerMessage> = {
  encode: (msg) => encodePeerMessage(msg),
  decode: (bytes) => {
    const r = decodePeerMessage(bytes);
    return r.ok ? r.value : { error: `${r.code}: ${r.message}` };
  },
  kindOf: (msg) => msg.type,
};
