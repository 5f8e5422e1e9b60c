/**
 * Chromium over plain CDP, for tabs that must really be hidden. Playwright keeps every page it
 * drives visible and unthrottled (it passes --disable-background-timer-throttling and friends and
 * emulates focus), so a spec that measures what a hidden tab does launches Chromium itself and
 * speaks the DevTools protocol over a WebSocket, with nothing that touches visibility or timers.
 *
 * A tab is hidden only if another tab of its window is in front: a target created in a fresh
 * browser context opens a window of its own and is visible even with `background: true`
 * (measured in headless Chromium 156). So each hidden tab gets a blank tab in front of it.
 */
import { chromium } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';

export function chromiumExecutable(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  return chromium.executablePath();
}

/** One attached page: evaluates expressions in its main world. */
export interface CdpPage {
  readonly targetId: string;
  /** The value of `expression` (awaited if a promise); throws with the page's exception. */
  evaluate<T>(expression: string): Promise<T>;
  /** The page's latest console lines (for a failure's report). */
  consoleTail(): string[];
}

/** Console lines kept per page. */
const CONSOLE_KEEP = 400;

interface RemoteArg {
  value?: unknown;
  objectId?: string;
  description?: string;
  preview?: { properties?: Array<{ name: string; value?: string }> };
}
interface ConsoleEvent {
  type?: string;
  args?: RemoteArg[];
}

/** A console argument as text: primitives as JSON, objects by their preview's fields. */
function argText(a: RemoteArg): string {
  if (a.value !== undefined) return typeof a.value === 'string' ? a.value : JSON.stringify(a.value);
  const props = a.preview?.properties;
  if (props) return `{${props.map((p) => `${p.name}: ${p.value ?? '?'}`).join(', ')}}`;
  return a.description ?? '?';
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  method: string;
}

export class CdpBrowser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private readonly consoles = new Map<string, Array<{ text: string }>>();

  private constructor(
    private readonly proc: ChildProcess,
    private readonly ws: WebSocket,
    private readonly profile: string,
    private readonly exited: Promise<void>,
  ) {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
        method?: string;
        sessionId?: string;
        params?: ConsoleEvent;
      };
      if (m.method === 'Runtime.consoleAPICalled' && m.sessionId) this.noteConsole(m.sessionId, m.params ?? {});
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(`${p.method}: ${m.error.message}`));
      else p.resolve(m.result);
    });
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error(`${p.method}: DevTools connection closed`));
      this.pending.clear();
    });
  }

  /** Starts headless Chromium with a fresh profile and connects to its DevTools WebSocket. */
  static async launch(extraArgs: readonly string[] = []): Promise<CdpBrowser> {
    const profile = mkdtempSync(join(tmpdir(), 'mmo-cdp-'));
    const proc = spawn(
      chromiumExecutable(),
      [
        '--headless',
        '--remote-debugging-port=0',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        // Node peers must reach the tab's host candidates, not an mDNS name.
        '--disable-features=WebRtcHideLocalIpsWithMdns',
        `--user-data-dir=${profile}`,
        ...extraArgs,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Chromium gave no DevTools URL in 30 s:\n${stderr}`)), 30_000);
      proc.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-8000);
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Chromium exited (${code}) before listening:\n${stderr}`));
      });
    }).catch(async (e: unknown) => {
      proc.kill('SIGKILL');
      await exited;
      rmSync(profile, { recursive: true, force: true });
      throw e;
    });
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new CdpBrowser(proc, ws, profile, exited);
  }

  /** A CDP command on the browser (no session) or on an attached page's session. */
  send<T = unknown>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`${method}: browser closed`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  /** The value of `expression` in an attached page's main world (awaited if a promise); throws with the page's exception. */
  async evaluateIn<T>(sessionId: string, expression: string): Promise<T> {
    const r = await this.send<{ result: { value?: unknown }; exceptionDetails?: { text: string; exception?: { description?: string } } }>(
      'Runtime.evaluate',
      { expression, returnByValue: true, awaitPromise: true },
      sessionId,
    );
    if (r.exceptionDetails) throw new Error(`in page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /**
   * Opens `url` in a fresh browser context (a player of its own: own storage) as a background tab
   * behind a blank one, so the page is hidden the way a tab the player switched away from is.
   */
  async openHiddenTab(url: string): Promise<CdpPage> {
    const { browserContextId } = await this.send<{ browserContextId: string }>('Target.createBrowserContext');
    await this.send('Target.createTarget', { url: 'about:blank', browserContextId });
    const { targetId } = await this.send<{ targetId: string }>('Target.createTarget', { url, browserContextId, background: true });
    const { sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    this.consoles.set(sessionId, []);
    await this.send('Runtime.enable', {}, sessionId);
    const evaluate = <T>(expression: string): Promise<T> => this.evaluateIn<T>(sessionId, expression);
    return { targetId, evaluate, consoleTail: () => (this.consoles.get(sessionId) ?? []).map((l) => l.text) };
  }

  /** Keeps a console line; objects are then read whole (their preview stops at five fields). */
  private noteConsole(sessionId: string, p: ConsoleEvent): void {
    const lines = this.consoles.get(sessionId);
    if (!lines) return;
    const head = `${new Date().toISOString()} ${p.type ?? 'log'}`;
    const args = p.args ?? [];
    const line = { text: `${head} ${args.map(argText).join(' ')}` };
    lines.push(line);
    if (lines.length > CONSOLE_KEEP) lines.splice(0, lines.length - CONSOLE_KEEP);
    if (!args.some((a) => a.objectId)) return;
    const whole = async (a: RemoteArg): Promise<string> => {
      if (!a.objectId) return argText(a);
      const r = await this.send<{ result: { value?: unknown } }>(
        'Runtime.callFunctionOn',
        { objectId: a.objectId, functionDeclaration: 'function () { return JSON.stringify(this); }', returnByValue: true },
        sessionId,
      );
      await this.send('Runtime.releaseObject', { objectId: a.objectId }, sessionId);
      return String(r.result.value);
    };
    Promise.all(args.map(whole)).then(
      (parts) => (line.text = `${head} ${parts.join(' ')}`),
      () => undefined, // the page or browser went away: the preview stays
    );
  }



  /** Closes the browser (Browser.close, then SIGKILL if it lingers) and removes its profile. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const id = this.nextId++;
      try {
        this.ws.send(JSON.stringify({ id, method: 'Browser.close', params: {} }));
      } catch {
        // the socket is gone already: the kill below ends it
      }
      const killer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(killer);
    }
    this.ws.terminate();
    rmSync(this.profile, { recursive: true, force: true });
  }
}
