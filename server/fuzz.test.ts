/**
 * Decoder fuzzing at the admin's entry points, HTTP and the WebSocket: generated hostile requests
 * and frames (server/fuzzInputs.ts, fixed seeds, a bounded number of cases) while honest players
 * are on. Nothing crashes or answers ERR_INTERNAL, every refusal carries an ERR_* code, and the
 * honest players' state does not move. The data channels are fuzzed in fuzzPeers.test.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { clientFrame, httpCase, show, type Frame, type HttpCase } from './fuzzInputs.js';
import { bot, FAST, until, volunteers } from './p2pKit.js';
import { get, guest, Player, register, startServer, tempDir, WsClient } from './testkit.js';

const ERR_CODE = /^ERR_[A-Z0-9_]+$/;

function send(base: string, c: HttpCase): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: c.method,
        path: c.path,
        headers: c.contentType === null ? {} : { 'content-type': c.contentType },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    // The server may answer and close before reading a body it refuses (413): that is its right.
    req.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve({ status: -1, body: '' }) : reject(err),
    );
    if (c.body !== null && c.method !== 'GET' && c.method !== 'HEAD') req.write(c.body);
    req.end();
  });
}

/** Raw bytes on a TCP connection; resolves with what came back when the server closes or goes quiet. */
function raw(base: string, data: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const sock = connect(Number(url.port), url.hostname, () => sock.end(data));
    const parts: Buffer[] = [];
    sock.on('data', (d: Buffer) => parts.push(d));
    sock.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    sock.on('error', () => undefined);
  });
}

const internal = (logs: string[]): string[] =>
  logs.filter((l) => /ERR_INTERNAL|\.internal|uncaught|tick_failed/i.test(l));

describe('HTTP fuzzing', () => {
  const SEED = 1701;
  it(`generated requests to every route (seed ${SEED}): no 5xx, ERR_* codes on the API, no file outside the client, players unharmed`, async () => {
    // A client directory with a secret beside it: no path may reach the secret.
    const dir = tempDir();
    const client = join(dir, 'client');
    mkdirSync(join(client, 'assets'), { recursive: true });
    writeFileSync(join(client, 'index.html'), '<!doctype html><title>mmo</title>');
    writeFileSync(join(client, 'assets', 'a.js'), 'export {};');
    writeFileSync(join(dir, 'secret.txt'), 'SECRET-OUTSIDE-THE-ROOT');
    const s = await startServer({ staticDir: client });
    const honest = await Player.connect(s.wsUrl, await register(s.base, 'honest'));
    const before = { x: honest.x, y: honest.y, site: honest.site };

    const cases = fc.sample(httpCase, { seed: SEED, numRuns: 250 });
    for (const c of cases) {
      const r = await send(s.base, c);
      const what = `${c.method} ${c.path} ${c.contentType ?? '-'} ${show(c.body)} -> ${r.status} ${r.body.slice(0, 200)}`;
      expect(r.status, what).not.toBe(0);
      expect(r.status >= 500, what).toBe(false);
      expect(r.body, what).not.toContain('SECRET-OUTSIDE-THE-ROOT');
      const api = c.path === '/api' || c.path.startsWith('/api/') || c.path.startsWith('/api?');
      if (api && r.status >= 400 && c.method !== 'HEAD') {
        let body: { error?: string } = {};
        try {
          body = JSON.parse(r.body) as { error?: string };
        } catch {
          // checked below
        }
        expect(body.error ?? `no error code in: ${r.body}`, what).toMatch(ERR_CODE);
      }
    }
    // Broken HTTP itself: the parser refuses, the server stays up.
    for (const junk of [
      'GARBAGE\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n\r\n`,
      'POST /api/login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      '\u0000\u0001\u0002\r\n\r\n',
    ]) {
      const back = await raw(s.base, junk);
      expect(back === '' || /^HTTP\/1\.1 4\d\d/.test(back), back.slice(0, 80)).toBe(true);
    }

    expect(internal(s.logs)).toEqual([]);
    expect((await get(s.base, '/api/health')).status).toBe(200);
    // The honest player's session and place are untouched, and it still plays.
    await honest.act({ kind: 'say', text: 'still here' });
    expect({ x: honest.x, y: honest.y, site: honest.site }).toEqual(before);
    expect((await register(s.base, 'newcomer')).user).toBe('newcomer');
  }, 60_000);
});

describe('WebSocket fuzzing', () => {
  const SEED = 4242;

  /**
   * Frames from one hostile connection: some before hello, the rest after a real hello; ends with
   * a ping whose pong proves every earlier frame was handled (or the server closed us, with a code).
   */
  async function barrage(
    wsUrl: string,
    token: string,
    frames: Frame[],
    beforeHello: number,
  ): Promise<string[]> {
    const c = await WsClient.open(wsUrl);
    const sendFrame = (f: Frame): void => {
      if (c.isClosed) return;
      if ('text' in f) c.sendRaw(f.text);
      else c.sendRaw(Buffer.from(f.binary), true);
    };
    for (const f of frames.slice(0, beforeHello)) sendFrame(f);
    if (!c.isClosed) c.send({ type: 'hello', v: PROTOCOL_VERSION, token });
    for (const f of frames.slice(beforeHello)) sendFrame(f);
    const problems: string[] = [];
    if (!c.isClosed) {
      c.send({ type: 'ping', id: 777_777, t: 1 });
      await Promise.race([c.waitType('pong', (m) => m.id === 777_777, 15_000), c.closed]);
    }
    for (const m of c.all) {
      if (m.type === 'error' && !ERR_CODE.test(m.code)) problems.push(`error without ERR_ code: ${show(m)}`);
      if (m.type === 'error' && m.code === 'ERR_INTERNAL') problems.push(`ERR_INTERNAL: ${show(m)}`);
    }
    if (c.isClosed) {
      const end = await c.closed;
      if (
        end.code === 1011 ||
        (end.reason !== '' && end.reason !== 'logout' && !ERR_CODE.test(end.reason.split(' ')[0] ?? ''))
      )
        problems.push(`closed ${end.code} ${end.reason}`);
    }
    c.ws.terminate();
    return problems;
  }

  it(`generated frames before and after hello, client-server and on a P2P site (seed ${SEED}): no crash, ERR_* answers, players unharmed`, async () => {
    const s = await startServer({ p2p: FAST });
    const logs: string[] = [];
    const log = (...a: unknown[]): void => void logs.push(JSON.stringify(a));
    await volunteers(s);
    const a = await bot(s, 'meadow', { serve: false, log });
    const b = await bot(s, 'meadow', { serve: false, log });
    await until(
      'meadow P2P',
      () =>
        a.state.mode === 'p2p' && b.state.mode === 'p2p' && a.state.view !== null && b.state.view !== null,
    );
    const cs = await Player.connect(s.wsUrl, await guest(s.base, 'lake'));
    const place = (): unknown => [
      a.state.view?.users.find((u) => u.name === a.name),
      b.state.view?.users.find((u) => u.name === b.name),
      [cs.x, cs.y, cs.site],
    ];
    const before = JSON.stringify(place());

    const frames = fc.sample(clientFrame('meadow'), { seed: SEED, numRuns: 600 });
    const problems: string[] = [];
    // Six hostile guests in turn, three on the P2P meadow and three on the client-server lake.
    for (let i = 0; i < 6; i++) {
      const session = await guest(s.base, i % 2 === 0 ? 'meadow' : 'lake');
      const part = frames.slice(i * 100, (i + 1) * 100);
      problems.push(...(await barrage(s.wsUrl, session.token, part, 10)));
    }
    expect(problems).toEqual([]);
    expect(internal(s.logs)).toEqual([]);
    expect(internal(logs)).toEqual([]);

    // Honest players: nobody moved them, and they still play on both kinds of site.
    expect(JSON.stringify(place())).toBe(before);
    await cs.act({ kind: 'say', text: 'cs still here' });
    await until('said', () => a.act({ kind: 'say', text: 'p2p still here' }));
    await until('b sees it', () => b.state.chatLog.some((l) => l.text.includes('p2p still here')));
    const acc = (x: typeof a): string[] =>
      x.conn?.node?.userHost?.core.acceptedLog().map((u) => `${u.seq}:${u.hash}`) ?? [];
    await until('same accepted log', () => acc(a).length > 0 && acc(a).join() === acc(b).join());
  }, 90_000);
});
