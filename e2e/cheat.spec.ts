/**
 * A cheating tab among the three Site Servers of a site two players (tabs) play on: it serves with
 * `?cheat=tamper` (src/net/p2p/cheat.ts) on an admin started with MMO_ALLOW_CHEAT_MODES=1, so every
 * update it sends carries forged events (a player teleported, an item handed over, a 'forged'
 * line) under a matching hash. The two other servers are Node bots (cheaper than tabs on two
 * cores). The players never show the tampered state: every update they accept is one the honest
 * servers applied, and no forged line reaches their chat. Both report the tab, the operator
 * page shows it flagged by them, and a spare takes its place.
 */
import { expect, type BrowserContext, type Page } from '@playwright/test';
import { test } from '@playwright/test';
import { Bot } from '../src/bots/bot.js';
import { openDir, operatorView, playAsGuest, snapshot, startServer, until, waitFor, walk, type RunningServer } from './helpers.js';
import type { OperatorView } from '../server/operator.js';
import { readFileSync } from 'node:fs';

const SITE = 'meadow';

interface P2PDebug {
  serverId: string | null;
  serving: { site: string; status: string } | null;
  playing: { site: string; accepted: string[]; flagged: string[] } | null;
}
const p2p = (page: Page): Promise<P2PDebug> => page.evaluate(() => (window as unknown as { __mmo: { p2p(): P2PDebug } }).__mmo.p2p());

const operator = (server: RunningServer): Promise<OperatorView> => operatorView(server.base);

test.use({ trace: 'off' });

test('a tab serving with ?cheat=tamper: the players never show its forged updates, report it, and a spare replaces it', async ({ browser }, testInfo) => {
  test.setTimeout(120_000);
  const server = await startServer({
    env: { MMO_ALLOW_CHEAT_MODES: '1', MMO_TRANSFER_THRESHOLD: '2', MMO_N_SERVER: '3', MMO_T_TIMEOUT_MS: '1000', MMO_T_REQ_TIMEOUT_MS: '1000', MMO_T_IGNORE_MS: '2000' },
  });
  const contexts: BrowserContext[] = [];
  const bots: Bot[] = [];
  const newPage = async (path: string): Promise<Page> => {
    const c = await browser.newContext();
    contexts.push(c);
    const page = await c.newPage();
    await page.goto(server.base + path);
    return page;
  };
  const newBot = async (site: string): Promise<Bot> => {
    const b = new Bot({ url: server.base, site, serve: true, rate: 0 });
    bots.push(b);
    await b.start();
    await waitFor('bot key', () => b.conn?.node?.serverId ?? null);
    return b;
  };
  try {
    // The admin announces that it allows cheat modes.
    await waitFor('the warning in the admin log', () => readFileSync(server.logPath, 'utf8').includes('server.cheat_modes_allowed'));

    // The servers-to-be: the cheating tab and two honest bots, each on a quiet site.
    const cheater = await newPage('/?cheat=tamper');
    await playAsGuest(cheater, 'town');
    const honest = [await newBot('forest'), await newBot('lake')];
    const cheaterId = await waitFor('cheater key', async () => (await p2p(cheater)).serverId);

    // Two players walk in: the meadow goes to the three.
    const [ann, bob] = await Promise.all([newPage('/'), newPage('/')]);
    await Promise.all([playAsGuest(ann, SITE), playAsGuest(bob, SITE)]);
    const ready = (s: Awaited<ReturnType<typeof snapshot>>): boolean => s.mode === 'p2p' && s.servers.length === 3 && s.me !== null;
    await Promise.all([until(ann, ready, 'ann on P2P meadow', 30_000), until(bob, ready, 'bob on P2P meadow', 30_000)]);
    await waitFor('the cheater serving', async () => (await p2p(cheater)).serving?.site === SITE);
    expect((await snapshot(ann)).servers.map((x) => x.id)).toContain(cheaterId);
    // A spare, on another quiet site, for when the tab is caught (after the hand-over, so that the
    // three chosen are the tab and the two honest bots).
    const spare = await newBot('lake');

    // Both play.
    for (let i = 0; i < 3; i++) {
      await walk(ann, [openDir(SITE, (await snapshot(ann)).me!)]);
      await walk(bob, [openDir(SITE, (await snapshot(bob)).me!)], 'wasd');
    }

    // Every update they accepted is one the honest servers applied; nothing forged on screen.
    const honestApplied = new Set(honest.flatMap((b) => (b.conn?.node?.server?.core.appliedLog() ?? []).map((u) => `${u.seq}:${u.hash}`)));
    for (const p of [ann, bob]) {
      const accepted = (await p2p(p)).playing!.accepted;
      expect(accepted.length).toBeGreaterThan(0);
      await waitFor('the honest servers applied what the player accepted', () => {
        for (const b of honest) for (const u of b.conn?.node?.server?.core.appliedLog() ?? []) honestApplied.add(`${u.seq}:${u.hash}`);
        return accepted.every((k) => honestApplied.has(k));
      });
      await expect(p.getByTestId('chat-log')).not.toContainText('forged');
      // The players saw the tampered copies and flagged the tab that sent them.
      expect((await p2p(p)).playing!.flagged).toContain(cheaterId);
    }
    const users = [(await snapshot(ann)).user!, (await snapshot(bob)).user!];
    await waitFor('the operator page shows the tab flagged by both', async () => {
      const row = (await operator(server)).sites.find((x) => x.id === SITE)?.servers.find((x) => x.id === cheaterId);
      return row && users.every((u) => row.flaggedBy.includes(u)) ? row : null;
    });
    // The admin, asking the servers for the update they reported, finds the tab in the minority:
    // a spare takes its place, and the tab's player is not chosen again.
    await waitFor('the spare serves the meadow', () => (spare.state.serving === SITE ? true : null));
    const view = await operator(server);
    expect(view.sites.find((x) => x.id === SITE)?.servers.find((x) => x.id === cheaterId)?.state).toBe('replaced');
    const cheaterUser = (await snapshot(cheater)).user;
    expect(view.peers.find((x) => x.user === cheaterUser)?.why).toBe('caught in the minority');
    // The players go on, served by the honest two and the spare.
    await walk(ann, [openDir(SITE, (await snapshot(ann)).me!)]);
    await until(ann, (s) => s.servers.some((x) => x.id === spare.conn?.node?.serverId), 'ann sees the spare', 30_000);
  } catch (e) {
    await testInfo.attach('server.log', { path: server.logPath });
    throw e;
  } finally {
    for (const b of bots) b.close();
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
    await server.dispose();
  }
});
