/**
 * When a Site User sends an action not applied again (user.ts `resendAt`, `setServers`;
 * sim/FINDINGS.md 96, seed 29908): a stalled site got every pending action from every user every
 * T_resend, and every pending action again on a change of servers, which kept a loaded server's
 * input queue seconds behind once the site could go on.
 */
import { describe, expect, it } from 'vitest';
import type { SiteUser } from './api.js';
import { makeSiteConfig } from './config.js';
import { ADMIN_ID, type PeerMessage } from './messages.js';
import { updateHash } from './signed.js';
import { HAND_STAY, handMember } from './testing.js';
import { createSiteUser } from './user.js';

const T_RESEND = 1500;
const START_HASH = '00'.repeat(16);

/** A user playing on s0-s2 (N 3, M 2) from update 0, on a clock the test moves; what it sends, with when. */
function user(): { u: SiteUser; sent: Array<{ at: number; to: string; msg: PeerMessage }>; clock: { now: number }; runTo(t: number): void } {
  const clock = { now: 0 };
  const sent: Array<{ at: number; to: string; msg: PeerMessage }> = [];
  const u = createSiteUser({
    config: makeSiteConfig({ site: 'meadow', N_server: 3, N_majority: 2, T_resend: T_RESEND }),
    user: 'alice',
    now: () => clock.now,
    send: (to, msg) => void sent.push({ at: clock.now, to, msg }),
    servers: ['s0', 's1', 's2'],
    seq: 0,
    hash: START_HASH,
    nextActionNo: 1,
  });
  /** Ticks at every wake-up the user asks for, up to `t`. */
  const runTo = (t: number): void => {
    for (let w = u.nextWakeAt(); w !== null && w <= t; w = u.nextWakeAt()) {
      clock.now = Math.max(clock.now, w);
      u.tick();
    }
    clock.now = t;
  };
  return { u, sent, clock, runTo };
}

/** When `actionNo` went to `server`. */
function sendsOf(sent: Array<{ at: number; to: string; msg: PeerMessage }>, server: string, actionNo: number): number[] {
  return sent.filter((s) => s.to === server && s.msg.type === 'action' && s.msg.actionNo === actionNo).map((s) => s.at);
}

/** Update `seq` after `prev`, closing the window ending at `window`, applying nothing of alice's: from s0 in full, s1's hash. */
function deliverUpdate(u: SiteUser, seq: number, prev: string, window: number): string {
  const body = { site: 'meadow', seq, prev, window, applied: [] as Array<[string, number]>, events: [], stateHash: 'ab'.repeat(16) };
  const hash = updateHash(body);
  u.receive('s0', { type: 'update', ...body, hash });
  u.receive('s1', { type: 'updateHash', site: 'meadow', seq, hash });
  return hash;
}

describe('a user sending an action not applied again', () => {
  it('backs off on a site that closes no window: T_resend after the send, then 2, 4 and at most 8 T_resend apart', () => {
    const { u, sent, runTo } = user();
    u.act({ kind: 'say', text: 'hi' });
    runTo(40_000);
    // Every T_resend it went 27 times to each server; a stalled site's users filled a loaded server's queue so.
    expect(sendsOf(sent, 's0', 1)).toEqual([0, 1500, 4500, 10_500, 22_500, 34_500]);
    expect(sendsOf(sent, 's2', 1)).toEqual(sendsOf(sent, 's0', 1));
  });

  it('sends it again every T_resend while accepted updates show the windows after its send closed without it (lost)', () => {
    const { u, sent, clock, runTo } = user();
    u.act({ kind: 'say', text: 'hi' });
    let prev = START_HASH;
    let seq = 0;
    // The site runs: an update every T_timeslot, closing the window that ended 200 ms before.
    for (let t = 100; t <= 10_000; t += 100) {
      runTo(t);
      clock.now = t;
      prev = deliverUpdate(u, ++seq, prev, t - 200);
    }
    runTo(10_000);
    expect(u.lastAccepted().seq).toBe(100);
    expect(sendsOf(sent, 's0', 1)).toEqual([0, 1500, 3000, 4500, 6000, 7500, 9000]);
  });

  it('sends every pending action to a server new to the set only, and starts its schedule again from there', () => {
    const { u, sent, runTo } = user();
    u.act({ kind: 'say', text: 'one' });
    u.act({ kind: 'say', text: 'two' });
    runTo(1000);
    const record = {
      type: 'membership' as const,
      site: 'meadow',
      stay: HAND_STAY,
      epoch: 2,
      members: [handMember('s0', 0), handMember('s1', 1), handMember('s2', null), handMember('s3', 2, [{ admit: 2, cut: null }])],
      change: { kind: 'evict' as const, target: 's2' },
      sig: '00'.repeat(64),
    };
    u.receive(ADMIN_ID, record);
    const atChange = sent.filter((s) => s.at === 1000 && s.msg.type === 'action').map((s) => `${s.to}:${(s.msg as { actionNo: number }).actionNo}`);
    // s0 and s1 have both already: sent to them again too, every change of servers cost a loaded server every pending action.
    expect(atChange.sort()).toEqual(['s3:1', 's3:2']);
    runTo(3000);
    // The next copy to every server T_resend after the change (a newcomer still syncing notes none before it counts).
    expect(sendsOf(sent, 's0', 1)).toEqual([0, 2500]);
    expect(sendsOf(sent, 's3', 1)).toEqual([1000, 2500]);
    expect(sendsOf(sent, 's2', 1)).toEqual([0]);
  });
});
