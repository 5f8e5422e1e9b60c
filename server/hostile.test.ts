/**
 * Hostile Site Servers in the real stack: the real admin (allowing cheat modes), honest and
 * cheating bots over real data channels (src/net/p2p/cheat.ts), N_server 3 with one cheater of
 * each mode. What no cheater in a minority may change: no player accepts a state no honest server
 * applied (every accepted log compared), players see actions in the order of the honest medians,
 * the admin never takes a forged leaver's state, and honest servers are never accused. The
 * evidence each mode leaves, and the response to it, are checked per mode.
 */
import { describe, expect, it } from 'vitest';
import type { CheatMode } from '../src/net/p2p/cheat.js';
import { forgedItems, hostileSite, notHonest, play, rowOf, seenAndMedianOrder, switchSite, until, volunteer } from './hostileKit.js';
import { operator } from './p2pKit.js';
import type { OperatorServer } from './operator.js';
import { SqliteStorage } from './storage/sqlite.js';

type Evidence = 'flagged by players' | 'in the minority at the admin' | 'replaced' | 'none';
const MODES: Array<[Exclude<CheatMode, 'collude'>, Evidence]> = [
  ['tamper', 'flagged by players'],
  ['forge-state', 'in the minority at the admin'],
  ['equivocate', 'replaced'],
  ['withhold', 'replaced'],
  // Within the medians' tolerance (shift) or never backed by the majority (invent): nothing to see.
  ['shift', 'none'],
  ['invent', 'none'],
];

describe('N_server 3, one cheating Site Server', () => {
  it.each(MODES)('%s: players accept only honest states in the honest median order; evidence: %s', async (mode, evidence) => {
    const h = await hostileSite({ nServer: 3, cheats: [mode] });
    expect(h.cheaterLog.some((l) => l.includes('p2p.cheating'))).toBe(true);
    const spare = await volunteer(h.s, 'lake');
    await play(h.players, 6);

    expect(await notHonest(h.players, h.honest)).toEqual([]);
    for (const p of h.players) {
      const { seen, byMedian } = seenAndMedianOrder(p, h.honest[0]!);
      expect(seen.length).toBeGreaterThanOrEqual(12);
      expect(seen).toEqual(byMedian);
    }

    // Who flagged the cheater, by the players' own cores, read before the leaver's core goes. A
    // player may see no forged update at all: the admin's own tally can evict the cheater first.
    const cheaterId = h.cheaters[0]!.conn?.node?.serverId;
    const flaggers = h.players.filter((p) => p.conn?.node?.userHost?.core.flaggedServers().some((f) => f.server === cheaterId)).map((p) => p.name);

    // A switch: the admin takes the leaver's state by majority, never the forged one.
    const leaver = h.players[1]!;
    await switchSite(leaver, 'forest');
    expect(forgedItems(leaver.state.view?.users.find((u) => u.name === leaver.name)?.inventory ?? [])).toEqual([]);

    const cheater = h.cheaters[0]!;
    const row = (): Promise<OperatorServer | undefined> => rowOf(h.s, cheater);
    if (evidence === 'flagged by players') {
      // No player saw a forged update only if the admin's own tally caught it first (above): then
      // the evidence is the admin's, and the cheater is still replaced below.
      if (flaggers.length === 0) await until('the admin finds it in the minority', async () => ((await row())?.minority ?? 0) > 0);
      await until('every flag a player raised reaches the admin', async () => {
        const r = await row();
        return r !== undefined && flaggers.every((n) => r.flaggedBy.includes(n));
      });
    }
    if (evidence === 'in the minority at the admin') {
      await until('the admin finds it in the minority', async () => ((await row())?.minority ?? 0) > 0);
      // What the admin stores of the player still there comes from a save fetch since its last
      // step (its position), and holds no forged item.
      const stayer = h.players[0]!;
      const me = stayer.state.view?.users.find((u) => u.name === stayer.name);
      const stored = await until('the stayer stored where it stands', () => {
        const db = new SqliteStorage(h.s.dbFile);
        try {
          const u = db.getUser(stayer.name)?.state;
          return u && u.x === me?.x && u.y === me?.y ? u : null;
        } finally {
          db.close();
        }
      });
      expect(forgedItems(stored.inventory)).toEqual([]);
    }
    // Every cheater that leaves evidence is replaced by the spare; one caught in the admin's own
    // tally (after the players' reports or in its saves) or by an equivocation proof is not chosen
    // again (a silent one may be an honest tab that crashed: it is not barred).
    if (evidence !== 'none') {
      await until('replaced', async () => (await row())?.state === 'replaced', 20_000);
      await until('the spare serves in its place', () => spare.state.serving === 'meadow');
    }
    if (evidence === 'flagged by players' || evidence === 'in the minority at the admin' || mode === 'equivocate') {
      const view = await operator(h.s);
      expect(view.peers.find((p) => p.user === cheater.name)?.why).toBe(mode === 'equivocate' ? 'equivocated' : 'caught in the minority');
    }
    // No honest server is accused, whatever the cheater does.
    for (const x of h.honest) expect(await rowOf(h.s, x)).toMatchObject({ state: 'active', flaggedBy: [], minority: 0 });
  }, 60_000);
});
