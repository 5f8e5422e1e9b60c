import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SITE,
  getSite,
  inReach,
  isSiteId,
  isWalkable,
  listSites,
  portalAt,
  SITE_IDS,
  tileAt,
  type SiteDef,
} from './index.js';

/** Tiles reachable on foot from (x, y). */
function reachable(def: SiteDef, x: number, y: number): Set<string> {
  const seen = new Set<string>([`${x},${y}`]);
  const queue = [[x, y] as const];
  while (queue.length > 0) {
    const [cx, cy] = queue.shift()!;
    for (const [dx, dy] of [
      [1, 0],
      [-1, 0],
      [0, 1],
      [0, -1],
    ] as const) {
      const nx = cx + dx;
      const ny = cy + dy;
      const key = `${nx},${ny}`;
      if (!seen.has(key) && isWalkable(def, nx, ny)) {
        seen.add(key);
        queue.push([nx, ny]);
      }
    }
  }
  return seen;
}

describe('world sanity', () => {
  const sites = listSites();

  it('has six sites with unique ids and the default among them', () => {
    expect(sites).toHaveLength(6);
    expect(new Set(SITE_IDS).size).toBe(6);
    expect(isSiteId(DEFAULT_SITE)).toBe(true);
    expect(isSiteId('nowhere')).toBe(false);
    expect(() => getSite('nowhere')).toThrow();
  });

  it.each(sites.map((s) => [s.id, s] as const))('%s: map is well formed and closed by walls', (_id, def) => {
    expect(def.rows).toHaveLength(def.height);
    for (const row of def.rows) expect(row).toMatch(new RegExp(`^[#T~.,]{${def.width}}$`));
    for (let x = 0; x < def.width; x++) {
      expect(isWalkable(def, x, 0)).toBe(false);
      expect(isWalkable(def, x, def.height - 1)).toBe(false);
    }
    for (let y = 0; y < def.height; y++) {
      expect(isWalkable(def, 0, y)).toBe(false);
      expect(isWalkable(def, def.width - 1, y)).toBe(false);
    }
    expect(def.maxItems).toBeGreaterThan(0);
    expect(def.itemKinds.length).toBeGreaterThan(0);
  });

  it.each(sites.map((s) => [s.id, s] as const))(
    '%s: spawn and portals are walkable and reachable from spawn',
    (_id, def) => {
      expect(isWalkable(def, def.spawn.x, def.spawn.y)).toBe(true);
      const fromSpawn = reachable(def, def.spawn.x, def.spawn.y);
      for (const p of def.portals) {
        expect(tileAt(def, p.x, p.y), `portal at ${p.x},${p.y}`).toMatch(/[.,]/);
        expect(fromSpawn.has(`${p.x},${p.y}`), `portal at ${p.x},${p.y} reachable`).toBe(true);
        expect(portalAt(def, p.x, p.y)).toBe(p);
      }
    },
  );

  it.each(sites.map((s) => [s.id, s] as const))(
    '%s: every portal target is walkable, on its site, and has a portal back',
    (_id, def) => {
      for (const p of def.portals) {
        expect(isSiteId(p.to), `${def.id} -> ${p.to}`).toBe(true);
        const dest = getSite(p.to);
        expect(isWalkable(dest, p.toX, p.toY), `${def.id} -> ${p.to} lands on ${p.toX},${p.toY}`).toBe(true);
        // Landing on a portal tile would bounce the traveller on its next `portal` key press.
        expect(portalAt(dest, p.toX, p.toY)).toBeUndefined();
        expect(reachable(dest, dest.spawn.x, dest.spawn.y).has(`${p.toX},${p.toY}`)).toBe(true);
        expect(
          dest.portals.some((back) => back.to === def.id),
          `${p.to} has a portal back to ${def.id}`,
        ).toBe(true);
      }
    },
  );

  it.each(sites.map((s) => [s.id, s] as const))(
    '%s: the tiles in reach are exactly those a walk reaches from each way in (spawn, every arrival), portals among them',
    (_id, def) => {
      const entries = [
        def.spawn,
        ...sites.flatMap((s) =>
          s.portals.filter((p) => p.to === def.id).map((p) => ({ x: p.toX, y: p.toY })),
        ),
      ];
      const inReachHere = new Set<string>();
      for (let y = 0; y < def.height; y++)
        for (let x = 0; x < def.width; x++) if (inReach(def, x, y)) inReachHere.add(`${x},${y}`);
      for (const e of entries)
        expect([...reachable(def, e.x, e.y)].sort(), `from ${e.x},${e.y}`).toEqual([...inReachHere].sort());
      for (const p of def.portals)
        expect(inReachHere.has(`${p.x},${p.y}`), `portal at ${p.x},${p.y}`).toBe(true);
    },
  );

  it("the only walkable tiles out of reach in the world are the lake's island", () => {
    const pockets: string[] = [];
    for (const def of sites)
      for (let y = 0; y < def.height; y++)
        for (let x = 0; x < def.width; x++)
          if (isWalkable(def, x, y) && !inReach(def, x, y)) pockets.push(`${def.id} ${x},${y}`);
    expect(pockets).toEqual(['lake 8,6', 'lake 9,6', 'lake 8,7', 'lake 9,7']);
  });

  it('every site is reachable from the default site through portals', () => {
    const seen = new Set([DEFAULT_SITE]);
    const queue = [DEFAULT_SITE];
    while (queue.length > 0) {
      for (const p of getSite(queue.shift()!).portals) {
        if (!seen.has(p.to)) {
          seen.add(p.to);
          queue.push(p.to);
        }
      }
    }
    expect([...seen].sort()).toEqual([...SITE_IDS].sort());
  });
});
