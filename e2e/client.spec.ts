/**
 * The browser client against a real Administration Server: login form, HUD, keyboard, chat,
 * session across reloads, logout. Starts `server/main.ts` on a free port with a fresh database
 * (the client must be built: `npm run test:e2e` does that), unless E2E_BASE_URL points at a
 * running server.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Snapshot } from '../src/client/store.js';

let base = process.env.E2E_BASE_URL ?? '';
let server: ChildProcess | null = null;
let dbDir: string | null = null;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitForServer(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`${url}/api/sites`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`server at ${url} did not come up`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test.beforeAll(async () => {
  if (base) return;
  const port = await freePort();
  dbDir = mkdtempSync(join(tmpdir(), 'mmo-e2e-'));
  server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, PORT: String(port), MMO_DB: join(dbDir, 'e2e.db') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Its warnings (expected rejections) stay out of the report unless it fails to start.
  let stderr = '';
  server.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  base = `http://127.0.0.1:${port}`;
  await waitForServer(base, 30_000).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${stderr}`);
  });
});

test.afterAll(async () => {
  server?.kill('SIGTERM');
  server = null;
  if (dbDir) rmSync(dbDir, { recursive: true, force: true });
});

const snapshot = (page: Page): Promise<Snapshot> =>
  page.evaluate(() => (window as unknown as { __mmo: { snapshot(): Snapshot } }).__mmo.snapshot());

/** Contexts opened by the running test; closed after it (each runs a WebGL game on a software GPU). */
const contexts: BrowserContext[] = [];

test.afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

async function openPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(base);
  return page;
}

async function entered(page: Page): Promise<Snapshot> {
  await expect.poll(async () => (await snapshot(page)).site, { timeout: 15_000 }).not.toBeNull();
  await expect.poll(async () => (await snapshot(page)).me, { timeout: 15_000 }).not.toBeNull();
  return snapshot(page);
}

async function playAsGuest(page: Page, site: string): Promise<Snapshot> {
  await page.getByTestId('login-site').selectOption(site);
  await page.getByTestId('login-guest').click();
  return entered(page);
}

/** A unique account name per run (names are 3-16 chars). */
const uniqueName = (prefix: string): string => `${prefix}${Date.now().toString(36).slice(-6)}`;

test('a guest enters the chosen site, sees the HUD and walks', async ({ browser }) => {
  const page = await openPage(browser);
  await expect(page.getByTestId('login-site').locator('option')).toHaveCount(6);
  const s = await playAsGuest(page, 'town');
  expect(s.site).toBe('town');
  expect(s.mode).toBe('cs');
  expect(s.guest).toBe(true);
  expect(s.players.map((p) => p.name)).toContain(s.user);
  await expect(page.getByTestId('hud-user')).toHaveText(s.user!);
  await expect(page.getByTestId('hud-site')).toHaveText('town');
  await expect(page.getByTestId('hud-mode')).toHaveText('cs');
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

test('register, log out, bad password, log in again', async ({ browser }) => {
  const page = await openPage(browser);
  const name = uniqueName('e2e');
  await page.getByTestId('login-name').fill(name);
  await page.getByTestId('login-password').fill('correct-horse');
  await page.getByTestId('login-register').click();
  const s = await entered(page);
  expect(s.user).toBe(name);
  expect(s.guest).toBe(false);

  await page.getByTestId('logout').click();
  await expect(page.getByTestId('login-name')).toBeVisible();
  await expect.poll(async () => (await snapshot(page)).me).toBeNull();

  await page.getByTestId('login-name').fill(name);
  await page.getByTestId('login-password').fill('wrong-password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('login-error')).toHaveAttribute('data-code', 'ERR_BAD_CREDENTIALS');

  await page.getByTestId('login-password').fill('correct-horse');
  await page.getByTestId('login-submit').click();
  expect((await entered(page)).user).toBe(name);
});

test('registering a taken name shows the error code', async ({ browser }) => {
  const page = await openPage(browser);
  const name = uniqueName('dup');
  for (let i = 0; i < 2; i++) {
    if (i === 1) {
      await page.getByTestId('logout').click();
      await expect(page.getByTestId('login-name')).toBeVisible();
    }
    await page.getByTestId('login-name').fill(name);
    await page.getByTestId('login-password').fill('secret-pass');
    await page.getByTestId('login-register').click();
    if (i === 0) await entered(page);
  }
  await expect(page.getByTestId('login-error')).toHaveAttribute('data-code', 'ERR_NAME_TAKEN');
});

test('a reload keeps the session', async ({ browser }) => {
  const page = await openPage(browser);
  const s = await playAsGuest(page, 'meadow');
  await page.reload();
  const again = await entered(page);
  expect(again.user).toBe(s.user);
});

test('two players see each other move and chat; typing does not move', async ({ browser }) => {
  const a = await openPage(browser);
  const b = await openPage(browser);
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
