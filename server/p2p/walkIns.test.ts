/** WalkIns: a walked-in server is never enlisted again by a record of its time, but a later pick is a new server. */
import { describe, expect, it } from 'vitest';
import { WalkIns } from './walkIns.js';

describe('WalkIns', () => {
  it('remembers a walk-in past the hand-off window, for records that admitted it at or before the walk-in', () => {
    const w = new WalkIns();
    w.add('p4~a', 1000, true, 3);
    expect(w.has('p4~a')).toBe(true);
    expect(w.has('p4~a', 0)).toBe(true);
    expect(w.has('p4~a', 3)).toBe(true);
    expect(w.handsOff('p4~a')).toBe(true);
    expect(w.handingOff('p4~a', 's1', ['s1'], 1000 + 60_000)).toBe(false);
    expect(w.has('p4~a')).toBe(true);
  });

  it('forgets it once a later record admits it again (its player left the site and it was picked anew)', () => {
    const w = new WalkIns();
    w.add('p4~a', 1000, false, 3);
    expect(w.has('p4~a', 5)).toBe(false);
    // Forgotten for good: the new stint serves; a record of any epoch no longer stops it.
    expect(w.has('p4~a')).toBe(false);
    expect(w.has('p4~a', 3)).toBe(false);
  });
});
