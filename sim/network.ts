/**
 * Simulated network. Every message is really encoded with the codec (the protocol's
 * encodePeerMessage in a run) when sent and decoded on delivery, so byte counts are real and a
 * message a receiver sees is exactly what went over the wire.
 *
 * Per directed link: one-way latency + uniform jitter, loss probability, FIFO by default (WebRTC
 * data channels and the paper's TCP links are ordered), and partitions: time windows during which
 * chosen links drop everything.
 */
import type { EventQueue } from './eventQueue.js';
import type { Rng } from './rng.js';

export interface LinkParams {
  /** One-way latency, ms. */
  latency: number;
  /** Extra delay drawn uniformly from [0, jitter), ms. */
  jitter: number;
  /** Probability a message is dropped. */
  loss: number;
}

export interface Codec<M> {
  encode(msg: M): Uint8Array;
  /** Returns the message, or a string saying why the bytes are not one. */
  decode(bytes: Uint8Array): M | { error: string };
  /** Name used to count messages and bytes by kind. */
  kindOf(msg: M): string;
}

/** A partition: during [start, end) every link between a node of `side` and a node not in it drops everything. With `links`, only the listed (undirected) pairs do. */
export interface Partition {
  start: number;
  end: number;
  side?: readonly string[];
  links?: ReadonlyArray<readonly [string, string]>;
}

export interface KindStats {
  messages: number;
  bytes: number;
  dropped: number;
}

export type Delivery<M> = (from: string, msg: M, bytes: Uint8Array) => void;
export type BadDelivery = (from: string, bytes: Uint8Array, reason: string) => void;

interface Endpoint<M> {
  deliver: Delivery<M>;
  bad?: BadDelivery;
}

export interface NetworkOptions<M> {
  queue: EventQueue;
  rng: Rng;
  codec: Codec<M>;
  defaults: LinkParams;
  /** Parameters per directed link; overrides `defaults` (setLink overrides both). */
  linkParams?: (from: string, to: string) => LinkParams;
  /** Keep per-link FIFO order (default true). */
  fifo?: boolean;
  /** Called on every send with what happened to it (for traces). */
  observe?: (ev: NetEvent<M>) => void;
}

export interface NetEvent<M> {
  at: number;
  from: string;
  to: string;
  kind: string;
  bytes: number;
  msg: M;
  /** 'sent' when scheduled for delivery; else why it was dropped. */
  fate: 'sent' | 'lost' | 'partitioned' | 'no-endpoint';
  deliverAt?: number;
}

export class Network<M> {
  readonly stats = new Map<string, KindStats>();
  private readonly endpoints = new Map<string, Endpoint<M>>();
  private readonly links = new Map<string, LinkParams>();
  private readonly lastDelivery = new Map<string, number>();
  private readonly partitions: Partition[] = [];
  private encoded = new WeakMap<object, Uint8Array>();
  private encodedAt = NaN;
  private readonly decoded = new WeakMap<Uint8Array, M | { error: string }>();
  private readonly queue: EventQueue;
  private readonly rng: Rng;
  private readonly codec: Codec<M>;
  private readonly defaults: LinkParams;
  private readonly fifo: boolean;
  private readonly observe: ((ev: NetEvent<M>) => void) | undefined;
  private readonly linkParams: ((from: string, to: string) => LinkParams) | undefined;

  constructor(opts: NetworkOptions<M>) {
    this.queue = opts.queue;
    this.rng = opts.rng;
    this.codec = opts.codec;
    this.defaults = opts.defaults;
    this.fifo = opts.fifo ?? true;
    this.observe = opts.observe;
    this.linkParams = opts.linkParams;
  }

  /** Registers the receiver for `id` (replaces any earlier one). */
  attach(id: string, deliver: Delivery<M>, bad?: BadDelivery): void {
    this.endpoints.set(id, bad ? { deliver, bad } : { deliver });
  }

  detach(id: string): void {
    this.endpoints.delete(id);
  }

  /** Sets the parameters of the directed link from → to (both directions when `both`). */
  setLink(from: string, to: string, params: Partial<LinkParams>, both = true): void {
    this.links.set(key(from, to), { ...this.link(from, to), ...params });
    if (both) this.links.set(key(to, from), { ...this.link(to, from), ...params });
  }

  link(from: string, to: string): LinkParams {
    return this.links.get(key(from, to)) ?? this.linkParams?.(from, to) ?? this.defaults;
  }

  addPartition(p: Partition): void {
    if (!(p.end >= p.start)) throw new Error(`partition ends (${p.end}) before it starts (${p.start})`);
    this.partitions.push(p);
  }

  /** True if the link between a and b is cut by a partition at time t. */
  isCut(a: string, b: string, t: number): boolean {
    for (const p of this.partitions) {
      if (t < p.start || t >= p.end) continue;
      if (p.links) {
        for (const [x, y] of p.links) if ((x === a && y === b) || (x === b && y === a)) return true;
      }
      if (p.side) {
        const inA = p.side.includes(a);
        const inB = p.side.includes(b);
        if (inA !== inB) return true;
      }
    }
    return false;
  }

  /** Whether a and b can exchange messages during the whole of [t0, t1] (partitions only). */
  connectedThroughout(a: string, b: string, t0: number, t1: number): boolean {
    for (const p of this.partitions) {
      if (p.end <= t0 || p.start > t1) continue;
      if (p.links?.some(([x, y]) => (x === a && y === b) || (x === b && y === a))) return false;
      if (p.side && p.side.includes(a) !== p.side.includes(b)) return false;
    }
    return true;
  }

  /**
   * One-way transit delay from → to now, or null if the message would be dropped (loss or
   * partition). For exchanges modelled outside the codec (clock sync); draws from the same RNG.
   */
  transit(from: string, to: string): number | null {
    const now = this.queue.now;
    const params = this.link(from, to);
    if (this.isCut(from, to, now) || this.rng.chance(params.loss)) return null;
    return params.latency + (params.jitter > 0 ? this.rng.range(0, params.jitter) : 0);
  }

  /**
   * Encodes and sends; the bytes are decoded at the receiver on delivery. One message object sent
   * to several peers (a broadcast) is encoded once and decoded once: receivers share the decoded
   * object, which the protocol core treats as read-only. Bytes are still counted per send.
   */
  send(from: string, to: string, msg: M): void {
    // Only sends at the same instant share bytes, so a sender that reuses and mutates one object
    // later cannot get stale bytes.
    if (this.queue.now !== this.encodedAt) {
      this.encoded = new WeakMap();
      this.encodedAt = this.queue.now;
    }
    const key = typeof msg === 'object' && msg !== null ? (msg as object) : undefined;
    let bytes = key ? this.encoded.get(key) : undefined;
    if (!bytes) {
      bytes = this.codec.encode(msg);
      if (key) this.encoded.set(key, bytes);
    }
    this.sendBytes(from, to, bytes, this.codec.kindOf(msg), msg);
  }

  /** Sends raw bytes (how tests inject malformed messages). `msg` is only for observers. */
  sendBytes(from: string, to: string, bytes: Uint8Array, kind: string, msg?: M): void {
    const now = this.queue.now;
    const st = this.kind(kind);
    st.messages++;
    st.bytes += bytes.byteLength;
    const params = this.link(from, to);
    let fate: NetEvent<M>['fate'] = 'sent';
    if (!this.endpoints.has(to)) fate = 'no-endpoint';
    else if (this.isCut(from, to, now)) fate = 'partitioned';
    else if (this.rng.chance(params.loss)) fate = 'lost';
    let deliverAt: number | undefined;
    if (fate === 'sent') {
      let at = now + params.latency + (params.jitter > 0 ? this.rng.range(0, params.jitter) : 0);
      const k = key(from, to);
      if (this.fifo) at = Math.max(at, this.lastDelivery.get(k) ?? -Infinity);
      this.lastDelivery.set(k, at);
      deliverAt = at;
      this.queue.schedule(at, () => this.deliver(from, to, bytes));
    } else {
      st.dropped++;
    }
    if (this.observe && msg !== undefined) {
      const ev: NetEvent<M> = { at: now, from, to, kind, bytes: bytes.byteLength, msg, fate };
      if (deliverAt !== undefined) ev.deliverAt = deliverAt;
      this.observe(ev);
    }
  }

  /** Delivers bytes now, by the same path as a scheduled delivery (tests that look before and after). */
  deliverNow(from: string, to: string, bytes: Uint8Array): void {
    this.deliver(from, to, bytes);
  }

  private deliver(from: string, to: string, bytes: Uint8Array): void {
    const ep = this.endpoints.get(to);
    if (!ep) return;
    let decoded = this.decoded.get(bytes);
    if (decoded === undefined) {
      decoded = this.codec.decode(bytes);
      this.decoded.set(bytes, decoded);
    }
    if (isDecodeError(decoded)) {
      ep.bad?.(from, bytes, decoded.error);
      return;
    }
    ep.deliver(from, decoded, bytes);
  }

  private kind(kind: string): KindStats {
    let st = this.stats.get(kind);
    if (!st) {
      st = { messages: 0, bytes: 0, dropped: 0 };
      this.stats.set(kind, st);
    }
    return st;
  }

  /** Stats by kind, sorted by kind name (stable for reports). */
  statsByKind(): Record<string, KindStats> {
    const out: Record<string, KindStats> = {};
    for (const k of [...this.stats.keys()].sort()) out[k] = { ...(this.stats.get(k) as KindStats) };
    return out;
  }
}

function key(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

function isDecodeError<M>(v: M | { error: string }): v is { error: string } {
  return (
    typeof v === 'object' &&
    v !== null &&
    'error' in v &&
    typeof (v as { error: unknown }).error === 'string' &&
    Object.keys(v as object).length === 1
  );
}
