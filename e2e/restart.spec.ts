/**
 * The Administration Server restarts while a site is P2P. Three tabs on quiet sites serve the
 * meadow for two players. With the admin down, the meadow plays on over data channels (a move is
 * accepted by the servers' majority) and a player walks through a portal (its arrival waits for
 * the admin). The new admin process takes the site up from storage: the same three servers serve
 * on under the same ids without a new hand-over, the players play on without entering again, the
 * waiting switch completes with the player's inventory, what a player picked is stored, and the
 * emptied site goes back to the admin.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { getSite, pathTo } from '../src/game/index.js';
import type { Snapshot } from '../src/client/store.js';
import type { OperatorView } from '../server/operator.js';
import { E2E_ADMIN_TOKEN, entered, openDir, playAsGuest, snapshot, startServer, submitLogin, uniqueName, until, walk, walkTo, type RunningServer } from './helpers.js';

const SITE = 'meadow';
/** Not next to the meadow: the player who walks out does not make their site busy. */
const SERVER_SITES = ['lake', 'cave', 'ruins'];
const ENV = { MMO_TRANSFER_THRESHOLD: '2', MMO_N_SERVER: '3', MMO_T_TIMEOUT_MS: '1000', MMO_T_REQ_TIMEOUT_MS: '1000', MMO_T_IGNORE_MS: '2000' };

interface P2PDebug {
  serverId: string | null;
  serving: { site: string; status: string; applied: string[] } | null;
  playing: { site: string; accepted: string[] } | null;
}
const p2p = (page: Page): Promise<P2PDebug> => page.evaluate(() => (window as unknown as { __mmo: { p2p(): P2PDebug } }).__mmo.p2p());

async function operator(server: RunningServer): Promise<OperatorView> {
  const r = await fetch(`${server.base}/api/admin`, { headers: { authorization: `Bearer ${E2E_ADMIN_TOKEN}` } });
  return (await r.json()) as OperatorView;
}

async function newPage(browser: Browser, contexts: BrowserContext[], url: string): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

/** Walks to the item nearest the player and picks it up; returns its id. */
async function pickNearest(page: Page): Promise<string> {
  const s = await snapshot(page);
  const item = s.items.map((i) => ({ i, steps: pathTo(SITE, s.me!, i).length })).sort((a, b) => a.steps - b.steps)[0]!.i;
  await walkTo(page, item);
  await page.keyboard.press('Space');
  await until(page, (n) => n.me!.inventory.some((x) => x.id === item.id), `picked ${item.id}`);
  return item.id;
}

// No trace: screenshots of five WebGL pages starve the Site Servers on two cores (see p2p.spec.ts).
test.use({ trace: 'off' });

test('a P2P site goes on through an admin restart', async ({ browser }, testInfo) => {
  test.setTimeout(240_000);
  const first = await startServer({ env: ENV });
  let second: RunningServer | null = null;
  const contexts: BrowserContext[] = [];
  try {
    const servers = await Promise.all(SERVER_SITES.map(() => newPage(browser, contexts, first.base)));
    await Promise.all(servers.map((p, i) => playAsGuest(p, SERVER_SITES[i]!)));
    for (const p of servers) await expect.poll(async () => (await p2p(p)).serverId, { timeout: 20_000 }).not.toBeNull();

    // Ann (registered: her state is stored by name; new accounts start on the meadow) and Bob
    // walk in: the meadow goes P2P.
    const [ann, bob] = await Promise.all([newPage(browser, contexts, first.base), newPage(browser, contexts, first.base)]);
    const annName = uniqueName('ann');
    await submitLogin(ann, annName, 'through-a-restart', 'register');
    expect((await entered(ann)).site).toBe(SITE);
    const bobName = (await playAsGuest(bob, SITE)).user!;
    const ready = (s: Snapshot): boolean => s.mode === 'p2p' && s.servers.length === 3 && s.me !== null;
    await Promise.all([until(ann, ready, 'ann on the P2P meadow', 30_000), until(bob, ready, 'bob on the P2P meadow', 30_000)]);
    await expect.poll(async () => (await Promise.all(servers.map(async (p) => (await p2p(p)).serving?.status))).join(), { timeout: 20_000 }).toBe('running,running,running');
    const ids = await Promise.all(servers.map(async (p) => (await p2p(p)).serverId!));
    expect((await snapshot(ann)).servers.map((x) => x.id).sort()).toEqual([...ids].sort());

    const carried = [await pickNearest(ann)];
    const bobItems = (await snapshot(bob)).me!.inventory.map((i) => i.id);

    // The admin goes down.
    await first.stop();
    const annAt = (await snapshot(ann)).me!;
    // Ann still moves: the servers accept it by majority, and Bob sees it, with no admin anywhere.
    const moved = (await walk(ann, [openDir(SITE, annAt)])).me!;
    await until(bob, (s) => s.players.some((p) => p.name === annName && p.x === moved.x && p.y === moved.y), 'bob sees ann move while the admin is down');
    // Bob walks out through the portal to the forest: he leaves the meadow at once, and arrives
    // once the admin is back to place him.
    const portal = getSite(SITE).portals.find((p) => p.to === 'forest')!;
    await walkTo(bob, portal, 'wasd');
    await bob.keyboard.press('e');
    await until(ann, (s) => !s.players.some((p) => p.name === bobName), 'ann sees bob leave the meadow');
    const appliedBefore = await Promise.all(servers.map(async (p) => (await p2p(p)).serving!.applied));
    const acceptedBefore = (await p2p(ann)).playing!.accepted;

    second = await startServer({ port: first.port, dbPath: first.dbPath, env: ENV });
    // The same servers serve on, under the same ids, their history unbroken (no new hand-over).
    await expect
      .poll(async () => {
        const site = (await operator(second!)).sites.find((s) => s.id === SITE)!;
        return { mode: site.mode, waiting: site.waitingFor, active: site.servers.filter((x) => x.state === 'active').map((x) => x.id).sort() };
      }, { timeout: 60_000 })
      .toEqual({ mode: 'p2p', waiting: null, active: [...ids].sort() });
    for (const [i, p] of servers.entries()) {
      const d = await p2p(p);
      expect(d.serverId).toBe(ids[i]);
      expect(d.serving?.status).toBe('running');
      expect(d.serving!.applied.slice(0, appliedBefore[i]!.length)).toEqual(appliedBefore[i]);
    }
    // Bob's switch completes: he is on the forest (client-server) with what he had.
    const there = await until(bob, (s) => s.site === 'forest' && s.mode === 'cs' && s.me !== null && s.status === 'online', 'bob arrived on the forest', 60_000);
    expect(there.me!.inventory.map((i) => i.id)).toEqual(bobItems);
    // Ann never entered again: her accepted history goes on from before the restart.
    const annNow = await until(ann, (s) => s.status === 'online' && s.site === SITE && s.mode === 'p2p', 'ann online again', 60_000);
    expect(annNow.me).toMatchObject({ x: moved.x, y: moved.y });
    expect((await p2p(ann)).playing!.accepted.slice(0, acceptedBefore.length)).toEqual(acceptedBefore);
    carried.push(await pickNearest(ann));

    // What she picked, before and after the restart, is stored: log out and in again.
    await ann.getByTestId('logout').click();
    await expect(ann.getByTestId('login-name')).toBeVisible();
    // She was the meadow's last player: the resumed site goes back to the admin like any other.
    await expect.poll(async () => (await operator(second!)).sites.find((s) => s.id === SITE)?.mode, { timeout: 30_000 }).toBe('cs');
    await submitLogin(ann, annName, 'through-a-restart', 'login');
    const back = await until(ann, (s) => s.site !== null && s.me !== null && s.mode === 'cs', 'ann back on the meadow', 30_000);
    expect(back.site).toBe(SITE);
    expect(back.me!.inventory.map((i) => i.id).sort()).toEqual([...carried].sort());
  } finally {
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
    const last = second ?? first;
    await last.stop();
    // Both processes log to the same file (next to the database, removed by dispose). The list
    // reporter shows no attachment: the end of the log goes to the output too.
    if (testInfo.status !== testInfo.expectedStatus) {
      const log = readFileSync(last.logPath);
      await testInfo.attach('server.log', { body: log, contentType: 'text/plain' });
      console.log(`restart.spec server log, last lines:\n${log.toString().split('\n').slice(-120).join('\n')}`);
    }
    await last.dispose();
  }
});
