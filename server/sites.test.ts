/** Loading stored sites (SiteHost): a state from before items kept in reach must load, its items takeable. */
import { describe, expect, it } from 'vitest';
import { inReach } from '../src/game/path.js';
import { createSite } from '../src/game/rules.js';
import { getSite } from '../src/game/world.js';
import { SiteHost } from './sites.js';

describe('SiteHost loading stored sites', () => {
  it("moves an item stored on the lake's island ashore, keeping its id, and leaves the rest as stored", () => {
    const fresh = createSite('lake').site;
    const island = { id: 'lake-77', kind: 'fish', x: 9, y: 7 };
    const stored = { ...fresh, items: [...fresh.items, island] };
    const host = new SiteHost((id) => (id === 'lake' ? stored : undefined));
    const loaded = host.snapshot('lake').site;
    expect(loaded.items.map((i) => i.id)).toEqual(stored.items.map((i) => i.id));
    expect(loaded.items.slice(0, -1)).toEqual(fresh.items);
    const moved = loaded.items.at(-1)!;
    expect(inReach(getSite('lake'), moved.x, moved.y)).toBe(true);
    expect({ ...loaded, items: [] }).toEqual({ ...stored, items: [] });
    expect(host.snapshot('meadow')).toEqual(createSite('meadow'));
  });
});
