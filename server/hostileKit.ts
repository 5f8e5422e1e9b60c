/**
 * For the hostile-peer tests (server/hostile*.test.ts): a P2P site served by honest bots and
 * cheating bots (src/net/p2p/cheat.ts) on a real admin that allows cheat modes, two players that
 * act at the same moments, and what the tests compare: every accepted log against the honest
 * servers', and the order players saw against the honest medians.
 */
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { Bot, nodeP2P } from '../src/bots/bot.js';
import type { SocketFactory, SocketLike } from '../src/net/adminSocket.js';
import type { CheatMode } from '../src/net/p2p/cheat.js';
import type { P2PEnvironment } from '../src/net/connection.js';
import { delayLinks, NO_DELAY } from '../src/net/p2p/delayLink.js';
import type { AppliedUpdate } from '../src/protocol/api.js';
import { pathTo } from '../src/game/path.js';
import { getSite } from '../src/game/world.js';
import { bot, FAST, operator, until } from './p2pKit.js';
import { startServer, type TestServer } from './testkit.js';
import type { OperatorServer } from './operator.js';

export interface HostileSite {
  s: TestServer;
  honest: Bot[];
  cheaters: Bot[];
  players: Bot[];
  /** What the cheating bots logged (`p2p.cheating`, `p2p.cannot_cheat`, ...). */
  cheaterLog: string[];
}

/** Where the players play: a P2P site their servers are not on. */
export const SITE = 'meadow';

/**
 * Honest servers' frames to users leave this much later: the cheater is the fastest server, the
 * worst case for the players (a user that took the first copy it got would take the forged one).
 */
export const HONEST_LAG_MS = 40;

function laggingP2P(): P2PEnvironment {
  const env = nodeP2P();
  return { ...env, links: (ice) => delayLinks(env.links(ice), { spec: (cls) => (cls === 'su' ? { ...NO_DELAY, latencyMs: HONEST_LAG_MS } : NO_DELAY) }) };
}

/** ... and so do their frames to the admin (votes on departures, state hashes). */
const laggingSocket: SocketFactory = (url) => {
  const ws = new WebSocket(url) as unknown as SocketLike;
  const send = ws.send.bind(ws);
  ws.send = (data) => void setTimeout(() => ws.readyState === 1 && send(data), HONEST_LAG_MS);
  return ws;
};

const started: Bot[] = [];
afterEach(() => {
  for (const b of started.splice(0)) b.close();
});

/** A volunteer, optionally cheating (its log lines about cheating go to `log`); resolves once its key is registered. */
export async function volunteer(s: TestServer, site: string, cheat?: CheatMode, log?: string[]): Promise<Bot> {
  const b = new Bot({
    url: s.url,
    site,
    rate: 0,
    serve: true,
    ...(cheat ? { p2p: nodeP2P(), cheat } : { p2p: laggingP2P(), socketFactory: laggingSocket }),
    ...(log ? { log: (...a: unknown[]) => void (String(a[0]).includes('cheat') && log.push(JSON.stringify(a))) } : {}),
  });
  started.push(b);
  await b.start();
  await until('key registered', () => b.conn?.node?.serverId);
  return b;
}

/**
 * `nServer` servers of which `cheats` lie, all chosen (no one else volunteers before the hand-over),
 * and two players; resolves once the players play the site P2P and every server serves it.
 */
export async function hostileSite(o: { nServer: number; cheats: CheatMode[]; allow?: boolean; p2p?: Record<string, number> }): Promise<HostileSite> {
  // The admin picks the last eligible peer first: the cheaters, who register last, get the first
  // slots, and slot 0 is whom the admin asks first for the site's state when it saves it.
  const s = await startServer({
    p2p: { ...FAST, nServer: o.nServer, p2pSaveMs: 1000, ...o.p2p },
    saveIntervalMs: 300,
    allowCheatModes: o.allow ?? true,
    random: () => 0.999,
  });
  const cheaterLog: string[] = [];
  const honest = await Promise.all(Array.from({ length: o.nServer - o.cheats.length }, () => volunteer(s, 'town')));
  const cheaters = await Promise.all(o.cheats.map((m) => volunteer(s, 'town', m, cheaterLog)));
  const players = [await bot(s, SITE, { serve: false }), await bot(s, SITE, { serve: false })];
  await until('the site P2P at both players', () => players.every((p) => p.state.mode === 'p2p' && p.state.view !== null), 20_000);
  await until('every server serving', () => [...honest, ...cheaters].every((x) => x.state.serving === SITE), 20_000);
  return { s, honest, cheaters, players, cheaterLog };
}

/** Both players act at once, `rounds` times: moves and lines whose arrival order the medians decide. */
export async function play(players: Bot[], rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    players.forEach((p, k) => {
      p.act(i % 3 === 2 ? { kind: 'say', text: `p${k}-${i}` } : { kind: 'move', dir: (i + k) % 2 ? 'left' : 'right' });
    });
    await until('in flight drained', () => players.every((p) => Object.keys(p.state.inflight).length === 0), 20_000);
  }
}

export const accepted = (p: Bot): Array<{ seq: number; hash: string; applied: Array<{ user: string; actionNo: number }> }> =>
  [...(p.conn?.node?.userHost?.core.acceptedLog() ?? [])];

export const applied = (x: Bot): readonly AppliedUpdate[] => x.conn?.node?.server?.core.appliedLog() ?? [];

/**
 * Accepted updates that no honest server applied with that hash, as `seq:hash` (empty: every
 * accepted state is the honest one). Waits until an honest server has each accepted seq.
 */
export async function notHonest(players: Bot[], honest: Bot[]): Promise<string[]> {
  const top = Math.max(0, ...players.flatMap((p) => accepted(p).map((u) => u.seq)));
  await until('an honest server has every accepted seq', () => honest.some((h) => applied(h).some((u) => u.seq >= top)));
  const good = new Set(honest.flatMap((h) => applied(h).map((u) => `${u.seq}:${u.hash}`)));
  return players.flatMap((p) => accepted(p).map((u) => `${u.seq}:${u.hash}`)).filter((k) => !good.has(k));
}

/**
 * The actions as players saw them applied (every accepted update, in order), and the same actions
 * in the order of the medians an honest server computed (ties by user, then number).
 */
export function seenAndMedianOrder(player: Bot, honestServer: Bot): { seen: string[]; byMedian: string[] } {
  const medians = new Map<string, number>();
  for (const u of applied(honestServer)) for (const a of u.applied) if (!u.adopted) medians.set(`${a.user}#${a.actionNo}`, a.median);
  const seen = accepted(player)
    .flatMap((u) => u.applied.map((a) => `${a.user}#${a.actionNo}`))
    .filter((k) => medians.has(k));
  const [user, no] = [(k: string): string => k.split('#')[0] ?? '', (k: string): number => Number(k.split('#')[1])];
  const byMedian = [...seen].sort((x, y) => (medians.get(x) ?? 0) - (medians.get(y) ?? 0) || (user(x) < user(y) ? -1 : user(x) > user(y) ? 1 : 0) || no(x) - no(y));
  return { seen, byMedian };
}

/** The operator page's row of each server of the site. */
export async function serversOf(s: TestServer): Promise<OperatorServer[]> {
  return (await operator(s)).sites.find((x) => x.id === SITE)?.servers ?? [];
}

/** The operator page's row of bot `b` as a server of the site (undefined: never one). */
export async function rowOf(s: TestServer, b: Bot): Promise<OperatorServer | undefined> {
  const id = b.conn?.node?.serverId;
  return (await serversOf(s)).find((x) => x.id === id);
}

/** Items no honest play can make (src/net/p2p/cheat.ts forges them). */
export const forgedItems = (inventory: ReadonlyArray<{ id: string }>): string[] => inventory.map((i) => i.id).filter((id) => id.startsWith('forged-'));

export { until };

/** The player walks to the site's portal to `to` and takes it; resolves once it is there with a view. */
export async function switchSite(p: Bot, to: string): Promise<void> {
  const view = p.state.view;
  const me = view?.users.find((u) => u.name === p.name);
  const portal = getSite(SITE).portals.find((x) => x.to === to);
  if (!me || !portal) throw new Error(`cannot walk to the ${to} portal`);
  for (const dir of pathTo(SITE, me, portal)) {
    await until('sent', () => p.act({ kind: 'move', dir }));
    await until('applied', () => Object.keys(p.state.inflight).length === 0, 20_000);
  }
  await until('sent', () => p.act({ kind: 'portal' }));
  await until(`in the ${to}`, () => p.state.site === to && p.state.view !== null, 20_000);
}
