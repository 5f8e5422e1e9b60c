/**
 * Shared by the e2e specs: a real Administration Server (`server/main.ts` on a free port with a
 * fresh database, once per worker; the client must be built, `npm run test:e2e` does that) unless
 * E2E_BASE_URL points at a running one; pages in their own browser contexts (one per player);
 * reading `window.__mmo.snapshot()`; logging in and walking by keyboard like a player.
 */
import { expect, test as base, type BrowserContext, type Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../bench/live/freePort.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { getSite, isWalkable, pathTo, stepFrom, type Dir } from '../src/game/index.js';
import type { Snapshot } from '../src/client/store.js';
import type { OperatorView } from '../server/operator.js';

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

/** The operator page's token on servers the specs start. */
export const E2E_ADMIN_TOKEN = 'e2e-operator-token-of-32-characters';

export interface RunningServer {
  base: string;
  port: number;
  dbPath: string;
  /** The server's stdout and stderr (JSON lines). */
  logPath: string;
  /** Stops the process (SIGTERM: it saves what it holds) and waits for it to exit. */
  stop(): Promise<void>;
  /** stop(), then removes the database. */
  dispose(): Promise<void>;
}

/**
 * Starts the server and returns its base URL and a stop function. A restart passes the port and
 * database of the one it replaces.
 */
export async function startServer(
  at: { port?: number; dbPath?: string; env?: Record<string, string> } = {},
): Promise<RunningServer> {
  const port = at.port ?? (await freePort());
  const dbPath = at.dbPath ?? join(mkdtempSync(join(tmpdir(), 'mmo-e2e-')), 'e2e.db');
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    // Client-server only unless a spec asks for P2P (`env`): those specs count exact exchanges.
    env: {
      ...process.env,
      PORT: String(port),
      MMO_DB: dbPath,
      MMO_TRANSFER_THRESHOLD: '0',
      MMO_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
      MMO_GUEST_BURST: '200',
      ...at.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Its log goes to a file, next to the database or E2E_SERVER_LOG=FILE (kept after the run);
  // specs attach it when they fail. Warnings (expected rejections) stay out of the report unless
  // it fails to start.
  const logPath = process.env.E2E_SERVER_LOG ?? join(dirname(dbPath), 'server.log');
  const logFile = createWriteStream(logPath, { flags: 'a' });
  child.stdout?.pipe(logFile);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    logFile.write(d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const dispose = async (): Promise<void> => {
    await stop();
    rmSync(dirname(dbPath), { recursive: true, force: true });
  };
  await waitForServer(url, 30_000).catch(async (e: unknown) => {
    await dispose();
    throw new Error(`${(e as Error).message}\n${stderr}`);
  });
  return { base: url, port, dbPath, logPath, stop, dispose };
}

export const test = base.extend<{ openPage: () => Promise<Page> }, { baseUrl: string }>({
  baseUrl: [
    // eslint-disable-next-line no-empty-pattern -- Playwright reads the fixtures a fixture needs from this pattern
    async ({}, use) => {
      if (process.env.E2E_BASE_URL) return use(process.env.E2E_BASE_URL);
      const server = await startServer();
      try {
        await use(server.base);
      } finally {
        await server.dispose();
      }
    },
    { scope: 'worker' },
  ],
  /** A page in a fresh context (a player of its own), at the game; closed after the test. */
  openPage: async ({ browser, baseUrl }, use) => {
    // Each context runs a WebGL game on a software GPU: close them as soon as the test is done.
    const contexts: BrowserContext[] = [];
    await use(async () => {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(baseUrl);
      return page;
    });
    await Promise.all(contexts.map((c) => c.close()));
  },
});

export const snapshot = (page: Page): Promise<Snapshot> =>
  page.evaluate(() => (window as unknown as { __mmo: { snapshot(): Snapshot } }).__mmo.snapshot());

/** Waits until the page's snapshot satisfies `pred` (checked every 50 ms) and returns it. */
export async function until(
  page: Page,
  pred: (s: Snapshot) => boolean,
  what: string,
  timeout = 20_000,
): Promise<Snapshot> {
  let last: Snapshot | null = null;
  await expect
    .poll(
      async () => {
        last = await snapshot(page);
        return pred(last);
      },
      { message: what, timeout, intervals: [50] },
    )
    .toBe(true);
  return last!;
}

export const entered = (page: Page): Promise<Snapshot> =>
  until(page, (s) => s.site !== null && s.me !== null, 'entered a site');

export async function playAsGuest(page: Page, site: string): Promise<Snapshot> {
  await page.getByTestId('login-site').selectOption(site);
  await page.getByTestId('login-guest').click();
  return entered(page);
}

/** Fills the login form and presses Register or Log in. */
export async function submitLogin(
  page: Page,
  name: string,
  password: string,
  how: 'register' | 'login',
): Promise<void> {
  await page.getByTestId('login-name').fill(name);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId(how === 'register' ? 'login-register' : 'login-submit').click();
}

let unique = 0;
/** A unique account name per run (names are 3-16 chars). */
export const uniqueName = (prefix: string): string =>
  `${prefix}${Date.now().toString(36).slice(-6)}${(unique++).toString(36)}`;

const ARROWS: Record<Dir, string> = {
  up: 'ArrowUp',
  down: 'ArrowDown',
  left: 'ArrowLeft',
  right: 'ArrowRight',
};
const WASD: Record<Dir, string> = { up: 'w', down: 's', left: 'a', right: 'd' };

/**
 * A quick key press: keydown and keyup on the focused element in one go. `keyboard.press` waits
 * for the browser between the two, up to 940 ms on a loaded machine, and the game rightly takes a
 * key held past REPEAT_MS (125 ms) as held and walks on (src/client/input.ts).
 */
async function tap(page: Page, key: string): Promise<void> {
  await page.evaluate((k) => {
    const target = document.activeElement ?? document.body;
    for (const type of ['keydown', 'keyup']) target.dispatchEvent(new KeyboardEvent(type, { key: k, bubbles: true, cancelable: true }));
  }, key);
}

/**
 * Walks the player one key press per tile, waiting for each move to be accepted before the next
 * press (as a player watching the screen would). Returns where it ends.
 */
export async function walk(
  page: Page,
  dirs: readonly Dir[],
  keys: 'arrows' | 'wasd' = 'arrows',
): Promise<Snapshot> {
  let s = await snapshot(page);
  for (const dir of dirs) {
    const to = stepFrom(s.me!, dir);
    await tap(page, (keys === 'arrows' ? ARROWS : WASD)[dir]);
    s = await until(page, (n) => n.me?.x === to.x && n.me?.y === to.y, `${s.user} at ${to.x},${to.y}`);
  }
  return s;
}

/** Walks the player to (x, y) on its site along a shortest path. */
export async function walkTo(
  page: Page,
  to: { x: number; y: number },
  keys: 'arrows' | 'wasd' = 'arrows',
): Promise<Snapshot> {
  const s = await snapshot(page);
  return walk(page, pathTo(s.site!, s.me!, to), keys);
}

/** A direction from `at` that leads onto walkable ground. */
export function openDir(siteId: string, at: { x: number; y: number }): Dir {
  const def = getSite(siteId);
  const dir = (['right', 'down', 'left', 'up'] as const).find((d) => {
    const n = stepFrom(at, d);
    return isWalkable(def, n.x, n.y);
  });
  if (!dir) throw new Error(`walled in on ${siteId} at ${at.x},${at.y}`);
  return dir;
}

/**
 * Polls `f` every `every` ms until it returns a truthy value, and returns that value; fails with
 * `what` and the last value `describe` gives after `ms`. For conditions outside a Playwright page.
 */
export async function waitFor<T>(
  what: string,
  f: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  ms = 20_000,
  every = 100,
  describe: () => unknown = () => undefined,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${JSON.stringify(describe())}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** The operator view (GET /api/admin) of a server the specs started. */
export async function operatorView(base: string): Promise<OperatorView> {
  const r = await fetch(`${base}/api/admin`, { headers: { authorization: `Bearer ${E2E_ADMIN_TOKEN}` } });
  if (!r.ok) throw new Error(`/api/admin: HTTP ${r.status}`);
  return (await r.json()) as OperatorView;
}
