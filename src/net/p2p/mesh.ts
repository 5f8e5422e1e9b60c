/**
 * This tab's data channels, one per (local end, remote end): a tab may be a user of one site (end:
 * its user name) and a Site Server of another (end: its server id) at once, so links are keyed by
 * both ends and incoming frames go to the local end's handler. Signaling goes through the admin,
 * which relays it only between assigned peers and stamps the sender: a channel is trusted for the
 * identity the admin named (the DTLS fingerprint in the SDP it relayed binds the channel to it).
 *
 * Who offers: a user end always (it knows its servers), between two servers the smaller id. The
 * other side queues what it has to send until the offer comes. A link that does not open in
 * time is reported to the admin and dropped; the next send tries again after a pause.
 *
 * Batching: what a host sends during one wake of its core (inside `batch`) leaves as one
 * data-channel frame per peer, a bundle of its frames in order (peerCodec.ts `packFrames`), and
 * so do the frames a link queued while it opened. A bundle received is unpacked here and its
 * frames handed on one by one, in order, inside one batch: the answers to a bundle leave as one
 * too. A send outside a batch leaves at once, alone.
 */
import type { SignalData } from '../../protocol/messages.js';
import { isBundle, packFrames, unpackBundle } from '../../protocol/peerCodec.js';
import type { LinkFactory, PeerLink } from './link.js';

export interface MeshOptions {
  factory: LinkFactory;
  /** Sends signaling to the admin for relay. */
  sendSignal(from: string, to: string, data: SignalData): void;
  /** A link to an assigned peer did not open in time. */
  reportFailure(local: string, remote: string): void;
  now: () => number;
  openTimeoutMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

interface Entry {
  local: string;
  remote: string;
  link: PeerLink | null;
  initiator: boolean;
  createdAt: number;
  /** Frames waiting for the channel to open. */
  queue: Uint8Array[];
  /** An offer has been fed to this (answering) link: a second one means the remote started anew. */
  answered: boolean;
  /** The channel has opened once. */
  opened: boolean;
  /** Links started for this entry (one that fails while opening is started again). */
  attempts: number;
  /** Frames sent during the current batch, leaving together when it ends. */
  pending: Uint8Array[];
}

/** Frames kept per link while it opens; older ones are dropped (the protocol repeats what matters). */
const MAX_QUEUE = 512;
/** After a failure, no new attempt to the same peer for this long. */
const RETRY_PAUSE_MS = 2000;
/** A link that fails before it ever opens (ICE racing its signaling) is started this often at most. */
const MAX_ATTEMPTS = 3;
/** Refused bundles are logged at most this often per mesh (a hostile peer could send many). */
const REJECT_LOG_MS = 1000;

/** Server ids carry a `~` (`name~xxxx`, ENDPOINT_RE); user names cannot. */
export const isServerEnd = (end: string): boolean => end.includes('~');

/** Whether `local` offers the link to `remote`: users always, between servers the smaller id. */
export function offers(local: string, remote: string): boolean {
  const localServer = isServerEnd(local);
  const remoteServer = isServerEnd(remote);
  if (!localServer) return true;
  if (!remoteServer) return false;
  return local < remote;
}

export class Mesh {
  private readonly entries = new Map<string, Entry>();
  private readonly handlers = new Map<string, (remote: string, bytes: Uint8Array) => void>();
  private readonly failedAt = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval>;
  bytesIn = 0;
  bytesOut = 0;
  /** Data-channel frames sent and received (a bundle counts once). */
  framesOut = 0;
  framesIn = 0;
  /** Bundles refused as malformed. */
  badBundles = 0;
  private lastBadLog = -Infinity;
  /** Depth of nested `batch` calls; frames wait in `held` entries until the outermost ends. */
  private batching = 0;
  private readonly held = new Set<Entry>();

  constructor(private readonly opts: MeshOptions) {
    this.timer = setInterval(() => this.expire(), 500);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Frames to `local` go to `handler`. */
  listen(local: string, handler: (remote: string, bytes: Uint8Array) => void): void {
    this.handlers.set(local, handler);
  }

  /** Closes every link of `local` and forgets its handler. */
  drop(local: string): void {
    this.handlers.delete(local);
    for (const e of [...this.entries.values()]) if (e.local === local) this.remove(e, 'end closed');
  }

  /** Closes links of `local` to peers not in `keep`. */
  prune(local: string, keep: ReadonlySet<string>): void {
    for (const e of [...this.entries.values()]) if (e.local === local && !keep.has(e.remote)) this.remove(e, 'not needed');
  }

  /** Makes sure a link local -> remote exists (offering it when this side offers). */
  ensure(local: string, remote: string): void {
    const k = key(local, remote);
    if (this.entries.has(k)) return;
    const failed = this.failedAt.get(k);
    if (failed !== undefined && this.opts.now() - failed < RETRY_PAUSE_MS) return;
    const initiator = offers(local, remote);
    const e: Entry = { local, remote, link: null, initiator, createdAt: this.opts.now(), queue: [], answered: false, opened: false, attempts: 0, pending: [] };
    this.entries.set(k, e);
    if (initiator) this.start(e);
  }

  isOpen(local: string, remote: string): boolean {
    return this.entries.get(key(local, remote))?.link?.open ?? false;
  }

  /** Open links of `local`. */
  openCount(local?: string): number {
    let n = 0;
    for (const e of this.entries.values()) if ((local === undefined || e.local === local) && e.link?.open) n++;
    return n;
  }

  /**
   * Runs `fn` (one wake of a core) and then sends what it sent, one frame per peer. Nested
   * calls join the outer one. The frames are sent even when `fn` throws.
   */
  batch<T>(fn: () => T): T {
    this.batching++;
    try {
      return fn();
    } finally {
      if (--this.batching === 0) this.flush();
    }
  }

  send(local: string, remote: string, bytes: Uint8Array): void {
    this.ensure(local, remote);
    const e = this.entries.get(key(local, remote));
    if (!e) return; // pausing after a failure
    if (this.batching > 0) {
      e.pending.push(bytes);
      this.held.add(e);
      return;
    }
    this.put(e, [bytes]);
  }

  private flush(): void {
    for (const e of this.held) {
      const frames = e.pending;
      e.pending = [];
      // Removed while the batch ran: its frames go with it, like its queue.
      if (this.entries.get(key(e.local, e.remote)) === e) this.put(e, frames);
    }
    this.held.clear();
  }

  /** Frames to one peer: sent (bundled, behind what waited) when the link is open, else queued. */
  private put(e: Entry, frames: Uint8Array[]): void {
    if (e.link?.open) {
      // A link can report open before its open callback has drained the queue (node-datachannel
      // calls back later): the queue goes first, or these frames would overtake the older ones.
      this.transmit(e.link, e.queue.length > 0 ? [...e.queue.splice(0), ...frames] : frames);
      return;
    }
    e.queue.push(...frames);
    if (e.queue.length > MAX_QUEUE) e.queue.splice(0, e.queue.length - MAX_QUEUE);
  }

  private transmit(link: PeerLink, frames: Uint8Array[]): void {
    for (const f of frames.length === 1 ? frames : packFrames(frames)) {
      if (!link.send(f)) continue;
      this.bytesOut += f.byteLength;
      this.framesOut++;
    }
  }

  /** Signaling from `from` (remote) for our end `to`, relayed by the admin. */
  signal(from: string, to: string, data: SignalData): void {
    if (!this.handlers.has(to)) {
      this.opts.log?.('mesh.signal_for_unknown_end', { from, to });
      return;
    }
    const k = key(to, from);
    let e = this.entries.get(k);
    if (data.type === 'offer' && e && (e.initiator ? !offers(to, from) : e.answered)) {
      // The remote started a new link (it reloaded, or lost the old one): replace ours.
      this.remove(e, 'superseded');
      e = undefined;
    }
    if (!e) {
      if (data.type !== 'offer') return; // a candidate for a link we already dropped
      e = { local: to, remote: from, link: null, initiator: false, createdAt: this.opts.now(), queue: [], answered: false, opened: false, attempts: 0, pending: [] };
      this.entries.set(k, e);
    }
    if (!e.link) this.start(e);
    if (data.type === 'offer') e.answered = true;
    e.link?.signal(data);
  }

  close(): void {
    clearInterval(this.timer);
    for (const e of [...this.entries.values()]) this.remove(e, 'mesh closed');
  }

  private start(e: Entry): void {
    const link = this.opts.factory({
      initiator: e.initiator,
      local: e.local,
      remote: e.remote,
      onSignal: (data) => this.opts.sendSignal(e.local, e.remote, data),
    });
    e.link = link;
    e.attempts++;
    link.onOpen(() => {
      e.opened = true;
      this.drain(e, link);
    });
    link.onMessage((bytes) => {
      this.bytesIn += bytes.byteLength;
      this.framesIn++;
      if (!isBundle(bytes)) return this.deliver(e, bytes);
      const b = unpackBundle(bytes);
      if (!b.ok) return this.refuse(e, b.message);
      this.batch(() => {
        for (const f of b.frames) this.deliver(e, f);
      });
    });
    link.onClose((why) => {
      this.opts.log?.('mesh.closed', { local: e.local, remote: e.remote, why });
      if (this.entries.get(key(e.local, e.remote)) !== e || e.link !== link) return;
      if (!e.opened && e.attempts < MAX_ATTEMPTS) {
        // Failed while opening: what waits on it must not be lost (the user's first actions on
        // a new P2P site were, and came back by resend behind its later ones). The offering side
        // calls again; the other keeps its queue for the new offer.
        e.link = null;
        e.answered = false;
        this.opts.log?.('mesh.retry', { local: e.local, remote: e.remote, attempt: e.attempts + 1 });
        if (e.initiator) this.start(e);
        return;
      }
      this.entries.delete(key(e.local, e.remote));
    });
  }

  private deliver(e: Entry, bytes: Uint8Array): void {
    // A handler that throws is our bug, not the link's: logged as such, and the link stays
    // (thrown into simple-peer it would close the channel, and look like a dead peer).
    try {
      this.handlers.get(e.local)?.(e.remote, bytes);
    } catch (err) {
      this.opts.log?.('mesh.handler_failed', { code: 'ERR_INTERNAL', local: e.local, remote: e.remote, err: String(err), stack: (err as Error)?.stack });
    }
  }

  /** A malformed bundle: none of its frames is read (they cannot be told apart). */
  private refuse(e: Entry, message: string): void {
    this.badBundles++;
    const now = this.opts.now();
    if (now - this.lastBadLog < REJECT_LOG_MS) return;
    this.lastBadLog = now;
    this.opts.log?.('mesh.bad_bundle', { code: 'ERR_MALFORMED', local: e.local, remote: e.remote, message, refused: this.badBundles });
  }

  private drain(e: Entry, link: PeerLink): void {
    if (e.queue.length > 0) this.transmit(link, e.queue.splice(0));
  }

  private remove(e: Entry, why: string): void {
    this.entries.delete(key(e.local, e.remote));
    e.queue = [];
    e.pending = [];
    e.link?.close();
    this.opts.log?.('mesh.removed', { local: e.local, remote: e.remote, why });
  }

  /** Links that did not open in time are reported and dropped. */
  private expire(): void {
    const now = this.opts.now();
    const limit = this.opts.openTimeoutMs ?? 10_000;
    for (const e of [...this.entries.values()]) {
      if (e.link?.open || now - e.createdAt < limit) continue;
      // A non-offering side that never got an offer had nobody to fail with: just wait more,
      // unless it has something to send (then the other side should have called).
      if (!e.initiator && !e.link && e.queue.length === 0) continue;
      this.failedAt.set(key(e.local, e.remote), now);
      this.opts.reportFailure(e.local, e.remote);
      this.remove(e, 'open timeout');
    }
  }
}

const key = (local: string, remote: string): string => `${local}\u0000${remote}`;
