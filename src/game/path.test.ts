import { describe, expect, it } from 'vitest';
import { getSite, isWalkable, pathTo, stepFrom, type Dir } from './index.js';

/** Follows `dirs` from `from`, checking every tile is walkable; returns where it ends. */
function walk(
  siteId: string,
  from: { x: number; y: number },
  dirs: readonly Dir[],
): { x: number; y: number } {
  const def = getSite(siteId);
  let at = from;
  for (const d of dirs) {
    at = stepFrom(at, d);
    expect(isWalkable(def, at.x, at.y), `${siteId} ${at.x},${at.y}`).toBe(true);
  }
  return at;
}

describe('pathTo', () => {
  it('goes straight over open ground', () => {
    const from = getSite('town').spawn;
    const dirs = pathTo('town', from, { x: from.x + 3, y: from.y });
    expect(dirs).toEqual(['right', 'right', 'right']);
    expect(pathTo('town', from, from)).toEqual([]);
  });

  it('finds a shortest way around walls', () => {
    // Cave (2,3) to (9,1): the wall at x=7 forces a detour down to row 4 and back up.
    const from = { x: 2, y: 3 };
    const to = { x: 9, y: 1 };
    const dirs = pathTo('cave', from, to);
    expect(walk('cave', from, dirs)).toEqual(to);
    expect(dirs.length).toBe(11);
  });

  it('throws when the target cannot be reached', () => {
    // The lake's island is ringed by water.
    expect(() => pathTo('lake', getSite('lake').spawn, { x: 8, y: 6 })).toThrow(/no path/);
  });
});
