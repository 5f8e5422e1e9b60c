/**
 * A P2P site coming back to the admin with its users (a hand-back's cut, or a lost site's
 * fallback) is not handed to servers again inside that same step (sim/FINDINGS.md 56). Its users'
 * joins there used to ask the manager to consider the site, which, at the threshold, transferred
 * it at once and wrote the new P2P site's record; the same step's world save (with the old record's
 * deletion) and the old site's disposal then deleted that record, so the new site ran without one
 * until its next change: a stop or crash then did not resume it, though its servers held it (the
 * managed world's seed 8, town at 6529 ms). The manager's next check transfers it instead.
 */
import { describe, expect, it } from 'vitest';
import { newUser } from '../src/game/rules.js';
import { Game, type PlayerLink } from './game.js';
import { createLogger } from './log.js';
import type { P2PManager } from './p2p/manager.js';
import { SiteHost } from './sites.js';
import { SqliteStorage } from './storage/sqlite.js';
import type { StoredP2PSite } from './storage/types.js';

describe('a site back from its servers with its users', () => {
  it('is not handed to servers again in the same step: a site at servers always has its record stored', () => {
    const storage = new SqliteStorage(':memory:');
    const host = new SiteHost((id) => storage.getSite(id));
    const start = host.snapshot('meadow').site;
    const record = (epoch: number): StoredP2PSite => ({
      site: 'meadow',
      coordinator: { membership: { epoch }, sysNo: 0, banned: [], ignores: [], evicted: [], done: [] },
      users: [],
      holders: [],
      baseSeq: 0,
    });
    let mode: 'p2p' | 'cs' = 'p2p';
    const atServers = (): boolean => mode === 'p2p';
    const considered: string[] = [];
    // The manager as far as Game sees it: meadow at its servers, then back; considering it at
    // the threshold (here: anyone on it) hands it out again and writes its new record, as P2PManager.transfer does.
    const fake = {
      hosting: () => ({ mode, blocked: null, closing: false }),
      join: () => 'joined',
      leave: () => undefined,
      site: () => (mode === 'p2p' ? { servers: () => [] } : undefined),
      consider: (site: string) => {
        considered.push(site);
        if (site !== 'meadow' || mode === 'p2p') return;
        mode = 'p2p';
        storage.putP2PSite(record(1), 2000);
      },
      storableStates: () => [],
    };
    const game = new Game(host, storage, createLogger({ sink: () => undefined }), () => 1000);
    game.attachP2P(fake as unknown as P2PManager);
    const links = new Map<string, PlayerLink>();
    for (const name of ['ann', 'ben', 'cat']) {
      links.set(name, { send: () => undefined, kick: () => undefined });
      game.enter(name, false, links.get(name)!);
    }
    // Handed to servers before: its record is stored (epoch 3).
    storage.putP2PSite(record(3), 1500);
    // The cut: the site is the admin's again, its three users join it here.
    mode = 'cs';
    const users = ['ann', 'ben', 'cat'].map((n) => newUser(n, 'meadow'));
    game.hooks().closed('meadow', { seq: 9, snapshot: { site: start, users }, lastActionNo: new Map() });
    // Not at servers again without its record (the old one went with the cut's world save).
    expect({ atServers: atServers(), records: storage.p2pSites().map((r) => r.site) }).toEqual({
      atServers: false,
      records: [],
    });
    expect(considered).not.toContain('meadow');
    // The next check hands it out again, its record stored with it.
    fake.consider('meadow');
    expect(atServers()).toBe(true);
    expect(storage.p2pSites().map((r) => r.site)).toEqual(['meadow']);
    game.shutdown();
  });
});
