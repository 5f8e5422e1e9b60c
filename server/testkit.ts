/**
 * Test helpers (not a test file): a server on 127.0.0.1 port 0 with a temporary database and a
 * captured log (printed only when the test fails), HTTP helpers, and a WebSocket client that
 * awaits messages by predicate instead of sleeping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFailed, onTestFinished } from 'vitest';
import { WebSocket } from 'ws';
import { pathTo, type PlayerAction } from '../src/game/index.js';
import type { ErrorCode } from '../src/protocol/errors.js';
import { PROTOCOL_VERSION, type ServerMessage, type SessionReply } from '../src/protocol/messages.js';
import { createAdminServer, type AdminServer, type AdminServerOptions } from './app.js';
import { createLogger } from './log.js';

/** Cheap scrypt for tests; the real cost is tested in password.test.ts. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1, keylen: 32 };

export interface TestServer extends AdminServer {
  dbFile: string;
  logs: string[];
  base: string;
  wsUrl: string;
}

/** A temporary directory removed when the test ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmo-server-test-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts a server for the running test and closes it when the test ends. Logs are kept in memory
 * and printed if the test fails.
 */
export async function startServer(opts: AdminServerOptions & { dbFile?: string } = {}): Promise<TestServer> {
  const dbFile = opts.dbFile ?? join(tempDir(), 'mmo.db');
  const logs: string[] = [];
  const dump = (): void => void process.stderr.write(`--- server log (${dbFile}) ---\n${logs.join('\n')}\n`);
  onTestFailed(dump);
  // MMO_TEST_LOGS=1 prints the server log of passing tests too (timing investigations).
  if (process.env.MMO_TEST_LOGS === '1') onTestFinished(dump);
  const server = await createAdminServer({
    port: 0,
    staticDir: null,
    scrypt: TEST_SCRYPT,
    authRate: { perSecond: 1000, burst: 1000 },
    guestRate: { perSecond: 1000, burst: 1000 },
    actionRate: { perSecond: 1000, burst: 1000 },
    maxFramesPerSecond: 10_000,
    ...opts,
    // P2P hosting off unless a test turns it on (its messages would change the CS exchanges).
    p2p: { transferThreshold: 0, ...opts.p2p },
    dbFile,
    logger: createLogger({ sink: (line) => logs.push(line) }),
  });
  onTestFinished(() => server.close());
  const base = server.url.replace(/\/$/, '');
  return { ...server, dbFile, logs, base, wsUrl: `${base.replace(/^http/, 'ws')}/ws` };
}

export interface HttpAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export async function post<T = unknown>(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<T>> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

export async function get<T = unknown>(base: string, path: string): Promise<HttpAnswer<T>> {
  const res = await fetch(base + path);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

export async function register(base: string, name: string, password = 'secret-pass'): Promise<SessionReply> {
  const r = await post<SessionReply>(base, '/api/register', { name, password });
  if (r.status !== 200) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function login(base: string, name: string, password = 'secret-pass'): Promise<SessionReply> {
  const r = await post<SessionReply>(base, '/api/login', { name, password });
  if (r.status !== 200) throw new Error(`login ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function guest(base: string, site?: string): Promise<SessionReply> {
  const r = await post<SessionReply>(base, '/api/guest', site ? { site } : {});
  if (r.status !== 200) throw new Error(`guest: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

type Msg<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** A raw WebSocket client that records every message and awaits them by predicate. */
export class WsClient {
  readonly ws: WebSocket;
  /** Messages not yet taken by `waitFor`. */
  private inbox: ServerMessage[] = [];
  /** Every message ever received, in order. */
  readonly all: ServerMessage[] = [];
  private waiters: Array<{ pred: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }> = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  isClosed = false;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.isClosed = true;
        resolve({ code, reason: reason.toString() });
      });
    });
    // Errors after open (e.g. the server cutting us off) show up as a close.
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as ServerMessage;
      this.all.push(msg);
      const i = this.waiters.findIndex((w) => w.pred(msg));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        w?.resolve(msg);
      } else this.inbox.push(msg);
    });
    onTestFinished(() => this.ws.terminate());
  }

  static async open(url: string): Promise<WsClient> {
    const c = new WsClient(url);
    await c.opened;
    return c;
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The first unseen message matching `pred` (already received or still to come), or a timeout error. */
  waitFor<T extends ServerMessage = ServerMessage>(
    pred: (m: ServerMessage) => boolean,
    what = 'message',
    ms = 5000,
  ): Promise<T> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (m: ServerMessage) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.all.slice(-8))}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  waitType<T extends ServerMessage['type']>(
    type: T,
    pred: (m: Msg<T>) => boolean = () => true,
    ms?: number,
  ): Promise<Msg<T>> {
    return this.waitFor<Msg<T>>((m) => m.type === type && pred(m as Msg<T>), type, ms);
  }

  waitError(code: ErrorCode, ms?: number): Promise<Msg<'error'>> {
    return this.waitType('error', (m) => m.code === code, ms);
  }

  /** Resolves with the close, or rejects if it does not come in time. */
  waitClose(ms = 5000): Promise<{ code: number; reason: string }> {
    return Promise.race([
      this.closed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('timed out waiting for close')), ms).unref(),
      ),
    ]);
  }
}

/** A logged-in player: hello done, first `enter` received; numbers its actions. */
export class Player {
  private nextActionNo: number;
  site: string;
  x: number;
  y: number;

  private constructor(
    readonly client: WsClient,
    readonly name: string,
    enter: Msg<'enter'>,
  ) {
    this.nextActionNo = enter.lastActionNo + 1;
    this.site = enter.site;
    const me = enter.view!.users.find((u) => u.name === name);
    if (!me) throw new Error(`${name} not in its own enter view`);
    this.x = me.x;
    this.y = me.y;
  }

  static async connect(wsUrl: string, session: { token: string; user: string }): Promise<Player> {
    const client = await WsClient.open(wsUrl);
    client.send({ type: 'hello', v: PROTOCOL_VERSION, token: session.token });
    await client.waitType('welcome');
    const enter = await client.waitType('enter');
    return new Player(client, session.user, enter);
  }

  /** Sends one action; returns its number. */
  send(action: PlayerAction): number {
    const actionNo = this.nextActionNo++;
    this.client.send({ type: 'action', actionNo, action });
    return actionNo;
  }

  /** Sends one action and waits for the update that applied it. */
  async act(action: PlayerAction): Promise<Msg<'update'>> {
    const no = this.send(action);
    const update = await this.client.waitType('update', (u) =>
      u.applied.some((a) => a.user === this.name && a.actionNo === no),
    );
    for (const e of update.events) {
      if (e.kind === 'moved' && e.user === this.name) {
        this.x = e.x;
        this.y = e.y;
      }
    }
    return update;
  }

  /** Walks to (x, y) on the current site along a shortest path. */
  async walkTo(x: number, y: number): Promise<void> {
    for (const dir of pathTo(this.site, { x: this.x, y: this.y }, { x, y })) {
      const u = await this.act({ kind: 'move', dir });
      if (u.events.some((e) => e.kind === 'rejected')) throw new Error(`${this.name} blocked walking ${dir}`);
    }
  }

  /** Takes the portal it stands on and waits for the `enter` of the destination. */
  async takePortal(): Promise<Msg<'enter'>> {
    await this.act({ kind: 'portal' });
    const enter = await this.client.waitType('enter');
    this.site = enter.site;
    const me = enter.view!.users.find((u) => u.name === this.name);
    if (!me) throw new Error('not in destination view');
    this.x = me.x;
    this.y = me.y;
    return enter;
  }
}
