/**
 * In-memory peer links over the simulated network: the `PeerLink` shape a Site Server, a user or
 * a unit test can be wired to (send, onMessage, close), with the network's latency, loss and
 * partitions and real encoding in between.
 */
import type { Network } from './network.js';

export interface PeerLink<M> {
  /** The peer at the other end. */
  readonly remote: string;
  send(msg: M): void;
  /** Sets the handler for decoded messages from the remote end (one handler; the last one wins). */
  onMessage(handler: (msg: M) => void): void;
  close(): void;
  readonly closed: boolean;
}

/**
 * A node's mailbox on the network: demultiplexes incoming messages to one link per remote peer.
 * Messages from peers without a link go to `onStray` (default: dropped).
 */
export class LinkHub<M> {
  private readonly links = new Map<string, MemoryLink<M>>();
  onStray: ((from: string, msg: M) => void) | undefined;

  constructor(
    private readonly net: Network<M>,
    readonly id: string,
  ) {
    net.attach(id, (from, msg) => {
      const link = this.links.get(from);
      if (link && !link.closed) link.handle(msg);
      else this.onStray?.(from, msg);
    });
  }

  /** The link to `remote` (created on first use). */
  link(remote: string): PeerLink<M> {
    let l = this.links.get(remote);
    if (!l || l.closed) {
      l = new MemoryLink(this.net, this.id, remote, () => this.links.delete(remote));
      this.links.set(remote, l);
    }
    return l;
  }

  close(): void {
    for (const l of [...this.links.values()]) l.close();
    this.net.detach(this.id);
  }
}

class MemoryLink<M> implements PeerLink<M> {
  private handler: ((msg: M) => void) | undefined;
  closed = false;

  constructor(
    private readonly net: Network<M>,
    private readonly local: string,
    readonly remote: string,
    private readonly onClose: () => void,
  ) {}

  send(msg: M): void {
    if (this.closed) throw new Error(`link ${this.local} -> ${this.remote} is closed`);
    this.net.send(this.local, this.remote, msg);
  }

  onMessage(handler: (msg: M) => void): void {
    this.handler = handler;
  }

  handle(msg: M): void {
    this.handler?.(msg);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }
}

/** Two connected links a <-> b over `net` (for unit tests). */
export function linkPair<M>(net: Network<M>, a: string, b: string): [PeerLink<M>, PeerLink<M>] {
  const ha = new LinkHub(net, a);
  const hb = new LinkHub(net, b);
  return [ha.link(b), hb.link(a)];
}
