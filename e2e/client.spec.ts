/**
 * The browser client against a real Administration Server: login form, HUD, keyboard, chat,
 * session across reloads, logout. Server and page helpers: `helpers.ts`.
 */
import { expect } from '@playwright/test';
import { entered, playAsGuest, snapshot, submitLogin, test, uniqueName } from './helpers.js';

test('a guest enters the chosen site, sees the HUD and walks', async ({ openPage }) => {
  const page = await openPage();
  await expect(page.getByTestId('login-site').locator('option')).toHaveCount(6);
  const s = await playAsGuest(page, 'town');
  expect(s.site).toBe('town');
  expect(s.mode).toBe('cs');
  expect(s.guest).toBe(true);
  expect(s.players.map((p) => p.name)).toContain(s.user);
  await expect(page.getByTestId('hud-user')).toHaveText(s.user!);
  await expect(page.getByTestId('hud-site')).toHaveText('town');
  await expect(page.getByTestId('hud-mode')).toHaveText('CS');
  await expect(page.getByTestId('hud-rtt')).toHaveText(/^\d+ ms$/);
  await expect(page.locator('[data-testid="game"] canvas')).toBeVisible();

  // Town spawn (5,5) is open floor on every side.
  const start = s.me!;
  await page.keyboard.press('ArrowRight');
  await expect.poll(async () => (await snapshot(page)).me?.x).toBe(start.x + 1);
  await page.keyboard.press('s');
  await expect.poll(async () => (await snapshot(page)).me?.y).toBe(start.y + 1);
  await expect(page.getByTestId('hud-delay')).toHaveText(/^\d+ ms$/);
  const after = await snapshot(page);
  expect(after.acceptedSeq).toBeGreaterThan(s.acceptedSeq);
});

test('register, log out, bad password, log in again', async ({ openPage }) => {
  const page = await openPage();
  const name = uniqueName('e2e');
  await submitLogin(page, name, 'correct-horse', 'register');
  const s = await entered(page);
  expect(s.user).toBe(name);
  expect(s.guest).toBe(false);

  await page.getByTestId('logout').click();
  await expect(page.getByTestId('login-name')).toBeVisible();
  await expect.poll(async () => (await snapshot(page)).me).toBeNull();

  await submitLogin(page, name, 'wrong-password', 'login');
  await expect(page.getByTestId('login-error')).toHaveAttribute('data-code', 'ERR_BAD_CREDENTIALS');

  await page.getByTestId('login-password').fill('correct-horse');
  await page.getByTestId('login-submit').click();
  expect((await entered(page)).user).toBe(name);
});

test('registering a taken name shows the error code', async ({ openPage }) => {
  const page = await openPage();
  const name = uniqueName('dup');
  for (let i = 0; i < 2; i++) {
    if (i === 1) {
      await page.getByTestId('logout').click();
      await expect(page.getByTestId('login-name')).toBeVisible();
    }
    await submitLogin(page, name, 'secret-pass', 'register');
    if (i === 0) await entered(page);
  }
  await expect(page.getByTestId('login-error')).toHaveAttribute('data-code', 'ERR_NAME_TAKEN');
});

test('a reload keeps the session', async ({ openPage }) => {
  const page = await openPage();
  const s = await playAsGuest(page, 'meadow');
  await page.reload();
  const again = await entered(page);
  expect(again.user).toBe(s.user);
});

test('a reload after the session expired asks to log in again, saying why', async ({ openPage }) => {
  const page = await openPage();
  const name = uniqueName('exp');
  await submitLogin(page, name, 'secret-pass', 'register');
  await entered(page);
  // What the tab holds once the session's lifetime is over.
  await page.evaluate(() => {
    const saved = JSON.parse(sessionStorage.getItem('mmo.session')!) as { expiresAt: number };
    sessionStorage.setItem('mmo.session', JSON.stringify({ ...saved, expiresAt: Date.now() - 1000 }));
  });
  await page.reload();
  await expect(page.getByTestId('login-error')).toHaveAttribute('data-code', 'ERR_TOKEN_EXPIRED');
  await expect(page.getByTestId('login-error')).toContainText('expired');
  await expect(page.getByTestId('login-name')).toBeVisible();
});

test('two players see each other move and chat; typing does not move', async ({ openPage }) => {
  const a = await openPage();
  const b = await openPage();
  const sa = await playAsGuest(a, 'lake');
  const sb = await playAsGuest(b, 'lake');
  await expect.poll(async () => (await snapshot(a)).players.map((p) => p.name)).toContain(sb.user);

  // B walks right; A sees it.
  const bx = (await snapshot(b)).me!.x;
  await b.keyboard.press('ArrowRight');
  await expect.poll(async () => (await snapshot(a)).players.find((p) => p.name === sb.user)?.x).toBe(bx + 1);

  // A chats: Enter focuses the box, WASD typed there does not move A.
  const before = (await snapshot(a)).me;
  await a.keyboard.press('Enter');
  await expect(a.getByTestId('chat-input')).toBeFocused();
  await a.keyboard.type('wasd hello');
  await a.keyboard.press('Enter');
  await expect(a.getByTestId('chat-input')).not.toBeFocused();
  await expect
    .poll(async () => (await snapshot(b)).bubbles)
    .toContainEqual({ speaker: sa.user, text: 'wasd hello' });
  await expect(b.getByTestId('chat-log')).toContainText('wasd hello');
  expect((await snapshot(a)).me).toEqual(before);

  // Escape cancels a message.
  await a.keyboard.press('Enter');
  await a.keyboard.type('never sent');
  await a.keyboard.press('Escape');
  await expect(a.getByTestId('chat-input')).toHaveValue('');
});
