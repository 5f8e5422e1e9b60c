/**
 * A site the admin was handing back when it stopped: the hand-back's marker is a system action
 * like a join, so the record stored must number on past it. Before, ordering the marker did not
 * mark the record changed: the restarted admin numbered the next join as the marker, the servers,
 * which had applied that number, dropped it, and the user never had the state (managed world seed
 * 4311: "users: p5 is in no place", sim/FINDINGS.md 34).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newUser } from '../../src/game/rules.js';
import { SYSTEM_ACTOR } from '../../src/protocol/messages.js';
import { handOverState, harness, SERVERS } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('a P2P site that was handing back when the admin stopped', () => {
  it('stored the marker in its record: a join after the restart takes the next number and is applied', async () => {
    const h = harness();
    await h.start();
    h.site.close('empty');
    // The marker is ordered 3 T_timeslot later; the admin stops before its cut's state comes.
    await h.run(320);
    const marker = h.sysNo(SYSTEM_ACTOR);
    expect(h.site.state).toBe('handing-back');
    h.stop();
    expect(h.records.at(-1)?.coordinator.sysNo).toBe(marker);
    await h.run(600);
    // The servers applied the marker while the admin was down.
    expect(h.appliedIn(SYSTEM_ACTOR, marker)).toBeGreaterThan(0);

    const again = h.restart(handOverState(), 60_000);
    for (const id of SERVERS) {
      expect(again.serverBack(id)).toBe(true);
      h.resend(id, again);
    }
    again.join('dave', newUser('dave', 'meadow'));
    await h.run(800);
    const join = h.sent.filter((m) => m.from === 'admin' && m.msg.type === 'sysAction' && m.msg.actor === 'dave').at(-1)?.msg;
    expect(join?.type === 'sysAction' ? join.sysNo : null).toBe(marker + 1);
    for (const s of h.servers.values()) expect(s.snapshot()?.users.map((u) => u.name)).toContain('dave');
  });
});
