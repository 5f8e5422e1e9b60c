/**
 * Game's login path against a P2P site (issue 17, finding 6): a login that waits for its user's
 * departing state and whose connection closes meanwhile never enters (no ghost player). The wait
 * runs on injected time and an injected wake-up, like the rest of the admin's P2P code (no Node
 * timer, so the whole-world simulator can run Game): here the clock and the wake-up are the test's.
 */
import { describe, expect, it } from 'vitest';
import { pathTo } from '../src/game/path.js';
import { newUser } from '../src/game/rules.js';
import { DEFAULT_SITE } from '../src/game/world.js';
import type { Wakeup } from '../src/net/p2p/driver.js';
import { DEPARTURE_WAIT_MS, Game, type PlayerLink } from './game.js';
import { createLogger } from './log.js';
import type { P2PManager } from './p2p/manager.js';
import { SiteHost } from './sites.js';
import { SqliteStorage } from './storage/sqlite.js';

/** A wake-up the test fires by hand: it only remembers when it was asked to call back. */
function manualWakeup(now: () => number): Wakeup & { due: () => number | null; fire: () => void } {
  let pending: { at: number; cb: () => void } | null = null;
  return {
    set: (delayMs, cb) => void (pending = { at: now() + delayMs, cb }),
    clear: () => void (pending = null),
    due: () => pending?.at ?? null,
    fire: () => {
      const p = pending;
      pending = null;
      p?.cb();
    },
  };
}

/** A game whose every site is P2P (a fake manager that only records joins and leaves). */
function p2pGame() {
  let t = 1000;
  const now = (): number => t;
  const wakeup = manualWakeup(now);
  const logs: string[] = [];
  const storage = new SqliteStorage(':memory:');
  const game = new Game(
    new SiteHost((id) => storage.getSite(id)),
    storage,
    createLogger({ sink: (l) => void logs.push(l) }),
    now,
    wakeup,
  );
  const joins: string[] = [];
  const fake = {
    hosting: () => ({ mode: 'p2p', blocked: null, closing: false }),
    join: (_site: string, user: string) => (joins.push(user), 'joined'),
    leave: () => undefined,
    site: () => ({ servers: () => [] }),
    consider: () => undefined,
    storableStates: () => [],
  };
  game.attachP2P(fake as unknown as P2PManager);
  const link = (): PlayerLink & { sent: string[] } => {
    const sent: string[] = [];
    return { sent, send: (json) => void sent.push(json), kick: () => undefined };
  };
  return { game, joins, link, storage, logs, wakeup, advance: (ms: number) => void (t += ms) };
}

describe('a login waiting for a departing state', () => {
  it('whose connection closes before the wait ends does not enter', () => {
    const { game, joins, link, wakeup, advance } = p2pGame();
    const first = link();
    game.enter('ann', false, first);
    game.leave('ann', first, { forget: false, reason: 'closed' });
    const second = link();
    game.enter('ann', false, second);
    expect(game.onlineCount).toBe(0);
    game.leave('ann', second, { forget: false, reason: 'closed 1001' });
    advance(10_000);
    wakeup.fire();
    expect(game.onlineCount).toBe(0);
    expect(joins).toEqual(['ann']);
    expect(second.sent).toEqual([]);
  });

  it('whose connection closes before the state comes back does not enter when it does', () => {
    const { game, joins, link } = p2pGame();
    const first = link();
    game.enter('bea', false, first);
    game.leave('bea', first, { forget: false, reason: 'closed' });
    const second = link();
    game.enter('bea', false, second);
    game.leave('bea', second, { forget: false, reason: 'closed 1001' });
    game.hooks().departed('meadow', newUser('bea', 'meadow'), 'logout', 5);
    expect(game.onlineCount).toBe(0);
    expect(joins).toEqual(['bea']);
  });

  it('that stays enters once the state is back', () => {
    const { game, joins, link } = p2pGame();
    const first = link();
    game.enter('cid', false, first);
    game.leave('cid', first, { forget: false, reason: 'closed' });
    const second = link();
    game.enter('cid', false, second);
    game.hooks().departed('meadow', newUser('cid', 'meadow'), 'logout', 5);
    expect(game.onlineCount).toBe(1);
    expect(joins).toEqual(['cid', 'cid']);
  });
});

describe("Game's login wait on injected time", () => {
  it('expires after DEPARTURE_WAIT_MS of the injected clock, not before, and the login enters', () => {
    const { game, joins, link, logs, wakeup, advance } = p2pGame();
    const first = link();
    game.enter('dee', false, first);
    game.leave('dee', first, { forget: false, reason: 'closed' });
    game.enter('dee', false, link());
    expect(game.onlineCount).toBe(0);
    // The wait asked to be woken when it ends, on the injected clock.
    expect(wakeup.due()).toBe(1000 + DEPARTURE_WAIT_MS);
    advance(DEPARTURE_WAIT_MS - 1);
    wakeup.fire();
    expect(game.onlineCount).toBe(0);
    advance(1);
    wakeup.fire();
    expect(game.onlineCount).toBe(1);
    expect(joins).toEqual(['dee', 'dee']);
    expect(logs.some((l) => l.includes('user.departure_timeout'))).toBe(true);
    // Nothing is left to wake for.
    expect(wakeup.due()).toBe(null);
  });

  it('is cancelled when the state comes back first: no wake-up is left pending', () => {
    const { game, link, wakeup } = p2pGame();
    const first = link();
    game.enter('eve', false, first);
    game.leave('eve', first, { forget: false, reason: 'closed' });
    game.enter('eve', false, link());
    expect(wakeup.due()).not.toBe(null);
    game.hooks().departed('meadow', newUser('eve', 'meadow'), 'logout', 3);
    expect(game.onlineCount).toBe(1);
    expect(wakeup.due()).toBe(null);
  });
});

describe('a crash of the admin (kill -9: no shutdown, no final save)', () => {
  it('finds an item a player picked and logged out with once: in its stored bag, not back on the map', () => {
    // sim/FINDINGS.md 28: the logout stored the user's row alone, newer than its site's row from
    // the last periodic save, which still had the item on the map.
    const storage = new SqliteStorage(':memory:');
    const host = new SiteHost((id) => storage.getSite(id));
    const t = 1000;
    const game = new Game(host, storage, createLogger({ sink: () => undefined }), () => t, manualWakeup(() => t));
    const link: PlayerLink = { send: () => undefined, kick: () => undefined };
    game.enter('fay', false, link);
    game.enter('gus', false, { send: () => undefined, kick: () => undefined });
    game.saveAll(); // the periodic save: the item is on the map
    const item = host.snapshot(DEFAULT_SITE).site.items[0]!;
    let n = 0;
    for (const dir of pathTo(DEFAULT_SITE, host.user(DEFAULT_SITE, 'fay')!, item))
      expect(game.act('fay', link, ++n, { kind: 'move', dir })).toBe(null);
    expect(game.act('fay', link, ++n, { kind: 'pickup' })).toBe(null);
    game.leave('fay', link, { forget: false, reason: 'logout' });
    // The process dies here: a new one reads what was written.
    const after = new SiteHost((id) => storage.getSite(id));
    const onMap = after.snapshot(DEFAULT_SITE).site.items.filter((i) => i.id === item.id).length;
    const inBag = storage.getUser('fay')!.state.inventory.filter((i) => i.id === item.id).length;
    expect({ onMap, inBag }).toEqual({ onMap: 0, inBag: 1 });
  });
});

describe("a P2P site's verified save", () => {
  it('stores the site as its fallback state (the copy less what left since), not the fetched copy', () => {
    // The copy at its seq still has an item that a user who left after it carries (stored with
    // it); a crash, then the site losing its majority, would fall back to a map with it too.
    const storage = new SqliteStorage(':memory:');
    const host = new SiteHost((id) => storage.getSite(id));
    const copy = host.snapshot('meadow');
    const carried = copy.site.items[0]!;
    const fallback = { ...copy.site, items: copy.site.items.slice(1) };
    const fake = {
      hosting: (s: string) => ({ mode: s === 'meadow' ? 'p2p' : 'cs', blocked: null, closing: false }),
      storableStates: () => [['meadow', { seq: 9, snapshot: { site: fallback, users: [] }, lastActionNo: new Map() }]],
    };
    const game = new Game(host, storage, createLogger({ sink: () => undefined }), () => 1000, manualWakeup(() => 1000));
    game.attachP2P(fake as unknown as P2PManager);
    game.hooks().verified('meadow', { seq: 9, snapshot: copy, lastActionNo: new Map() });
    expect(storage.getSite('meadow')!.items.map((i) => i.id)).not.toContain(carried.id);
    expect(storage.getSite('meadow')!.items).toHaveLength(copy.site.items.length - 1);
  });
});

describe('a crash inside the hand-back of a P2P site', () => {
  it('stores a user that left during it and drops the record with the world in one write: its item once, the site the admin\'s', () => {
    // The user's row was written alone first, then the world, then the site's record deleted: an
    // admin dying after the first left the item in the stored bag and on the stored map (found by
    // reading), after the second a record that resumed the site (sim/FINDINGS.md 41). The storage
    // here dies after the first write of the hand-back.
    class DyingStorage extends SqliteStorage {
      armed = false;
      dead = false;
      override saveBatch(...a: Parameters<SqliteStorage['saveBatch']>): void {
        if (this.dead) return;
        super.saveBatch(...a);
        if (this.armed) this.dead = true;
      }
    }
    const storage = new DyingStorage(':memory:');
    const host = new SiteHost((id) => storage.getSite(id));
    const start = host.snapshot('meadow').site;
    let mode = 'p2p';
    const fake = {
      hosting: () => ({ mode, blocked: null, closing: false }),
      join: () => 'joined',
      leave: () => undefined,
      site: () => ({ servers: () => [] }),
      consider: () => undefined,
      // Its fallback: the map as handed over, hal on it as it joined.
      storableStates: () => (mode === 'p2p' ? [['meadow', { seq: 0, snapshot: { site: start, users: [newUser('hal', 'meadow')] }, lastActionNo: new Map() }]] : []),
    };
    const game = new Game(host, storage, createLogger({ sink: () => undefined }), () => 1000, manualWakeup(() => 1000));
    game.attachP2P(fake as unknown as P2PManager);
    const link: PlayerLink = { send: () => undefined, kick: () => undefined };
    game.enter('hal', false, link);
    game.leave('hal', link, { forget: false, reason: 'logout' });
    // The cut: hal picked an item on the servers and is still on the site there.
    const item = start.items[0]!;
    const hal = { ...newUser('hal', 'meadow'), inventory: [{ id: item.id, kind: item.kind }] };
    // Its record, as the P2P site keeps it: the next process would resume the site from it.
    storage.putP2PSite({ site: 'meadow', coordinator: { membership: {}, sysNo: 1, banned: [], ignores: [], evicted: [], done: [] }, users: ['hal'], holders: [], baseSeq: 0 }, 1000);
    mode = 'cs';
    storage.armed = true;
    game.hooks().closed('meadow', { seq: 5, snapshot: { site: { ...start, items: start.items.slice(1) }, users: [hal] }, lastActionNo: new Map() });
    // A new process reads what was written.
    const onMap = new SiteHost((id) => storage.getSite(id)).snapshot('meadow').site.items.filter((i) => i.id === item.id).length;
    const inBag = storage.getUser('hal')!.state.inventory.filter((i) => i.id === item.id).length;
    expect({ onMap, inBag }).toEqual({ onMap: 0, inBag: 1 });
    // The record went with that write: the site is the admin's (sim/FINDINGS.md 41).
    expect(storage.p2pSites()).toEqual([]);
  });
});
