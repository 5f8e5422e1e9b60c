/**
 * TEST AND BENCHMARK ONLY: injected latency, jitter, loss and link outages where messages are
 * sent (this machine's kernel has no netem). A DelayLine holds one direction of one link: each
 * frame waits `latency ± jitter` (uniform, at least 0) and leaves in the order it came (a data
 * channel and a WebSocket are ordered), so a frame waits at least as long as the one before it.
 * Frames may be lost (`loss`, each on its own) or dropped while the line is down (`down`: the
 * line's state is drawn anew every `downPeriodMs`, down with that probability: paper 5.3's
 * "each link is down with probability p"). What each frame really waited (timer lateness
 * included) is reported, so a figure can show the latency it got and not only the one asked for.
 *
 * `delayLinks` wraps a LinkFactory: outgoing frames of each peer link go through a DelayLine
 * (both ends of a link run it, so each direction is delayed once). Nothing here is installed
 * unless a bot is started with latency options.
 */
import type { LinkFactory, PeerLink } from './link.js';
import { isServerEnd } from './mesh.js';

export interface DelaySpec {
  latencyMs: number;
  jitterMs: number;
  /** Probability that one frame is lost. */
  loss: number;
  /** Probability that the line is down during one period. */
  down: number;
  downPeriodMs: number;
}

export const NO_DELAY: DelaySpec = { latencyMs: 0, jitterMs: 0, loss: 0, down: 0, downPeriodMs: 100 };

/** Time, randomness and a one-shot timer, injected so tests run on fake ones. */
export interface DelayEnv {
  now(): number;
  random(): number;
  setTimer(ms: number, cb: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export const realDelayEnv: DelayEnv = {
  now: () => performance.now(),
  random: Math.random,
  setTimer: (ms, cb) => setTimeout(cb, ms),
  clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export type DropReason = 'loss' | 'down';

export interface DelayLineHooks<T> {
  deliver(item: T): void;
  /** Each delivered frame: how long it really waited, ms. */
  waited?(ms: number): void;
  dropped?(why: DropReason): void;
}

export class DelayLine<T> {
  private readonly queue: Array<{ item: T; at: number; due: number }> = [];
  private timer: unknown = null;
  private lastDue = -Infinity;
  private downUntil = -Infinity;
  private periodEnd = -Infinity;
  private closed = false;

  constructor(
    private readonly spec: DelaySpec,
    private readonly env: DelayEnv,
    private readonly hooks: DelayLineHooks<T>,
  ) {}

  /** Whether the line is down now (its state redrawn once per period, lazily). */
  isDown(): boolean {
    if (this.spec.down <= 0) return false;
    const now = this.env.now();
    if (now >= this.periodEnd) {
      // Periods are aligned on multiples of the period, so idle time skips whole periods.
      const p = this.spec.downPeriodMs;
      this.periodEnd = (Math.floor(now / p) + 1) * p;
      this.downUntil = this.env.random() < this.spec.down ? this.periodEnd : -Infinity;
    }
    return now < this.downUntil;
  }

  /** Queues one frame; `reliable` frames (a close) are never lost nor dropped. */
  push(item: T, reliable = false): void {
    if (this.closed) return;
    if (!reliable) {
      if (this.isDown()) return this.hooks.dropped?.('down');
      if (this.spec.loss > 0 && this.env.random() < this.spec.loss) return this.hooks.dropped?.('loss');
    }
    const now = this.env.now();
    const j = this.spec.jitterMs > 0 ? (this.env.random() * 2 - 1) * this.spec.jitterMs : 0;
    const due = Math.max(this.lastDue, now + Math.max(0, this.spec.latencyMs + j));
    this.lastDue = due;
    this.queue.push({ item, at: now, due });
    if (this.queue.length === 1) this.arm();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Drops what waits and stops the timer. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.timer !== null) this.env.clearTimer(this.timer);
    this.timer = null;
  }

  private arm(): void {
    const head = this.queue[0];
    if (!head) return;
    this.timer = this.env.setTimer(Math.max(0, head.due - this.env.now()), () => this.fire());
  }

  private fire(): void {
    this.timer = null;
    const now = this.env.now();
    while (!this.closed) {
      const head = this.queue[0];
      if (!head || head.due > now) break;
      this.queue.shift();
      this.hooks.waited?.(now - head.at);
      this.hooks.deliver(head.item);
    }
    if (!this.closed) this.arm();
  }
}

/** s-s: a link between two Site Servers; s-u: between a user and a Site Server. */
export type PeerLinkClass = 'su' | 'ss';

export function peerLinkClass(local: string, remote: string): PeerLinkClass {
  return isServerEnd(local) && isServerEnd(remote) ? 'ss' : 'su';
}

export interface DelayLinksOptions {
  /** The spec of the line from `local` to `remote`, of class `cls`. */
  spec(cls: PeerLinkClass, local: string, remote: string): DelaySpec;
  env?: DelayEnv;
  waited?(cls: PeerLinkClass, ms: number): void;
  dropped?(cls: PeerLinkClass, why: DropReason): void;
}

/** Every link the factory makes sends through a DelayLine of its class (the class is known from its ends). */
export function delayLinks(factory: LinkFactory, o: DelayLinksOptions): LinkFactory {
  const env = o.env ?? realDelayEnv;
  return (args) => {
    const inner = factory(args);
    const cls = peerLinkClass(args.local, args.remote);
    const line = new DelayLine<Uint8Array>(o.spec(cls, args.local, args.remote), env, {
      // Sent when due if the channel is still open; a frame due after the close is lost with it.
      deliver: (bytes) => void inner.send(bytes),
      waited: (ms) => o.waited?.(cls, ms),
      dropped: (why) => o.dropped?.(cls, why),
    });
    inner.onClose(() => line.close());
    const link: PeerLink = {
      get open() {
        return inner.open;
      },
      get buffered() {
        return inner.buffered;
      },
      send(bytes) {
        if (!inner.open) return false;
        line.push(bytes);
        return true;
      },
      onOpen: (cb) => inner.onOpen(cb),
      onMessage: (cb) => inner.onMessage(cb),
      onClose: (cb) => inner.onClose(cb),
      close() {
        line.close();
        inner.close();
      },
      signal: (data) => inner.signal(data),
    };
    return link;
  };
}
