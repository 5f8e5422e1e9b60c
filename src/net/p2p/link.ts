/**
 * One data channel to one peer, whatever carries it: simple-peer (WebRTC) in browsers and bots,
 * an in-memory pair in unit tests. Messages are the peer protocol's binary frames
 * (encodePeerMessage); the link neither parses nor trusts them.
 */
import type { SignalData } from '../../protocol/messages.js';

export interface PeerLink {
  /** True once the channel is open, until it closes. */
  readonly open: boolean;
  /** Sends one frame; false when the channel is not open. */
  send(bytes: Uint8Array): boolean;
  onOpen(cb: () => void): void;
  onMessage(cb: (bytes: Uint8Array) => void): void;
  /** Called once, when the channel closes or fails for good. */
  onClose(cb: (why: string) => void): void;
  close(): void;
  /** Feeds signaling from the other end (relayed by the admin). */
  signal(data: SignalData): void;
  /** Bytes buffered but not yet sent (backpressure), when known. */
  readonly buffered: number;
}

/**
 * Makes a link from this tab's end `local` to `remote`; `onSignal` carries this end's offers,
 * answers and candidates to the admin.
 */
export type LinkFactory = (opts: {
  initiator: boolean;
  local: string;
  remote: string;
  onSignal: (data: SignalData) => void;
}) => PeerLink;
