/**
 * The static world: sites (tile maps), their portals and what items they grow.
 * Tiles: '#' wall, 'T' tree, '~' water (all blocked); '.' floor, ',' grass (walkable).
 */

export type TileChar = '#' | 'T' | '~' | '.' | ',';

export interface PortalDef {
  x: number;
  y: number;
  /** Destination site id. */
  to: string;
  /** Tile where the traveller arrives on the destination site. */
  toX: number;
  toY: number;
}

export interface SiteDef {
  id: string;
  name: string;
  width: number;
  height: number;
  rows: readonly string[];
  portals: readonly PortalDef[];
  spawn: { x: number; y: number };
  itemKinds: readonly string[];
  /** Items the site keeps on its map; picked items respawn up to this count. */
  maxItems: number;
}

export const MAP_WIDTH = 20;
export const MAP_HEIGHT = 14;

const BLOCKED = new Set(['#', 'T', '~']);

const SITES: readonly SiteDef[] = [
  {
    id: 'meadow',
    name: 'Green Meadow',
    width: MAP_WIDTH,
    height: MAP_HEIGHT,
    rows: [
      '####################',
      '#,,,,,,,,,,,,,,,,,,#',
      '#,,T,,,,,,,,,,,T,,,#',
      '#,,,,,,,~~~,,,,,,,,#',
      '#,,,,,,,~~~,,,,,,,,#',
      '#,,,,,,,,,,,,,,T,,,#',
      '#,,,T,,,,,,,,,,,,,,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '#,,,,,,,,,TT,,,,,,,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '#,,T,,,,,,,,,,,,T,,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '####################',
    ],
    portals: [
      { x: 18, y: 6, to: 'town', toX: 2, toY: 6 },
      { x: 9, y: 12, to: 'forest', toX: 9, toY: 2 },
    ],
    spawn: { x: 5, y: 7 },
    itemKinds: ['flower', 'berry'],
    maxItems: 6,
  },
  {
    id: 'town',
    name: 'Old Town',
    width: MAP_WIDTH,
    height: MAP_HEIGHT,
    rows: [
      '####################',
      '#..................#',
      '#..###....###......#',
      '#..###....###......#',
      '#..................#',
      '#..................#',
      '#.......####.......#',
      '#.......#..#.......#',
      '#..................#',
      '#..###.......###...#',
      '#..###.......###...#',
      '#..................#',
      '#..................#',
      '####################',
    ],
    portals: [
      { x: 1, y: 6, to: 'meadow', toX: 17, toY: 6 },
      { x: 18, y: 12, to: 'lake', toX: 2, toY: 2 },
      { x: 18, y: 1, to: 'ruins', toX: 17, toY: 12 },
    ],
    spawn: { x: 5, y: 5 },
    itemKinds: ['coin', 'bread'],
    maxItems: 6,
  },
  {
    id: 'forest',
    name: 'Dark Forest',
    width: MAP_WIDTH,
    height: MAP_HEIGHT,
    rows: [
      '####################',
      '#,,,,,,,,,,,,,T,,,,#',
      '#,T,,T,,,,,,,,,,T,,#',
      '#,,,,,,T,,,,T,,,,,,#',
      '#,T,,,,,,,,,,,,T,,,#',
      '#,,,,T,,,T,,,,,,,,T#',
      '#,,T,,,,,,,,,T,,,,,#',
      '#,,,,,,T,,,,,,,T,,,#',
      '#,T,,,,,,,,T,,,,,,,#',
      '#,,,,,T,,,,,,,T,,,,#',
      '#,,T,,,,,,T,,,,,,T,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '####################',
    ],
    portals: [
      { x: 9, y: 1, to: 'meadow', toX: 9, toY: 11 },
      { x: 1, y: 12, to: 'cave', toX: 2, toY: 2 },
    ],
    spawn: { x: 9, y: 3 },
    itemKinds: ['mushroom', 'berry'],
    maxItems: 7,
  },
  {
    id: 'lake',
    name: 'Mirror Lake',
    width: MAP_WIDTH,
    height: MAP_HEIGHT,
    rows: [
      '####################',
      '#,,,,,,,,,,,,,,,,,,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '#,,,,~~~~~~~~,,,,,,#',
      '#,,,~~~~~~~~~~,,,,,#',
      '#,,,~~~~~~~~~~~,,,,#',
      '#,,,~~~~..~~~~~,,,,#',
      '#,,,~~~~..~~~~~,,,,#',
      '#,,,~~~~~~~~~~~,,,,#',
      '#,,,,~~~~~~~~~,,,,,#',
      '#,,,,,,~~~~,,,,,,,,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '#,,,,,,,,,,,,,,,,,,#',
      '####################',
    ],
    portals: [
      { x: 1, y: 1, to: 'town', toX: 17, toY: 12 },
      { x: 18, y: 12, to: 'ruins', toX: 2, toY: 12 },
    ],
    spawn: { x: 3, y: 2 },
    itemKinds: ['fish', 'shell'],
    maxItems: 5,
  },
  {
    id: 'cave',
    name: 'Crystal Cave',
    width: MAP_WIDTH,
    height: MAP_HEIGHT,
    rows: [
      '####################',
      '#......#...........#',
      '#......#...#####...#',
      '#......#...#.......#',
      '#..........#...#...#',
      '####...#####...#...#',
      '#......#.......#...#',
      '#......#...#####...#',
      '#..........#.......#',
      '#..#####...#...#####',
      '#......#...........#',
      '#......#...#.......#',
      '#..........#.......#',
      '####################',
    ],
    portals: [
      { x: 1, y: 1, to: 'forest', toX: 2, toY: 11 },
      { x: 18, y: 12, to: 'ruins', toX: 2, toY: 2 },
    ],
    spawn: { x: 2, y: 3 },
    itemKinds: ['crystal', 'ore'],
    maxItems: 6,
  },
  {
    id: 'ruins',
    name: 'Sunken Ruins',
    width: MAP_WIDTH,
    height: MAP_HEIGHT,
    rows: [
      '####################',
      '#..................#',
      '#..#.#.#....#.#.#..#',
      '#..................#',
      '#..#..........#....#',
      '#.....##..##.......#',
      '#..#..#....#..#....#',
      '#.....#....#.......#',
      '#..#..##..##..#....#',
      '#..................#',
      '#..#.#.#....#.#.#..#',
      '#..................#',
      '#..................#',
      '####################',
    ],
    portals: [
      { x: 1, y: 1, to: 'cave', toX: 17, toY: 11 },
      { x: 1, y: 12, to: 'lake', toX: 17, toY: 11 },
      { x: 18, y: 12, to: 'town', toX: 17, toY: 2 },
    ],
    spawn: { x: 9, y: 3 },
    itemKinds: ['relic', 'coin'],
    maxItems: 6,
  },
];

const BY_ID = new Map(SITES.map((s) => [s.id, s]));

export const SITE_IDS: readonly string[] = SITES.map((s) => s.id);
export const DEFAULT_SITE = 'meadow';

export function listSites(): readonly SiteDef[] {
  return SITES;
}

export function isSiteId(id: string): boolean {
  return BY_ID.has(id);
}

export function getSite(id: string): SiteDef {
  const def = BY_ID.get(id);
  if (!def) throw new Error(`unknown site ${id}`);
  return def;
}

export function tileAt(def: SiteDef, x: number, y: number): TileChar {
  if (x < 0 || y < 0 || x >= def.width || y >= def.height) return '#';
  return (def.rows[y]?.[x] ?? '#') as TileChar;
}

export function isWalkable(def: SiteDef, x: number, y: number): boolean {
  return !BLOCKED.has(tileAt(def, x, y));
}

/** The tiles a player comes into a site on: its spawn (a new player, or one whose tile is out of reach) and where other sites' portals land. */
export function entriesOf(def: SiteDef): Array<{ x: number; y: number }> {
  const arrivals = SITES.flatMap((s) =>
    s.portals.filter((p) => p.to === def.id).map((p) => ({ x: p.toX, y: p.toY })),
  );
  return [def.spawn, ...arrivals];
}

export function portalAt(def: SiteDef, x: number, y: number): PortalDef | undefined {
  return def.portals.find((p) => p.x === x && p.y === y);
}
