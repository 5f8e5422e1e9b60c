/**
 * The Administration Server restarts while a guest plays (a deploy, a crash): the tab keeps trying
 * and comes back as the same guest on the same tile once the server is up again. Sessions and
 * states are stored, so nothing but the client's patience stands between the player and its game.
 */
import { expect, test } from '@playwright/test';
import { openDir, playAsGuest, startServer, until, walk } from './helpers.js';

test('a guest rides out a server restart: same name, same tile', async ({ browser }) => {
  test.setTimeout(120_000);
  const first = await startServer();
  let second: Awaited<ReturnType<typeof startServer>> | null = null;
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    let sockets = 0;
    page.on('websocket', () => sockets++);
    await page.goto(first.base);
    const entered = await playAsGuest(page, 'meadow');
    const moved = (await walk(page, [openDir('meadow', entered.me!)])).me!;

    const before = sockets;
    await first.stop();
    // Five attempts against a server that is down: about 12 s of outage, longer than a restart.
    await expect.poll(() => sockets - before, { timeout: 60_000 }).toBeGreaterThanOrEqual(5);
    await expect(page.getByTestId('login-name')).toBeHidden();

    second = await startServer({ port: first.port, dbPath: first.dbPath });
    const back = await until(
      page,
      (s) => s.user === entered.user && s.me?.x === moved.x && s.me?.y === moved.y && s.site === 'meadow',
      'back on the same tile as the same guest',
      30_000,
    );
    expect(back.me?.inventory).toEqual(moved.inventory);
    await expect(page.getByTestId('hud-user')).toHaveText(entered.user!);
  } finally {
    await context.close();
    await (second ?? first).dispose();
  }
});
