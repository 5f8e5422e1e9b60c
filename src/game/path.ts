/** Shortest walks over a site's map: what bots and tests use to steer a player by single moves. */
import type { Dir } from './types.js';
import { getSite, isWalkable } from './world.js';

/** What one move in each direction adds to x and y (y grows downwards). */
export const DIR_DELTA: Readonly<Record<Dir, { dx: number; dy: number }>> = {
  up: { dx: 0, dy: -1 },
  down: { dx: 0, dy: 1 },
  left: { dx: -1, dy: 0 },
  right: { dx: 1, dy: 0 },
};

const STEPS = (Object.keys(DIR_DELTA) as Dir[]).map((d) => [d, DIR_DELTA[d].dx, DIR_DELTA[d].dy] as const);

/** Shortest walk between two tiles of a site (breadth-first over walkable tiles); throws if there is none. */
export function pathTo(siteId: string, from: { x: number; y: number }, to: { x: number; y: number }): Dir[] {
  const def = getSite(siteId);
  const key = (x: number, y: number): string => `${x},${y}`;
  const prev = new Map<string, { from: string; dir: Dir } | null>([[key(from.x, from.y), null]]);
  const queue: Array<[number, number]> = [[from.x, from.y]];
  for (let head = 0; head < queue.length; head++) {
    const [x, y] = queue[head]!;
    if (x === to.x && y === to.y) {
      const dirs: Dir[] = [];
      for (let k = key(x, y), p = prev.get(k); p; k = p.from, p = prev.get(k)) dirs.unshift(p.dir);
      return dirs;
    }
    for (const [dir, dx, dy] of STEPS) {
      const nx = x + dx;
      const ny = y + dy;
      if (isWalkable(def, nx, ny) && !prev.has(key(nx, ny))) {
        prev.set(key(nx, ny), { from: key(x, y), dir });
        queue.push([nx, ny]);
      }
    }
  }
  throw new Error(`no path on ${siteId} from ${from.x},${from.y} to ${to.x},${to.y}`);
}

/** The tile one move in `dir` leads to (walls not considered). */
export function stepFrom(at: { x: number; y: number }, dir: Dir): { x: number; y: number } {
  return { x: at.x + DIR_DELTA[dir].dx, y: at.y + DIR_DELTA[dir].dy };
}
