/**
 * What a run records while it runs, for the trace: the cores' events, each node's applied and
 * accepted updates, the actions bots sent and which servers they reached, the arrival times
 * servers reported, and (on request) every message on the wire. Only watches: it feeds nothing
 * back into the run except `unaccepted`, which the run loop reads to stop early.
 */
import { ADMIN_ID, type AcceptedUpdate, type CoreEvent, type PeerMessage } from '../src/protocol/index.js';
import type { PlayerAction } from '../src/game/types.js';
import type { EventQueue } from './eventQueue.js';
import type { NetEvent } from './network.js';
import type { ServerNode } from './nodes.js';
import {
  type Trace,
  type TraceEvent,
  type TraceRejection,
  type TraceSent,
  type TraceUpdate,
} from './trace.js';

export interface WireRecord {
  at: number;
  from: string;
  to: string;
  msg: PeerMessage;
}

export class TraceRecorder {
  readonly events: TraceEvent[] = [];
  readonly rejections: TraceRejection[] = [];
  /** Updates each server applied (computed or adopted), by node id. */
  readonly updates = new Map<string, TraceUpdate[]>();
  /** Updates each user accepted, by user id. */
  readonly accepted = new Map<string, TraceUpdate[]>();
  /** Actions each user sent, by user id. */
  readonly sent = new Map<string, TraceSent[]>();
  /** For each action (`user#no`), the servers it reached and when, first delivery only. */
  readonly delivered = new Map<string, Map<string, number>>();
  readonly arrivals: Trace['arrivals'] = [];
  /** Sent actions their sender has not accepted yet (for stopping early once all are in). */
  readonly unaccepted = new Set<string>();
  /** Messages sent, when recording the wire. */
  readonly wire: WireRecord[] = [];
  private readonly arrivalsSeen = new Set<string>();
  private readonly serverNodes = new Map<string, ServerNode>();

  constructor(
    private readonly queue: EventQueue,
    private readonly recordWire: boolean,
  ) {}

  /** The servers whose logs a 'resynced' event reads (they exist only after the recorder). */
  addServers(nodes: readonly ServerNode[]): void {
    for (const n of nodes) if (!this.serverNodes.has(n.id)) this.serverNodes.set(n.id, n);
  }

  readonly observe = (node: string, ev: CoreEvent): void => {
    const at = this.queue.now;
    const { events } = this;
    switch (ev.kind) {
      case 'applied':
        this.pushUpdate(this.updates, node, {
          seq: ev.seq,
          hash: ev.hash,
          at,
          applied: ev.applied.map((a) => ({ user: a.user, actionNo: a.actionNo, median: a.median })),
        });
        return;
      case 'resynced': {
        // The adopted update's actions, from the log entry the core has just added for it.
        const entry = this.serverNodes.get(node)?.core?.appliedLog().at(-1);
        const applied =
          entry?.seq === ev.seq ? entry.applied.map((a) => ({ user: a.user, actionNo: a.actionNo })) : [];
        this.pushUpdate(this.updates, node, { seq: ev.seq, hash: ev.hash, at, applied, adopted: true });
        events.push({ at, kind: 'resynced', node, detail: `seq ${ev.seq}` });
        return;
      }
      case 'accepted':
        return; // recorded through onAccept
      case 'rejected':
        this.rejections.push({
          at,
          node,
          from: ev.from,
          code: ev.code,
          reason: `${ev.code} ${ev.msgType}: ${ev.reason}`,
        });
        return;
      case 'ignored':
        events.push({
          at,
          kind: 'ignored',
          node: ev.server,
          by: node,
          detail: `cut ${ev.cutSeq} epoch ${ev.epoch}`,
          cutSeq: ev.cutSeq,
          epoch: ev.epoch,
        });
        return;
      case 'admitted':
        events.push({ at, kind: 'admitted', node: ev.server, by: node, detail: `epoch ${ev.epoch}` });
        return;
      case 'equivocation':
        events.push({ at, kind: 'equivocation', node: ev.server, by: node, detail: `seq ${ev.seq}` });
        return;
      case 'membership':
        if (node === ADMIN_ID) {
          const kind = ev.change === 'evict' ? 'evicted' : `membership-${ev.change}`;
          events.push({
            at,
            kind,
            by: node,
            detail: `epoch ${ev.epoch}`,
            ...(ev.target !== null ? { node: ev.target } : {}),
          });
        }
        return;
      case 'membershipRequest':
        events.push({ at, kind: `request-${ev.request}`, node: ev.target, by: node });
        return;
      case 'flagged':
        events.push({ at, kind: 'flagged', node: ev.server, by: node, detail: ev.reason });
        return;
      case 'resync':
        events.push({ at, kind: 'resync', node, detail: ev.reason });
        return;
    }
  };

  /** Every message the network sends: the wire (if recorded) and servers' own reported arrivals. */
  readonly onWire = (ev: NetEvent<PeerMessage>): void => {
    const m = ev.msg;
    if (this.recordWire) this.wire.push({ at: ev.at, from: ev.from, to: ev.to, msg: m });
    if (m.type !== 'timeslot' || m.server !== ev.from) return;
    const key = `${m.server}#${m.seq}`;
    if (this.arrivalsSeen.has(key)) return;
    this.arrivalsSeen.add(key);
    for (const [user, actionNo, arrival] of m.entries)
      this.arrivals.push({ server: m.server, user, actionNo, reported: arrival, tsSeq: m.seq });
  };

  readonly onActionDelivered = (server: string, msg: PeerMessage & { type: 'action' }): void => {
    const id = `${msg.user}#${msg.actionNo}`;
    let m = this.delivered.get(id);
    if (!m) this.delivered.set(id, (m = new Map()));
    if (!m.has(server)) m.set(server, this.queue.now);
  };

  readonly onUndecodable = (node: string, from: string, reason: string): void => {
    this.rejections.push({
      at: this.queue.now,
      node,
      from,
      code: /^ERR_[A-Z_]+/.exec(reason)?.[0] ?? 'ERR_MALFORMED',
      reason: `${reason} (undecodable)`,
    });
  };

  readonly onSent = (user: string, actionNo: number, action: PlayerAction): void => {
    this.unaccepted.add(`${user}#${actionNo}`);
    const s: TraceSent = {
      user,
      actionNo,
      at: this.queue.now,
      kind: action.kind,
      deliveredTo: [],
      mustApply: false,
    };
    const list = this.sent.get(user) ?? [];
    list.push(s);
    this.sent.set(user, list);
  };

  readonly onAccept = (user: string, u: AcceptedUpdate): void => {
    this.pushUpdate(this.accepted, user, {
      seq: u.seq,
      hash: u.hash,
      at: this.queue.now,
      applied: u.applied.map((a) => ({ user: a.user, actionNo: a.actionNo })),
    });
    for (const a of u.applied) if (a.user === user) this.unaccepted.delete(`${a.user}#${a.actionNo}`);
  };

  private pushUpdate(into: Map<string, TraceUpdate[]>, node: string, update: TraceUpdate): void {
    const list = into.get(node) ?? [];
    list.push(update);
    into.set(node, list);
  }
}
