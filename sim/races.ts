/**
 * Recognizes the two rejections of honest messages the core makes today in runs without cheaters,
 * loss or hostile input (sim/FINDINGS.md items 13 and 14), so the "no rejection at all" property
 * can stay strict about everything else. Each is recognized from what was delivered, not from the
 * rejection's text:
 * - `relayed-first`: ERR_REPLAYED for S's own first copy of S#k, after a relayed copy of S#k (a
 *   timeslotReply) reached the receiver first (a slow direct link, a fast peer that echoed S#k).
 * - `stale-membership`: ERR_UNKNOWN_PEER for a sender that the admin's newest record lists but the
 *   receiver's older record does not (the record is still on its way).
 * Remove a kind once the core stops rejecting it.
 */
import type { CoreEvent, Membership, PeerMessage } from './core.js';

export type KnownRace = 'relayed-first' | 'stale-membership';

export class KnownRaces {
  /** `node|S#k` of Timeslots that reached node in a timeslotReply before S's own copy did. */
  private readonly relayedFirst = new Set<string>();
  /** `node|S#k` of Timeslots S itself delivered to node. */
  private readonly direct = new Set<string>();
  private readonly current = new Map<string, { from: string; msg: PeerMessage; at: number }>();

  constructor(
    private readonly adminRecord: () => Membership | null,
    private readonly recordOf: (node: string) => Membership | null | undefined,
  ) {}

  /** Call right before a message is handed to a running server core. */
  delivering(node: string, from: string, msg: PeerMessage, at: number): void {
    this.current.set(node, { from, msg, at });
    if (msg.type === 'timeslotReply') {
      for (const ts of msg.timeslots) {
        const k = `${node}|${ts.server}#${ts.seq}`;
        if (!this.direct.has(k)) this.relayedFirst.add(k);
      }
    }
  }

  /** Which known race a rejection is, if any (it must concern the message being delivered now). */
  classify(node: string, ev: Extract<CoreEvent, { kind: 'rejected' }>, at: number): KnownRace | undefined {
    const d = this.current.get(node);
    if (!d || d.at !== at || d.from !== ev.from || d.msg.type !== ev.msgType) return undefined;
    const msg = d.msg;
    if (ev.code === 'ERR_REPLAYED' && msg.type === 'timeslot' && msg.server === d.from) {
      const k = `${node}|${msg.server}#${msg.seq}`;
      return !this.direct.has(k) && this.relayedFirst.has(k) ? 'relayed-first' : undefined;
    }
    if (ev.code === 'ERR_UNKNOWN_PEER') {
      const newest = this.adminRecord();
      const mine = this.recordOf(node);
      const listed = (m: Membership | null | undefined): boolean =>
        m?.members.some((x) => x.id === d.from) ?? false;
      if (newest && mine && newest.epoch > mine.epoch && listed(newest) && !listed(mine))
        return 'stale-membership';
    }
    return undefined;
  }

  /** Call right after: a later copy of a direct Timeslot is a replay, not a race. */
  delivered(node: string, from: string, msg: PeerMessage): void {
    if (msg.type === 'timeslot' && msg.server === from) this.direct.add(`${node}|${msg.server}#${msg.seq}`);
  }
}
