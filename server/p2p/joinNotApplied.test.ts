/**
 * A hand-back's cut that has not applied a join the admin ordered comes back with that user as
 * it joined (sim/FINDINGS.md 67, world seed 16341 with crashes: the join reached a majority of
 * servers whose notes could not all count, and the end of the run handed the site back first).
 * The game had put the player on the site; a cut without it left the player in no place.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newUser } from '../../src/game/rules.js';
import { ADMIN_ID } from '../../src/protocol/messages.js';
import type { UserState } from '../../src/game/types.js';
import { Game, type PlayerLink } from '../game.js';
import { createLogger } from '../log.js';
import { SiteHost } from '../sites.js';
import { SqliteStorage } from '../storage/sqlite.js';
import type { P2PManager } from './manager.js';
import { handOverState, harness, SERVERS } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const dave: UserState = { ...newUser('dave', 'meadow'), inventory: [{ id: 'gem-dave', kind: 'gem' }] };

/** A site at its servers whose copies of dave's join are all lost (never applied), or not. */
async function joinedThenHandedBack(lose: boolean, restart = false) {
  const h = harness({ saveEveryMs: 600 });
  await h.start();
  await h.run(1200);
  const rewrite = h.net.rewrite;
  h.net.rewrite = (from, to, msg) =>
    lose && msg.type === 'sysAction' && msg.actor === 'dave' ? null : rewrite(from, to, msg);
  h.site.join('dave', dave);
  await h.run(300);
  let site = h.site;
  if (restart) {
    h.stop();
    await h.run(200);
    site = h.restart(handOverState(), 200);
    for (const id of SERVERS) site.serverBack(id);
    for (const u of ['alice', 'bob', 'carol', 'dave']) site.userBack(u);
    await h.run(300);
  }
  site.close('test');
  await h.run(2000);
  expect(h.closed).toHaveLength(1);
  return h.closed[0]!;
}

describe('a hand-back whose cut has not applied a join', () => {
  it('gives the user back as it joined', async () => {
    const v = await joinedThenHandedBack(true);
    expect(v.snapshot.users.map((u) => u.name)).not.toContain('dave');
    expect(v.joinsNotApplied).toEqual([dave]);
  });

  it('gives back nobody whose join the cut applied', async () => {
    const v = await joinedThenHandedBack(false);
    expect(v.snapshot.users.find((u) => u.name === 'dave')?.inventory).toEqual(dave.inventory);
    expect(v.joinsNotApplied).toEqual([]);
  });

  it('gives back nobody whose join the cut applied, absent from it since (its departure is what counts)', async () => {
    const h = harness({ saveEveryMs: 600 });
    await h.start();
    await h.run(1200);
    h.site.join('dave', dave);
    await h.run(600);
    // Dave's leave is applied, but the admin hears none of the servers' votes on it.
    const rewrite = h.net.rewrite;
    let deaf = true;
    h.net.rewrite = (from, to, msg) =>
      deaf && to === ADMIN_ID && (msg.type === 'update' || msg.type === 'updateHash') ? null : rewrite(from, to, msg);
    h.site.leave('dave');
    await h.run(600);
    deaf = false;
    h.site.close('test');
    await h.run(2000);
    const v = h.closed[0]!;
    expect(v.snapshot.users.map((u) => u.name)).not.toContain('dave');
    expect(h.site.users.has('dave')).toBe(true);
    expect(v.joinsNotApplied).toEqual([]);
  });

  it('knows after a restart the joins its stored record still sends again', async () => {
    const v = await joinedThenHandedBack(true, true);
    expect(v.snapshot.users.map((u) => u.name)).not.toContain('dave');
    expect(v.joinsNotApplied).toEqual([dave]);
  });
});

describe('the game taking such a cut back', () => {
  it('puts the user on the site as it joined, its items with it', () => {
    const storage = new SqliteStorage(':memory:');
    const host = new SiteHost((id) => storage.getSite(id));
    const start = host.snapshot('meadow').site;
    let mode = 'p2p';
    const fake = {
      hosting: () => ({ mode, blocked: null, closing: false }),
      join: () => 'joined',
      leave: () => undefined,
      site: () => ({ servers: () => [] }),
      consider: () => undefined,
      storableStates: () => [],
    };
    const game = new Game(host, storage, createLogger({ sink: () => undefined }), () => 1000);
    game.attachP2P(fake as unknown as P2PManager);
    const link: PlayerLink = { send: () => undefined, kick: () => undefined };
    game.enter('dave', false, link);
    mode = 'cs';
    game.hooks().closed('meadow', { seq: 9, snapshot: { site: start, users: [] }, lastActionNo: new Map(), joinsNotApplied: [dave] });
    expect(host.snapshot('meadow').users).toEqual([dave]);
  });
});
