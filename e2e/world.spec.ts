/**
 * Three players in three browser contexts play together through the keyboard: they see each
 * other and each other's moves, two of them race for one item (exactly one gets it, and every tab
 * agrees who), the winner walks through a portal with the loser behind, then logs out and back in
 * and stands where it left with what it carried. Paths come from the world definition.
 */
import { expect, type Page } from '@playwright/test';
import { getSite, pathTo, type PortalDef } from '../src/game/index.js';
import type { Snapshot } from '../src/client/store.js';
import {
  entered,
  openDir,
  playAsGuest,
  snapshot,
  submitLogin,
  test,
  until,
  uniqueName,
  walk,
  walkTo,
} from './helpers.js';

const PASSWORD = 'race-you-there';
const START = 'meadow'; // where new accounts begin, and where the guest chooses to start

const names = (s: Snapshot): string[] => s.players.map((p) => p.name);
const at = (s: Snapshot, name: string) => s.players.find((p) => p.name === name);
const ownersOf = (s: Snapshot, itemId: string): string[] =>
  s.players.filter((p) => p.inventory.some((i) => i.id === itemId)).map((p) => p.name);

/** The portal of `site` nearest to `from` on foot. */
function nearestPortal(site: string, from: { x: number; y: number }): PortalDef {
  const portals = [...getSite(site).portals];
  portals.sort((a, b) => pathTo(site, from, a).length - pathTo(site, from, b).length);
  return portals[0]!;
}

test('three tabs: see each other, race for an item, take a portal, log out and back in', async ({
  openPage,
}) => {
  // Three WebGL pages on a software GPU, walking tile by tile.
  test.setTimeout(240_000);
  const [ann, bob, cat] = await Promise.all([openPage(), openPage(), openPage()]);
  const annName = uniqueName('ann');
  const bobName = uniqueName('bob');
  await Promise.all([
    submitLogin(ann, annName, PASSWORD, 'register'),
    submitLogin(bob, bobName, PASSWORD, 'register'),
  ]);
  const [sAnn, sBob, sCat] = await Promise.all([entered(ann), entered(bob), playAsGuest(cat, START)]);
  const catName = sCat.user!;
  expect([sAnn.site, sBob.site, sCat.site]).toEqual([START, START, START]);
  const everyone = [annName, bobName, catName];
  const tabs: Page[] = [ann, bob, cat];

  // Everybody sees everybody.
  for (const tab of tabs)
    await until(tab, (s) => everyone.every((n) => names(s).includes(n)), 'all three on the map');

  // The item nearest the spawn (at least one step away) is the prize.
  const spawn = getSite(START).spawn;
  const prize = (await snapshot(ann)).items
    .map((i) => ({ item: i, steps: pathTo(START, spawn, i).length }))
    .filter((c) => c.steps > 0)
    .sort((a, b) => a.steps - b.steps)[0]!.item;

  // Ann (arrows) and Bob (WASD) walk to it at once; Cat steps aside. Each tab sees the others arrive.
  const catStep = openDir(START, sCat.me!);
  const [, , catMoved] = await Promise.all([
    walkTo(ann, prize, 'arrows'),
    walkTo(bob, prize, 'wasd'),
    walk(cat, [catStep]),
  ]);
  const catAt = catMoved.me!;
  for (const tab of tabs) {
    await until(
      tab,
      (s) =>
        [annName, bobName].every((n) => at(s, n)?.x === prize.x && at(s, n)?.y === prize.y) &&
        at(s, catName)?.x === catAt.x &&
        at(s, catName)?.y === catAt.y,
      'ann and bob on the prize, cat moved',
    );
    // Nobody has it yet.
    expect((await snapshot(tab)).items.map((i) => i.id)).toContain(prize.id);
  }

  // The race: both press Space together. The server orders them; the second finds nothing.
  await Promise.all([ann.keyboard.press('Space'), bob.keyboard.press('Space')]);
  const settled = await Promise.all(
    tabs.map((tab) =>
      until(
        tab,
        (s) => !s.items.some((i) => i.id === prize.id) && ownersOf(s, prize.id).length > 0,
        'the prize picked up',
      ),
    ),
  );
  const winnerName = ownersOf(settled[0]!, prize.id)[0]!;
  expect([annName, bobName]).toContain(winnerName);
  const [winner, loser] = winnerName === annName ? [ann, bob] : [bob, ann];
  const loserName = winnerName === annName ? bobName : annName;
  await expect(loser.getByTestId('notice')).toHaveText('Nothing to pick up here.');
  // Every tab names the same single owner and has the item off the map...
  for (const tab of tabs) {
    const s = await snapshot(tab);
    expect(ownersOf(s, prize.id)).toEqual([winnerName]);
    expect(s.items.map((i) => i.id)).not.toContain(prize.id);
  }
  // ...and it is in exactly one inventory, the winner's, also in its HUD.
  const inventories = await Promise.all(tabs.map(async (tab) => (await snapshot(tab)).me!.inventory));
  expect(inventories.filter((inv) => inv.some((i) => i.id === prize.id))).toHaveLength(1);
  expect((await snapshot(winner)).me!.inventory).toEqual([{ id: prize.id, kind: prize.kind }]);
  await expect(winner.getByTestId('inventory').locator(`li[data-kind="${prize.kind}"]`)).toHaveAttribute(
    'data-count',
    '1',
  );

  // The winner walks to the nearest portal and takes it (E); the loser follows.
  const portal = nearestPortal(START, prize);
  await walkTo(winner, portal);
  await winner.keyboard.press('e');
  const arrived = await until(
    winner,
    (s) => s.site === portal.to && s.me?.x === portal.toX && s.me?.y === portal.toY,
    `winner arrived on ${portal.to}`,
  );
  await expect(winner.getByTestId('hud-site')).toHaveText(portal.to);
  expect(arrived.me!.inventory.map((i) => i.id)).toEqual([prize.id]);
  for (const tab of [loser, cat]) await until(tab, (s) => !names(s).includes(winnerName), 'winner left');

  await walkTo(loser, portal);
  await loser.keyboard.press('e');
  await until(loser, (s) => s.site === portal.to && names(s).includes(winnerName), 'loser follows');
  await until(
    winner,
    (s) => at(s, loserName)?.x === portal.toX && at(s, loserName)?.y === portal.toY,
    'loser seen',
  );
  await until(cat, (s) => !names(s).includes(loserName), 'loser left the meadow');

  // One step off the arrival tile, then log out: the loser sees the winner go.
  const left = (await walk(winner, [openDir(portal.to, arrived.me!)])).me!;
  await winner.getByTestId('logout').click();
  await expect(winner.getByTestId('login-name')).toBeVisible();
  await until(loser, (s) => !names(s).includes(winnerName), 'winner logged out');

  // Back in: same site, same tile, same inventory; the loser sees it come back there.
  await submitLogin(winner, winnerName, PASSWORD, 'login');
  const back = await entered(winner);
  expect(back.site).toBe(portal.to);
  expect(back.me).toEqual(left);
  await expect(winner.getByTestId('hud-site')).toHaveText(portal.to);
  await until(
    loser,
    (s) => at(s, winnerName)?.x === left.x && at(s, winnerName)?.y === left.y,
    'winner back',
  );
});
