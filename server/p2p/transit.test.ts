/**
 * Transit.enRoute: which players are about to enter a site, so that the admin never picks them to
 * serve it (sim/FINDINGS.md 32, 33). Each way of being on the way, and when it ends.
 */
import { describe, expect, it } from 'vitest';
import { newUser } from '../../src/game/rules.js';
import type { GameEvent } from '../../src/game/types.js';
import { Transit } from './transit.js';

const portal = (name: string, to: string): GameEvent => ({ kind: 'left', user: newUser(name, to), via: 'portal' });
const logout = (name: string, on: string): GameEvent => ({ kind: 'left', user: newUser(name, on), via: 'logout' });

describe('Transit.enRoute', () => {
  it("an update's portals count until the input's end, a logout never", () => {
    const t = new Transit();
    const atEnd: Array<() => void> = [];
    t.expect([portal('a', 'town'), logout('b', 'meadow'), { kind: 'moved', user: 'c', x: 1, y: 1 }], (fn) => void atEnd.push(fn));
    expect(t.enRoute('a', 'town')).toBe(true);
    expect(t.enRoute('a', 'forest')).toBe(false);
    expect(t.enRoute('b', 'meadow')).toBe(false);
    expect(atEnd).toHaveLength(1);
    atEnd[0]!();
    expect(t.enRoute('a', 'town')).toBe(false);
    // Nothing to forget: nothing deferred.
    t.expect([logout('b', 'meadow')], () => expect.unreachable());
  });

  it("a portal held for a hand-back's cut counts for where it lands, until taken", () => {
    const t = new Transit();
    t.hold('meadow', { user: newUser('a', 'town'), via: 'portal', seq: 4 });
    t.hold('meadow', { user: newUser('b', 'meadow'), via: 'logout', seq: 4 });
    expect(t.enRoute('a', 'town')).toBe(true);
    expect(t.enRoute('a', 'meadow')).toBe(false);
    expect(t.enRoute('b', 'meadow')).toBe(false);
    t.takeHeld('meadow');
    expect(t.enRoute('a', 'town')).toBe(false);
  });

  it('an arrival counts for its site; a login waiting for its state for every site', () => {
    const t = new Transit();
    t.arrive('town', 'a', newUser('a', 'town'));
    expect(t.enRoute('a', 'town')).toBe(true);
    expect(t.enRoute('a', 'forest')).toBe(false);
    t.takeArrivals('town');
    expect(t.enRoute('a', 'town')).toBe(false);
    t.departing.set('p4', { guest: false, site: 'meadow', lastActionNo: 0, forget: false, waiting: [] });
    // It lands where that state says: the site it left, or a portal's far side.
    expect(t.enRoute('p4', 'meadow')).toBe(true);
    expect(t.enRoute('p4', 'town')).toBe(true);
    t.departing.delete('p4');
    expect(t.enRoute('p4', 'meadow')).toBe(false);
  });
});
