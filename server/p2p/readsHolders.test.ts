/**
 * Who holds a P2P site's state for the admin's lost rule (reads.ts `holders`, `majorityGone`):
 * the servers that vouched for the newest state it verified. A later fetch that verifies an older
 * state (a provider stuck behind, which servers that still keep that old hash vouch for) must not
 * make its vouchers the holders: they hold an old state, not the site's (sim/FINDINGS.md 83, seed
 * 269: a stuck replacement and the one server left vouched for update 4 after 6 was verified, and
 * the hand-back, never lost, never ended).
 */
import { describe, expect, it } from 'vitest';
import { ADMIN_ID, type PeerMessage } from '../../src/protocol/messages.js';
import { playMoves, setupSite } from '../../src/protocol/testing.js';
import type { Logger } from '../log.js';
import { LOST_AFTER_MS, SiteReads } from './reads.js';
import type { VerifiedSite } from './types.js';

const quiet: Logger = { info() {}, warn() {}, error() {} };

/** A running site of five servers (N_majority 3) whose admin node feeds a SiteReads. */
function readsOnSite() {
  const s = setupSite({});
  playMoves(s, 8);
  s.net.run(1500);
  const gone = new Set<string>();
  const saves: VerifiedSite[] = [];
  /** Servers whose answers to the admin are dropped, and the seq s0 is made to serve (stuck there). */
  const mute = new Set<string>();
  let s0Serves: number | null = null;
  s.net.rewrite = (from, to, msg) => {
    if (to === ADMIN_ID && mute.has(from) && msg.type === 'updateHash') return null;
    if (from === ADMIN_ID && to === 's0' && msg.type === 'stateRequest' && s0Serves !== null) return { ...msg, seq: s0Serves };
    return msg;
  };
  const deferred: Array<() => void> = [];
  const flush = (): void => {
    while (deferred.length > 0) deferred.shift()?.();
  };
  const send = s.net.sender(ADMIN_ID);
  const coordinator = s.coordinator;
  const reads = new SiteReads(
    {
      config: s.config,
      now: s.net.clock(ADMIN_ID),
      log: quiet,
      send: (to: string, msg: PeerMessage) => send(to, msg),
      servers: () => coordinator.activeServers(),
      connected: (id) => !gone.has(id),
      stalled: () => false,
      orderMarker: () => 0,
      saveEveryMs: 1000,
      lostAfterMs: LOST_AFTER_MS,
      events: {
        saved: (v) => saves.push(v),
        cut() {},
        lost: () => true,
        minority() {},
        changed() {},
      },
      defer: (fn) => deferred.push(fn),
    },
    coordinator.activeServers(),
  );
  s.net.add(ADMIN_ID, {
    receive(from, msg) {
      if (!reads.receive(from, msg).consumed) coordinator.receive(from, msg);
      flush();
    },
    tick() {
      coordinator.tick();
      reads.tick();
      flush();
    },
    nextWakeAt() {
      const w = [coordinator.nextWakeAt(), reads.wakeAt()].filter((x): x is number => x !== null);
      return w.length > 0 ? Math.min(...w) : null;
    },
  });
  return { s, reads, gone, saves, mute, serveOld: (seq: number) => (s0Serves = seq) };
}

describe('SiteReads holders', () => {
  it('keeps the holders of the newest verified state when a later fetch verifies an older one', () => {
    const r = readsOnSite();
    // The first save: s3 and s4 stay silent, so s0, s1, s2 vouch and hold the site's state.
    r.mute.add('s3').add('s4');
    r.s.net.run(1200);
    expect(r.saves).toHaveLength(1);
    const newest = r.saves[0]!.seq;
    expect([...r.reads.holders].sort()).toEqual(['s0', 's1', 's2']);
    // s1 and s2 go; s0 is stuck serving an older update, which s3 and s4 still vouch for.
    const log = r.s.servers.get('s3')!.appliedLog();
    const older = log.at(-2)!.seq;
    expect(older).toBeLessThan(newest);
    r.gone.add('s1').add('s2');
    r.mute.clear();
    r.mute.add('s1').add('s2');
    r.serveOld(older);
    expect(r.reads.majorityGone()).toBe(true);
    r.s.net.run(1200);
    expect(r.saves.map((v) => v.seq)).toEqual([newest, older]);
    // s0, s3, s4 hold update `older`, not the site's newest state: only s0 of its holders is here.
    expect([...r.reads.holders].sort()).toEqual(['s0', 's1', 's2']);
    expect(r.reads.majorityGone()).toBe(true);
  });

  it('takes the vouchers of a newer (or the same) verified state as the holders', () => {
    const r = readsOnSite();
    r.mute.add('s3').add('s4');
    r.s.net.run(1200);
    expect([...r.reads.holders].sort()).toEqual(['s0', 's1', 's2']);
    r.mute.clear();
    r.mute.add('s1').add('s2');
    playMoves(r.s, 2);
    r.s.net.run(1200);
    expect(r.saves).toHaveLength(2);
    expect(r.saves[1]!.seq).toBeGreaterThan(r.saves[0]!.seq);
    expect([...r.reads.holders].sort()).toEqual(['s0', 's3', 's4']);
  });
});
