/**
 * The game rules: one pure, deterministic `applyAction` that the Administration Server runs for
 * client-server sites and every Site Server runs for P2P sites. Integer maths only; all randomness
 * comes from the PRNG state stored in the site state. Inputs are never mutated.
 */
import { DIR_DELTA, inReach } from './path.js';
import { randomInt, seedFrom } from './rng.js';
import { cleanSayText } from './text.js';
import type {
  ApplyResult,
  CarriedItem,
  GameEvent,
  Item,
  SiteAction,
  SiteSnapshot,
  SiteState,
  UserState,
} from './types.js';
import { getSite, isSiteId, isWalkable, portalAt, type SiteDef } from './world.js';

/** Applied actions between a pick-up and the item growing back somewhere on the site. */
export const RESPAWN_STEPS = 12;

/** A fresh site with its full stock of items, placed by a generator seeded from the world seed and site id. */
export function createSite(siteId: string, worldSeed = 1): SiteSnapshot {
  const def = getSite(siteId);
  let site: SiteState = {
    site: siteId,
    step: 0,
    rng: seedFrom(`${worldSeed}:${siteId}`),
    nextItemNo: 1,
    items: [],
    respawnAt: [],
  };
  const events: GameEvent[] = [];
  for (let i = 0; i < def.maxItems; i++) site = spawnItem(def, site, events);
  return { site, users: [] };
}

/** A new user's state at the spawn point of a site. */
export function newUser(name: string, siteId: string): UserState {
  const def = getSite(siteId);
  return { name, site: siteId, x: def.spawn.x, y: def.spawn.y, inventory: [] };
}

export function findUser(snapshot: SiteSnapshot, name: string): UserState | undefined {
  return snapshot.users.find((u) => u.name === name);
}

/**
 * Applies one action of `actor` to a site. Every action advances the site's step (even a rejected
 * one), so respawns happen at the same point on every replica that applies the same sequence.
 */
export function applyAction(snapshot: SiteSnapshot, actor: string, action: SiteAction): ApplyResult {
  const def = getSite(snapshot.site.site);
  const events: GameEvent[] = [];
  let users = snapshot.users;
  let site: SiteState = { ...snapshot.site, step: snapshot.site.step + 1 };
  const me = users.find((u) => u.name === actor);
  const reject = (reason: Extract<GameEvent, { kind: 'rejected' }>['reason']): void => {
    events.push({ kind: 'rejected', user: actor, action: action.kind, reason });
  };

  if (action.kind === 'join') {
    if (me) reject('already-here');
    else {
      const placed = placeArrival(def, { ...action.user, name: actor, site: def.id });
      users = insertSorted(users, placed);
      events.push({ kind: 'joined', user: placed });
    }
  } else if (!me) {
    reject('not-here');
  } else {
    switch (action.kind) {
      case 'move': {
        const { dx, dy } = DIR_DELTA[action.dir];
        const x = me.x + dx;
        const y = me.y + dy;
        if (!isWalkable(def, x, y)) reject('wall');
        else {
          users = replaceUser(users, { ...me, x, y });
          events.push({ kind: 'moved', user: actor, x, y });
        }
        break;
      }
      case 'pickup': {
        const item = site.items.find((i) => i.x === me.x && i.y === me.y);
        if (!item) reject('no-item');
        else {
          const carried: CarriedItem = { id: item.id, kind: item.kind };
          users = replaceUser(users, { ...me, inventory: [...me.inventory, carried] });
          site = {
            ...site,
            items: site.items.filter((i) => i.id !== item.id),
            respawnAt: [...site.respawnAt, site.step + RESPAWN_STEPS],
          };
          events.push({ kind: 'picked', user: actor, item });
        }
        break;
      }
      case 'say': {
        const text = cleanSayText(action.text);
        if (text === '') reject('empty-text');
        else events.push({ kind: 'said', user: actor, text });
        break;
      }
      case 'portal': {
        const portal = portalAt(def, me.x, me.y);
        if (!portal) reject('no-portal');
        else {
          users = users.filter((u) => u.name !== actor);
          const moved: UserState = { ...me, site: portal.to, x: portal.toX, y: portal.toY };
          events.push({ kind: 'left', user: moved, via: 'portal' });
        }
        break;
      }
      case 'leave': {
        users = users.filter((u) => u.name !== actor);
        events.push({ kind: 'left', user: me, via: 'logout' });
        break;
      }
    }
  }

  while (site.respawnAt.length > 0 && (site.respawnAt[0] ?? Infinity) <= site.step) {
    site = spawnItem(def, { ...site, respawnAt: site.respawnAt.slice(1) }, events);
  }
  return { snapshot: { site, users }, events };
}

/** Applies a sequence of actions in order; what the determinism tests and replicas use. */
export function applyAll(
  snapshot: SiteSnapshot,
  actions: ReadonlyArray<{ actor: string; action: SiteAction }>,
): ApplyResult {
  let current = snapshot;
  const events: GameEvent[] = [];
  for (const { actor, action } of actions) {
    const r = applyAction(current, actor, action);
    current = r.snapshot;
    events.push(...r.events);
  }
  return { snapshot: current, events };
}

/** An arriving user lands where they were if a walk from the site's entries reaches that tile, else at the spawn point. */
function placeArrival(def: SiteDef, user: UserState): UserState {
  if (inReach(def, user.x, user.y)) return user;
  return { ...user, x: def.spawn.x, y: def.spawn.y };
}

/**
 * Puts one new item on a random free tile in reach (no portal, no item; path.ts inReach). Gives up
 * after a bounded number of draws. A draw out of reach is drawn again, as a wall is, so sites
 * whose every walkable tile is in reach draw what they always drew.
 */
function spawnItem(def: SiteDef, site: SiteState, events: GameEvent[]): SiteState {
  let rng = site.rng;
  for (let attempt = 0; attempt < 64; attempt++) {
    const rx = randomInt(rng, def.width);
    const ry = randomInt(rx.seed, def.height);
    const rk = randomInt(ry.seed, def.itemKinds.length);
    rng = rk.seed;
    const x = rx.value;
    const y = ry.value;
    if (!inReach(def, x, y) || portalAt(def, x, y)) continue;
    if (site.items.some((i) => i.x === x && i.y === y)) continue;
    const item: Item = { id: `${def.id}-${site.nextItemNo}`, kind: def.itemKinds[rk.value] ?? 'coin', x, y };
    events.push({ kind: 'spawned', item });
    return { ...site, rng, nextItemNo: site.nextItemNo + 1, items: [...site.items, item] };
  }
  return { ...site, rng };
}

function insertSorted(users: readonly UserState[], user: UserState): UserState[] {
  return [...users, user].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function replaceUser(users: readonly UserState[], user: UserState): UserState[] {
  return users.map((u) => (u.name === user.name ? user : u));
}

/**
 * A stored site state (from before items kept in reach, or edited by hand) with every item out of
 * reach moved to the nearest free tile in reach (by |dx| + |dy|, then row, then column), keeping
 * its id and kind: the admin loads it so, and no item stays where nobody can take it. Unchanged
 * (the same object) when every item is in reach or the site is unknown; an item with no free tile
 * left stays.
 */
export function withItemsInReach(site: SiteState): SiteState {
  if (!isSiteId(site.site)) return site; // a hand-edited row: not this function's to judge
  const def = getSite(site.site);
  const out = site.items.filter((i) => !inReach(def, i.x, i.y));
  if (out.length === 0) return site;
  const taken = new Set(site.items.filter((i) => inReach(def, i.x, i.y)).map((i) => `${i.x},${i.y}`));
  const items = site.items.map((item) => {
    if (inReach(def, item.x, item.y)) return item;
    let best: { x: number; y: number; d: number } | null = null;
    for (let y = 0; y < def.height; y++)
      for (let x = 0; x < def.width; x++) {
        if (!inReach(def, x, y) || portalAt(def, x, y) || taken.has(`${x},${y}`)) continue;
        const d = Math.abs(x - item.x) + Math.abs(y - item.y);
        if (!best || d < best.d) best = { x, y, d };
      }
    if (!best) return item;
    taken.add(`${best.x},${best.y}`);
    return { ...item, x: best.x, y: best.y };
  });
  return { ...site, items };
}

/**
 * A site state taken back to an older copy, without the items that left it since in someone's
 * inventory (so none exists twice): they grow back like picked ones, and item numbers go on past
 * every number already given out (so no new item takes a carried one's id).
 */
export function withoutCarried(site: SiteState, carried: readonly CarriedItem[]): SiteState {
  const ids = new Set(carried.map((i) => i.id));
  const gone = site.items.filter((i) => ids.has(i.id));
  const prefix = `${site.site}-`;
  let next = site.nextItemNo;
  for (const id of ids) {
    const n = id.startsWith(prefix) ? Number(id.slice(prefix.length)) : NaN;
    if (Number.isInteger(n) && n >= next) next = n + 1;
  }
  return {
    ...site,
    nextItemNo: next,
    items: site.items.filter((i) => !ids.has(i.id)),
    respawnAt: [...site.respawnAt, ...gone.map(() => site.step + RESPAWN_STEPS)],
  };
}
