/**
 * Game's login path against a P2P site (issue 17, finding 6): a login that waits for its user's
 * departing state and whose connection closes meanwhile never enters (no ghost player).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newUser } from '../src/game/rules.js';
import { Game, type PlayerLink } from './game.js';
import { createLogger } from './log.js';
import type { P2PManager } from './p2p/manager.js';
import { SiteHost } from './sites.js';
import { SqliteStorage } from './storage/sqlite.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** A game whose every site is P2P (a fake manager that only records joins and leaves). */
function p2pGame() {
  const storage = new SqliteStorage(':memory:');
  const game = new Game(new SiteHost((id) => storage.getSite(id)), storage, createLogger({ sink: () => undefined }), () => 0);
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
  return { game, joins, link, storage };
}

describe('a login waiting for a departing state', () => {
  it('whose connection closes before the wait ends does not enter', async () => {
    const { game, joins, link } = p2pGame();
    const first = link();
    game.enter('ann', false, first);
    game.leave('ann', first, { forget: false, reason: 'closed' });
    const second = link();
    game.enter('ann', false, second);
    expect(game.onlineCount).toBe(0);
    game.leave('ann', second, { forget: false, reason: 'closed 1001' });
    await vi.advanceTimersByTimeAsync(10_000);
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
