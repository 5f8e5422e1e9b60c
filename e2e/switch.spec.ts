/**
 * A registered player walks through client-server and P2P sites and keeps exactly what it
 * carries: meadow (P2P) -> forest (client-server) -> meadow (P2P) -> town (P2P) -> lake
 * (client-server), picking one item on each, then logs out and back in. Node bots make the meadow
 * and the town busy (threshold 3) and serve each other's site; the player's tab serves nothing.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { Bot } from '../src/bots/bot.js';
import { getSite, pathTo } from '../src/game/index.js';
import type { Snapshot } from '../src/client/store.js';
import { entered, snapshot, startServer, submitLogin, uniqueName, until, walkTo, type RunningServer } from './helpers.js';

test.use({ trace: 'off' });

/** Three bots on the meadow and three on the town: both P2P, each served by the other's bots. */
async function crowd(bots: Bot[]): Promise<RunningServer> {
  const server = await startServer({ env: { MMO_TRANSFER_THRESHOLD: '3', MMO_N_SERVER: '3', MMO_T_TIMEOUT_MS: '600', MMO_T_REQ_TIMEOUT_MS: '600' } });
  for (const site of ['meadow', 'town', 'meadow', 'town', 'meadow', 'town']) {
    const b = new Bot({ url: server.base, site, rate: 0 });
    bots.push(b);
    await b.start();
  }
  await expect.poll(() => bots.filter((b) => b.state.mode === 'p2p').length, { timeout: 30_000 }).toBe(6);
  return server;
}

/**
 * A newly registered player whose tab serves nothing, on the P2P meadow of a crowd (above); the
 * bots, the context and the server are closed after `fn`.
 */
async function onBusyMeadow(
  browser: Browser,
  who: string,
  fn: (o: { page: Page; name: string; password: string; bots: Bot[] }) => Promise<void>,
): Promise<void> {
  let server: RunningServer | null = null;
  let context: BrowserContext | null = null;
  const bots: Bot[] = [];
  try {
    server = await crowd(bots);
    context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.base);
    const name = uniqueName(who);
    const password = `${who}-password`;
    await submitLogin(page, name, password, 'register');
    await page.getByTestId('serve-setting').uncheck();
    await until(page, (s) => s.site === 'meadow' && s.mode === 'p2p' && s.me !== null, 'on the P2P meadow', 30_000);
    await fn({ page, name, password, bots });
  } finally {
    for (const b of bots) b.close();
    await context?.close();
    await server?.dispose();
  }
}

/** Walks to the item nearest the player and picks it up; returns its id. */
async function pickNearest(page: Page): Promise<string> {
  const s = await snapshot(page);
  const site = s.site!;
  const item = s.items.map((i) => ({ i, steps: pathTo(site, s.me!, i).length })).sort((a, b) => a.steps - b.steps)[0]!.i;
  await walkTo(page, item);
  await page.keyboard.press('Space');
  await until(page, (n) => n.me!.inventory.some((x) => x.id === item.id), `picked ${item.id} on ${site}`);
  return item.id;
}

test('a player walks CS -> P2P -> P2P -> CS and keeps its inventory exactly', async ({ browser }) => {
  test.setTimeout(240_000);
  await onBusyMeadow(browser, 'walker', async ({ page, name, password, bots }) => {
    const carried: string[] = [];
    const inventory = (s: Snapshot): string[] => s.me!.inventory.map((i) => i.id).sort();

    const pick = async (): Promise<void> => {
      carried.push(await pickNearest(page));
      expect(inventory(await snapshot(page))).toEqual([...carried].sort());
    };
    const through = async (to: string, mode: 'cs' | 'p2p'): Promise<void> => {
      const s = await snapshot(page);
      const portal = getSite(s.site!).portals.find((p) => p.to === to)!;
      await walkTo(page, portal);
      await page.keyboard.press('e');
      const there = await until(page, (n) => n.site === to && n.mode === mode && n.me !== null, `arrived on ${to} (${mode})`, 30_000);
      // Nothing lost, nothing doubled on the way.
      expect(inventory(there)).toEqual([...carried].sort());
      expect(there.items.filter((i) => carried.includes(i.id))).toEqual([]);
    };

    // This tab serves nothing: its inventory is all that moves with it.
    expect((await snapshot(page)).serving).toBeNull();
    await pick();
    await through('forest', 'cs');
    await pick();
    await through('meadow', 'p2p');
    await pick();
    await through('town', 'p2p');
    await pick();
    await through('lake', 'cs');
    await pick();
    expect(carried).toHaveLength(5);

    // Every item the player carries is gone from every site the bots can see.
    for (const b of bots) expect(b.state.view?.items.filter((i) => carried.includes(i.id))).toEqual([]);

    // Log out and in again: the same site and the same five items.
    await page.getByTestId('logout').click();
    await expect(page.getByTestId('login-name')).toBeVisible();
    await submitLogin(page, name, password, 'login');
    const back = await entered(page);
    expect(back.site).toBe('lake');
    expect(inventory(back)).toEqual([...carried].sort());
  });
});

test('logging out right after picking an item on a P2P site stores it; logging in again shows it', async ({ browser }) => {
  test.setTimeout(120_000);
  await onBusyMeadow(browser, 'quick', async ({ page, name, password, bots }) => {
    const item = await pickNearest(page);
    const at = (await snapshot(page)).me!;
    // At once: the servers still hold the only copy of the player's state.
    await page.getByTestId('logout').click();
    await expect(page.getByTestId('login-name')).toBeVisible();
    // The meadow's players see it go, and nobody has the item on the map.
    for (const b of bots.filter((x) => x.state.site === 'meadow'))
      await expect.poll(() => b.state.view?.users.some((u) => u.name === name), { timeout: 10_000 }).toBe(false);
    await submitLogin(page, name, password, 'login');
    const back = await until(page, (s) => s.site === 'meadow' && s.me !== null, 'back on the meadow', 30_000);
    expect(back.me!.inventory.map((i) => i.id)).toEqual([item]);
    expect({ x: back.me!.x, y: back.me!.y }).toEqual({ x: at.x, y: at.y });
    expect(back.items.map((i) => i.id)).not.toContain(item);
  });
});

test('a player whose tab serves a site walks into it: it plays there, a fresh peer serves in its place', async ({ browser }) => {
  test.setTimeout(120_000);
  let server: RunningServer | null = null;
  let context: BrowserContext | null = null;
  const bots: Bot[] = [];
  const bot = async (site: string, serve: boolean): Promise<Bot> => {
    const b = new Bot({ url: server!.base, site, rate: 0, serve });
    bots.push(b);
    await b.start();
    return b;
  };
  try {
    server = await startServer({ env: { MMO_TRANSFER_THRESHOLD: '3', MMO_N_SERVER: '3', MMO_T_TIMEOUT_MS: '600', MMO_T_REQ_TIMEOUT_MS: '600' } });
    // The tab and two town bots are the only peers free to serve the meadow.
    context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.base);
    await page.getByTestId('login-site').selectOption('town');
    await page.getByTestId('login-guest').click();
    await until(page, (s) => s.site === 'town' && s.me !== null, 'on the town');
    await bot('town', true);
    await bot('town', true);
    await expect.poll(async () => (await page.evaluate(() => (window as unknown as { __mmo: { p2p(): { serverId: string | null } } }).__mmo.p2p().serverId)), { timeout: 20_000 }).not.toBeNull();
    const players = [await bot('meadow', false), await bot('meadow', false), await bot('meadow', false)];
    const served = await until(page, (s) => s.serving === 'meadow', 'the tab serves the meadow', 30_000);
    expect(served.site).toBe('town');
    // A spare elsewhere, to take the tab's place.
    await bot('lake', true);

    const portal = getSite('town').portals.find((p) => p.to === 'meadow')!;
    await walkTo(page, portal);
    await page.keyboard.press('e');
    const there = await until(page, (s) => s.site === 'meadow' && s.mode === 'p2p' && s.me !== null, 'playing on the meadow', 30_000);
    expect(there.serving).toBeNull();
    const me = there.user!;
    const myServer = await page.evaluate(() => (window as unknown as { __mmo: { p2p(): { serverId: string | null } } }).__mmo.p2p().serverId);
    await until(page, (s) => s.servers.some((x) => x.id === myServer && x.state === 'replaced') && s.servers.filter((x) => x.state === 'in-step').length === 3, 'a fresh server in its slot', 30_000);
    // The site runs on: a bot's move reaches the tab, the tab's move reaches the bots.
    const seqBefore = (await snapshot(page)).acceptedSeq;
    players[0]!.act({ kind: 'say', text: 'welcome' });
    await until(page, (s) => s.acceptedSeq > seqBefore, 'an update after the change');
    await walkTo(page, { x: there.me!.x, y: there.me!.y + 1 });
    const moved = (await snapshot(page)).me!;
    for (const b of players) await expect.poll(() => b.state.view?.users.find((u) => u.name === me)?.y, { timeout: 10_000 }).toBe(moved.y);
  } finally {
    for (const b of bots) b.close();
    await context?.close();
    await server?.dispose();
  }
});

test('a serving tab closes in the middle of a switch, and the switch still completes', async ({ browser }) => {
  test.setTimeout(120_000);
  await onBusyMeadow(browser, 'mover', async ({ page, name, bots }) => {
    const item = await pickNearest(page);
    const portal = getSite('meadow').portals.find((p) => p.to === 'forest')!;
    await walkTo(page, portal);
    // The meadow's servers are the town's bots: one of them goes as the player steps through.
    const serving = bots.filter((b) => b.state.serving === 'meadow');
    expect(serving).toHaveLength(3);
    await Promise.all([page.keyboard.press('e'), Promise.resolve().then(() => serving[0]!.close())]);
    const there = await until(page, (s) => s.site === 'forest' && s.mode === 'cs' && s.me !== null, 'arrived on the forest', 30_000);
    expect(there.me!.inventory.map((i) => i.id)).toEqual([item]);
    // The meadow goes on without the player, on its two remaining servers and a replacement if any.
    for (const b of bots.filter((x) => x.state.site === 'meadow'))
      await expect.poll(() => b.state.view?.users.some((u) => u.name === name), { timeout: 10_000 }).toBe(false);
  });
});
