/**
 * In-memory links for unit tests: a "signaling" hub that pairs the two ends of each link, delivers
 * frames asynchronously (never inside the sender's call) and can cut a link. Same PeerLink
 * contract as the WebRTC one.
 */
import type { SignalData } from '../../protocol/messages.js';
import type { LinkFactory, PeerLink } from './link.js';

class MemoryEnd implements PeerLink {
  open = false;
  closed = false;
  other: MemoryEnd | null = null;
  readonly buffered = 0;
  private readonly opened: Array<() => void> = [];
  private readonly messages: Array<(b: Uint8Array) => void> = [];
  private readonly closes: Array<(why: string) => void> = [];

  constructor(
    readonly initiator: boolean,
    private readonly onSignal: (data: SignalData) => void,
  ) {
    // The initiator "offers" at once, like simple-peer does.
    if (initiator) queueMicrotask(() => !this.closed && this.onSignal({ type: 'offer', sdp: 'memory' }));
  }

  connectTo(other: MemoryEnd): void {
    this.other = other;
    queueMicrotask(() => {
      if (this.closed) return;
      this.open = true;
      for (const cb of this.opened) cb();
    });
  }

  send(bytes: Uint8Array): boolean {
    const o = this.other;
    if (!this.open || !o) return false;
    const copy = bytes.slice();
    queueMicrotask(() => o.deliver(copy));
    return true;
  }

  deliver(bytes: Uint8Array): void {
    if (!this.closed) for (const cb of this.messages) cb(bytes);
  }

  onOpen(cb: () => void): void {
    this.opened.push(cb);
  }
  onMessage(cb: (bytes: Uint8Array) => void): void {
    this.messages.push(cb);
  }
  onClose(cb: (why: string) => void): void {
    this.closes.push(cb);
  }

  close(): void {
    this.finish('closed here');
    const o = this.other;
    if (o) queueMicrotask(() => o.finish('closed by peer'));
  }

  finish(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    for (const cb of this.closes) cb(why);
  }

  signal(data: SignalData): void {
    if (this.closed) return;
    // An offer reaching the answering end: answer it; the answer reaching the initiator: connected.
    if (data.type === 'offer' && !this.initiator) this.onSignal({ type: 'answer', sdp: 'memory' });
    if (data.type === 'answer' && this.initiator) this.hub?.pair(this);
  }

  hub: MemoryHub | null = null;
  key = '';
}

/** Pairs ends by a key both sides agree on (e.g. "a|b" sorted), once the answer reaches the initiator. */
export class MemoryHub {
  private readonly ends = new Map<string, MemoryEnd[]>();

  /** A LinkFactory for the peer named `self`; `remoteOf` tells which remote a new link is for. */
  factory(keyFor: () => string): LinkFactory {
    return ({ initiator, onSignal }) => {
      const end = new MemoryEnd(initiator, onSignal);
      end.hub = this;
      end.key = keyFor();
      const list = this.ends.get(end.key) ?? [];
      list.push(end);
      this.ends.set(end.key, list);
      return end;
    };
  }

  pair(initiator: MemoryEnd): void {
    const list = this.ends.get(initiator.key) ?? [];
    const other = [...list].reverse().find((e) => e !== initiator && !e.initiator && !e.closed && e.other === null);
    if (!other) return;
    initiator.connectTo(other);
    other.connectTo(initiator);
  }
}
