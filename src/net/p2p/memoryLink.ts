/**
 * In-memory links for unit tests, same PeerLink contract as the WebRTC one. Like SDP, the
 * signaling itself pairs the two ends: an offer names the offering end, the answer the answering
 * one, and the answer reaching the initiator connects exactly those two. Everything (offers,
 * opening, frames, closing) happens later than the call that caused it, never inside it: at the
 * next microtask, or, for a manual hub, when the test calls `flush()`.
 */
import type { SignalData } from '../../protocol/messages.js';
import type { LinkFactory, PeerLink } from './link.js';

const SDP_PREFIX = 'memory:';

class MemoryEnd implements PeerLink {
  open = false;
  closed = false;
  other: MemoryEnd | null = null;
  readonly buffered = 0;
  private readonly opened: Array<() => void> = [];
  private readonly messages: Array<(b: Uint8Array) => void> = [];
  private readonly closes: Array<(why: string) => void> = [];

  constructor(
    private readonly hub: MemoryHub,
    readonly id: number,
    readonly initiator: boolean,
    private readonly onSignal: (data: SignalData) => void,
  ) {
    // The initiator offers at once, like simple-peer does.
    if (initiator) hub.later(() => !this.closed && this.onSignal({ type: 'offer', sdp: `${SDP_PREFIX}${id}` }));
  }

  connectTo(other: MemoryEnd): void {
    this.other = other;
    this.hub.later(() => {
      if (this.closed) return;
      this.open = true;
      for (const cb of this.opened) cb();
    });
  }

  send(bytes: Uint8Array): boolean {
    const o = this.other;
    if (!this.open || !o) return false;
    const copy = bytes.slice();
    this.hub.later(() => o.deliver(copy));
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
    if (o) this.hub.later(() => o.finish('closed by peer'));
  }

  finish(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    for (const cb of this.closes) cb(why);
  }

  signal(data: SignalData): void {
    if (this.closed || data.type === 'candidate') return;
    const remote = this.hub.end(data.sdp);
    if (data.type === 'offer' && !this.initiator) {
      // Answer the offer; the initiator connects when the answer reaches it.
      if (remote) this.other = remote;
      this.onSignal({ type: 'answer', sdp: `${SDP_PREFIX}${this.id}` });
    }
    if (data.type === 'answer' && this.initiator && remote && !remote.closed && remote.other === this) {
      this.connectTo(remote);
      remote.connectTo(this);
    }
  }
}

export class MemoryHub {
  private readonly ends = new Map<number, MemoryEnd>();
  private readonly queue: Array<() => void> = [];
  private nextId = 1;

  /** `manual`: nothing happens until flush() (deterministic tests); otherwise at the next microtask. */
  constructor(private readonly opts: { manual?: boolean } = {}) {}

  /** A LinkFactory for one tab (any number of tabs may share a hub). */
  factory(): LinkFactory {
    return ({ initiator, onSignal }) => {
      const end = new MemoryEnd(this, this.nextId++, initiator, onSignal);
      this.ends.set(end.id, end);
      return end;
    };
  }

  /** Runs `fn` later than the current call. */
  later(fn: () => void): void {
    if (this.opts.manual) this.queue.push(fn);
    else queueMicrotask(fn);
  }

  /** Manual hub: runs what is queued, and what that queues, until nothing is left. */
  flush(): void {
    for (let i = 0; i < 1_000_000; i++) {
      const fn = this.queue.shift();
      if (!fn) return;
      fn();
    }
    throw new Error('MemoryHub.flush: does not settle');
  }

  /** Links open now (both ends count once). */
  get openLinks(): number {
    let n = 0;
    for (const e of this.ends.values()) if (e.open && e.initiator) n++;
    return n;
  }

  /** The end an SDP of ours names. */
  end(sdp: string): MemoryEnd | undefined {
    return sdp.startsWith(SDP_PREFIX) ? this.ends.get(Number(sdp.slice(SDP_PREFIX.length))) : undefined;
  }
}
