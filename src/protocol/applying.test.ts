/**
 * The hints an update's stored state carries (applying.ts buildHints): where each chain stood at
 * the update's window, which an adopter of that state anchors at.
 */
import { describe, expect, it } from 'vitest';
import { buildHints } from './applying.js';
import { Chain } from './chain.js';
import { makeSiteConfig } from './config.js';
import { insecureFastScheme, ZERO_HASH } from './crypto.js';
import { createContext } from './serverContext.js';
import { signTimeslot } from './signed.js';
import { anchorAtHints } from './timeslots.js';

/** A server's state with chains s1 (Timeslots 1..n stamped seq × 100) and s2 (none yet). */
function fixture(n: number) {
  const ctx = createContext({
    config: makeSiteConfig({ site: 'meadow', N_server: 3 }),
    id: 's0',
    secretKey: 'ab'.repeat(32),
    adminKey: '00'.repeat(16),
    crypto: insecureFastScheme,
    now: () => 0,
    send: () => {},
  });
  const ch = new Chain('s1', { seq: 0, hash: ZERO_HASH, stamp: 0 }, 256, 256);
  for (let seq = 1; seq <= n; seq++) {
    const body = { site: 'meadow', server: 's1', seq, stamp: seq * 100, prevHash: ch.top.hash, epoch: seq <= 3 ? 1 : 2, entries: [], heads: [], update: null };
    const r = ch.offer(signTimeslot(body, 's1key'.padEnd(64, '0'), insecureFastScheme), 0, true);
    if (r.kind !== 'added') throw new Error(`fixture: s1#${seq} ${r.kind}`);
  }
  ctx.timeslots.chains.set('s1', ch);
  ctx.timeslots.chains.set('s2', new Chain('s2', { seq: 0, hash: ZERO_HASH, stamp: 0 }, 256, 256));
  return { ctx, ch };
}

describe('buildHints', () => {
  it('names, per chain, the last Timeslot stamped at or before the window', () => {
    const { ctx, ch } = fixture(10);
    const at = (b: number) => buildHints(ctx, b).chains.find(([id]) => id === 's1');
    expect(at(450)).toEqual(['s1', 4, ch.get(4)?.hash, 400]);
    expect(at(400)).toEqual(['s1', 4, ch.get(4)?.hash, 400]); // at the window's end counts
    expect(at(399)).toEqual(['s1', 3, ch.get(3)?.hash, 300]);
    expect(at(5000)).toEqual(['s1', 10, ch.top.hash, 1000]); // the top
    expect(at(150)).toEqual(['s1', 1, ch.get(1)?.hash, 100]); // the first
    expect(at(50)).toEqual(['s1', 0, ZERO_HASH, 0]); // before the first: the anchor
    expect(buildHints(ctx, 450).chains.find(([id]) => id === 's2')).toEqual(['s2', 0, ZERO_HASH, 0]);
  });

  it("carries each chain's epoch marks", () => {
    const { ctx } = fixture(5);
    expect(buildHints(ctx, 450).marks).toEqual([
      ['s1', 1, 1, 100],
      ['s1', 2, 4, 400],
    ]);
  });
});

describe('anchorAtHints', () => {
  it('an adopter takes the marks at or below each anchor; those above come with the Timeslots it fetches', () => {
    const { ctx: provider, ch } = fixture(6);
    const hints = buildHints(provider, 250); // s1 anchored at #2; its marks: epoch 1 at #1, 2 at #4
    expect(hints.marks).toEqual([
      ['s1', 1, 1, 100],
      ['s1', 2, 4, 400],
    ]);
    const { ctx: adopter } = fixture(0);
    adopter.timeslots.chains.delete('s1');
    anchorAtHints(adopter, hints);
    const got = adopter.timeslots.chains.get('s1');
    expect(got?.anchor).toEqual({ seq: 2, hash: ch.get(2)?.hash, stamp: 200 });
    expect(got?.marks).toEqual([{ epoch: 1, seq: 1, stamp: 100 }]);
    for (let seq = 3; seq <= 6; seq++) got?.offer(ch.get(seq)!.full!, 0, true);
    expect(got?.marks).toEqual(ch.marks);
  });
});
