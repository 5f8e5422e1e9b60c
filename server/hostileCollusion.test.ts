/**
 * Colluding Site Servers in the real stack (N_server 5, one plan shared by the group: their
 * tampered copies agree), and cheat modes on an admin that does not allow them.
 */
import { describe, expect, it } from 'vitest';
import { hostileSite, notHonest, play, rowOf, until } from './hostileKit.js';

describe('N_server 5, colluding Site Servers', () => {
  it('two colluders change nothing: every accepted state is the honest one, and both are flagged', async () => {
    const h = await hostileSite({ nServer: 5, cheats: ['collude', 'collude'] });
    await play(h.players, 6);
    expect(await notHonest(h.players, h.honest)).toEqual([]);
    for (const c of h.cheaters) await until('colluder flagged by the players', async () => ((await rowOf(h.s, c))?.flaggedBy.length ?? 0) >= h.players.length);
    for (const x of h.honest) expect(await rowOf(h.s, x)).toMatchObject({ flaggedBy: [], minority: 0 });
  }, 60_000);

  it('three colluders hold the majority: players accept their forged update, and the honest servers are the minority', async () => {
    const h = await hostileSite({ nServer: 5, cheats: ['collude', 'collude', 'collude'] });
    h.players.forEach((p, k) => p.act({ kind: 'say', text: `p${k}` }));
    const forged = await until('players accept a forged update', async () => {
      const bad = await notHonest(h.players, h.honest);
      return bad.length > 0 ? bad : null;
    });
    expect(forged.length).toBeGreaterThan(0);
    // The admin counts votes too: on the departures' updates and state hashes the honest ones now lose.
    for (const x of h.honest) await until('an honest server in the minority', async () => ((await rowOf(h.s, x))?.minority ?? 0) > 0);
  }, 60_000);
});

describe('without MMO_ALLOW_CHEAT_MODES', () => {
  it('--cheat changes nothing: the bot serves honestly, says it refused, and nobody is flagged', async () => {
    const h = await hostileSite({ nServer: 3, cheats: ['tamper'], allow: false });
    await play(h.players, 6);
    expect(h.cheaterLog.some((l) => l.includes('p2p.cannot_cheat'))).toBe(true);
    expect(h.cheaterLog.some((l) => l.includes('p2p.cheating'))).toBe(false);
    expect(await notHonest(h.players, h.cheaters)).toEqual([]);
    for (const p of h.players) expect(p.conn?.node?.userHost?.core.flaggedServers()).toEqual([]);
  }, 60_000);
});
