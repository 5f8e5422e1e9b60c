/**
 * PeerLink over simple-peer (WebRTC data channel, trickle ICE) in the browser.
 *
 * Which simple-peer: `@thaunknown/simple-peer` 10 (`lite.js`, no media), the maintained ESM fork
 * on the browser's own RTCPeerConnection, rather than simple-peer 9 (unmaintained; its entry
 * needs Node globals, so Vite needs its prebuilt `simplepeer.min.js`). The fork depends on
 * webrtc-polyfill and so on node-datachannel, whose pinned 0.32 downloads binaries at install
 * (which fails here): package.json overrides it to the 0.33 the bots use directly (platform
 * packages, no install script). Node peers (bots) use datachannelLink.ts instead: same signaling,
 * so they link to tabs. The constructor is injected, so the choice stays in src/client/app.ts.
 */
import type { IceServer, SignalData } from '../../protocol/messages.js';
import type { LinkFactory, PeerLink } from './link.js';

/** The part of a simple-peer instance we use. */
export interface SimplePeerInstance {
  readonly connected: boolean;
  readonly bufferSize?: number;
  signal(data: unknown): void;
  send(data: Uint8Array): void;
  destroy(err?: Error): void;
  on(event: 'signal', cb: (data: unknown) => void): void;
  on(event: 'connect' | 'close', cb: () => void): void;
  on(event: 'data', cb: (data: Uint8Array) => void): void;
  on(event: 'error', cb: (err: Error & { code?: string }) => void): void;
}

export type SimplePeerConstructor = new (opts: Record<string, unknown>) => SimplePeerInstance;

/** A LinkFactory from simple-peer's constructor. */
export function simplePeerFactory(Peer: SimplePeerConstructor, opts: { iceServers: IceServer[] }): LinkFactory {
  return ({ initiator, onSignal }) => {
    const peer = new Peer({ initiator, trickle: true, config: { iceServers: opts.iceServers } });
    return wrap(peer, onSignal);
  };
}

function wrap(peer: SimplePeerInstance, onSignal: (data: SignalData) => void): PeerLink {
  let open = false;
  let closed = false;
  const opened: Array<() => void> = [];
  const messages: Array<(b: Uint8Array) => void> = [];
  const closes: Array<(why: string) => void> = [];
  const finish = (why: string): void => {
    if (closed) return;
    closed = true;
    open = false;
    for (const cb of closes) cb(why);
  };
  peer.on('signal', (d) => onSignal(d as SignalData));
  peer.on('connect', () => {
    if (closed) return;
    open = true;
    for (const cb of opened) cb();
  });
  peer.on('data', (d) => {
    // Uint8Array in both places (an ArrayBuffer is wrapped, just in case).
    const bytes = d instanceof Uint8Array ? d : new Uint8Array(d as ArrayBuffer);
    for (const cb of messages) cb(bytes);
  });
  peer.on('close', () => finish('closed'));
  peer.on('error', (e) => {
    finish(e.code ?? e.message);
    peer.destroy();
  });
  return {
    get open() {
      return open;
    },
    get buffered() {
      return peer.bufferSize ?? 0;
    },
    send(bytes) {
      if (!open || closed) return false;
      try {
        peer.send(bytes);
        return true;
      } catch {
        return false;
      }
    },
    onOpen: (cb) => void opened.push(cb),
    onMessage: (cb) => void messages.push(cb),
    onClose: (cb) => void closes.push(cb),
    close() {
      finish('closed here');
      peer.destroy();
    },
    signal(data) {
      if (closed) return;
      try {
        peer.signal(data);
      } catch (e) {
        finish((e as Error).message);
        peer.destroy();
      }
    },
  };
}
