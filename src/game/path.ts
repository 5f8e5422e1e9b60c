/**
 * Walks over a site's map: the shortest walk between two tiles (what bots and tests steer a
 * player by), and the tiles in reach from the ways into a site (where the rules let items and
 * arrivals be: a walkable tile no walk leads to, like the lake's island, would hold them for good).
 */
import type { Dir } from './types.js';
import { entriesOf, getSite, isWalkable, listSites, type SiteDef } from './world.js';

/** What one move in each direction adds to x and y (y grows downwards). */
export const DIR_DELTA: Readonly<Record<Dir, { dx: number; dy: number }>> = {
  up: { dx: 0, dy: -1 },
  down: { dx: 0, dy: 1 },
  left: { dx: -1, dy: 0 },
  right: { dx: 1, dy: 0 },
};

const STEPS = (Object.keys(DIR_DELTA) as Dir[]).map((d) => [d, DIR_DELTA[d].dx, DIR_DELTA[d].dy] as const);

/** How a tile was first reached: from which tile (index y × width + x), by which move; null at a start. */
type Reached = Map<number, { from: number; dir: Dir } | null>;

/** Breadth-first over walkable tiles from `starts`, up to `goal` if given (then it stops there). */
function explore(def: SiteDef, starts: ReadonlyArray<{ x: number; y: number }>, goal?: number): Reached {
  const w = def.width;
  const reached: Reached = new Map();
  const queue: number[] = [];
  for (const s of starts) {
    const k = s.y * w + s.x;
    if (!reached.has(k)) {
      reached.set(k, null);
      queue.push(k);
    }
  }
  for (let head = 0; head < queue.length; head++) {
    const k = queue[head]!;
    if (k === goal) break;
    const x = k % w;
    const y = (k - x) / w;
    for (const [dir, dx, dy] of STEPS) {
      const nx = x + dx;
      const ny = y + dy;
      const nk = ny * w + nx;
      if (isWalkable(def, nx, ny) && !reached.has(nk)) {
        reached.set(nk, { from: k, dir });
        queue.push(nk);
      }
    }
  }
  return reached;
}

/** Shortest walk between two tiles of a site (breadth-first over walkable tiles); throws if there is none. */
export function pathTo(siteId: string, from: { x: number; y: number }, to: { x: number; y: number }): Dir[] {
  const def = getSite(siteId);
  const goal = to.y * def.width + to.x;
  const onMap = (p: { x: number; y: number }): boolean =>
    p.x >= 0 && p.y >= 0 && p.x < def.width && p.y < def.height;
  const reached: Reached = onMap(from) && onMap(to) ? explore(def, [from], goal) : new Map();
  if (!reached.has(goal)) throw new Error(`no path on ${siteId} from ${from.x},${from.y} to ${to.x},${to.y}`);
  const dirs: Dir[] = [];
  for (let p = reached.get(goal); p; p = reached.get(p.from)) dirs.unshift(p.dir);
  return dirs;
}

/** The tile one move in `dir` leads to (walls not considered). */
export function stepFrom(at: { x: number; y: number }, dir: Dir): { x: number; y: number } {
  return { x: at.x + DIR_DELTA[dir].dx, y: at.y + DIR_DELTA[dir].dy };
}

/** Per site, the tiles a walk from any of its entries reaches: computed once, from the static maps alone, so every replica agrees. */
const IN_REACH: ReadonlyMap<string, ReadonlySet<number>> = new Map(
  listSites().map((def) => [def.id, new Set(explore(def, entriesOf(def)).keys())]),
);

/** Whether a player who came into the site (at its spawn or where a portal lands) can walk to (x, y). */
export function inReach(def: SiteDef, x: number, y: number): boolean {
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= def.width || y >= def.height)
    return false;
  return IN_REACH.get(def.id)?.has(y * def.width + x) ?? false;
}
