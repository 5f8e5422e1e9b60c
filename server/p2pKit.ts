/**
 * For the P2P integration tests in Node (server/p2p*.test.ts): bots on a test server (closed
 * after each test), waiting for a condition, the operator view, and fast protocol settings.
 */
import { afterEach } from 'vitest';
import { Bot } from '../src/bots/bot.js';
import { pathTo } from '../src/game/path.js';
import type { PlayerAction } from '../src/game/types.js';
import type { P2PEnvironment } from '../src/net/connection.js';
import type { SiteUpdate } from '../src/protocol/messages.js';
import type { OperatorView } from './operator.js';
import type { TestServer } from './testkit.js';

const bots: Bot[] = [];
afterEach(() => {
  for (const b of bots.splice(0)) b.close();
});

type Maybe<T> = T | null | undefined | false;
export async function until<T>(what: string, f: () => Maybe<T> | Promise<Maybe<T>>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A guest bot on `site` that stands still (tests drive it), closed after the test. */
export async function bot(
  s: Pick<TestServer, 'url'>,
  site: string,
  o: { serve?: boolean; onUpdate?: (u: SiteUpdate) => void; p2p?: P2PEnvironment; log?: (...a: unknown[]) => void } = {},
): Promise<Bot> {
  const b = new Bot({
    url: s.url,
    site,
    rate: 0,
    serve: o.serve ?? true,
    ...(o.onUpdate ? { onUpdate: o.onUpdate } : {}),
    ...(o.p2p ? { p2p: o.p2p } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  bots.push(b);
  await b.start();
  return b;
}

/** `n` bots on `site` that volunteer as Site Servers, their keys registered. */
export async function volunteers(s: Pick<TestServer, 'url'>, n = 3, site = 'town'): Promise<Bot[]> {
  const out: Bot[] = [];
  for (let i = 0; i < n; i++) out.push(await bot(s, site));
  await until('keys registered', () => out.every((b) => b.conn?.node?.serverId));
  return out;
}

/** Three volunteers on the town and two players (not serving) on the meadow, which goes P2P at threshold 2. */
export async function crowd(s: Pick<TestServer, 'url'>): Promise<{ servers: Bot[]; a: Bot; b: Bot }> {
  const servers = await volunteers(s);
  const a = await bot(s, 'meadow', { serve: false });
  const b = await bot(s, 'meadow', { serve: false });
  return { servers, a, b };
}

export async function operator(s: TestServer): Promise<OperatorView> {
  return (await (await fetch(`${s.base}/api/admin`, { headers: { authorization: `Bearer ${s.adminToken}` } })).json()) as OperatorView;
}

// Faster than the defaults, slow enough that links still opening (node-datachannel takes up to a
// second or so on a loaded machine) do not look like a dead server.
export const FAST = { nServer: 3, transferThreshold: 2, T_timeslot: 50, T_timeout: 400, T_req_timeout: 300, T_ignore: 1500 };

/** The bot's own user in its view, or null. */
export const me = (b: Bot) => b.state.view?.users.find((u) => u.name === b.name) ?? null;

/** Sends one action and waits until it is applied (by the admin, or by the site's servers' majority). */
export async function step(b: Bot, action: PlayerAction): Promise<void> {
  await until(`${b.name} sent ${action.kind}`, () => b.act(action));
  await until(`${b.name}'s ${action.kind} applied`, () => Object.keys(b.state.inflight).length === 0);
}

/** Walks the bot to `to` one applied step at a time. */
export async function walkTo(b: Bot, to: { x: number; y: number }): Promise<void> {
  for (const dir of pathTo(b.state.site!, me(b)!, to)) await step(b, { kind: 'move', dir });
}
