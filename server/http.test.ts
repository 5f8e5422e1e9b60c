import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_HTTP_BODY_BYTES, type SessionReply, type SiteListing } from '../src/protocol/messages.js';
import { safePath } from './static.js';
import { get, post, register, startServer, tempDir } from './testkit.js';

describe('HTTP API', () => {
  it('registers, logs in and hands out guest sessions', async () => {
    let t = 1_000_000;
    const s = await startServer({ now: () => t, sessionTtlMs: 60_000 });
    const reg = await post<SessionReply>(s.base, '/api/register', { name: 'Alice', password: 'secret1' });
    expect(reg.status).toBe(200);
    expect(reg.body).toEqual({
      token: expect.stringMatching(/^[0-9a-f]{64}$/),
      user: 'Alice',
      guest: false,
      expiresAt: 1_060_000,
    });
    expect(reg.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reg.headers.get('cache-control')).toBe('no-store');

    t += 5;
    // Names are case-insensitive for lookup; the reply has the registered spelling.
    const log = await post<SessionReply>(s.base, '/api/login', { name: 'alice', password: 'secret1' });
    expect(log.status).toBe(200);
    expect(log.body.user).toBe('Alice');
    expect(log.body.token).not.toBe(reg.body.token);
    expect(log.body.expiresAt).toBe(1_060_005);

    const g1 = await post<SessionReply>(s.base, '/api/guest', {});
    const g2 = await post<SessionReply>(s.base, '/api/guest', { site: 'town' });
    for (const g of [g1, g2]) {
      expect(g.status).toBe(200);
      expect(g.body.guest).toBe(true);
      expect(g.body.user).toMatch(/^guest-[0-9a-f]{8}$/);
    }
    expect(g1.body.user).not.toBe(g2.body.user);
    // A guest that typed a name plays under it while it is free, and holds it meanwhile.
    const named = await post<SessionReply>(s.base, '/api/guest', { site: 'lake', name: 'Wanderer' });
    expect(named.status).toBe(200);
    expect(named.body).toMatchObject({ user: 'Wanderer', guest: true });
    expect((await post<{ error: string }>(s.base, '/api/guest', { name: 'Wanderer' })).body.error).toBe('ERR_NAME_TAKEN');
    expect((await post<{ error: string }>(s.base, '/api/register', { name: 'Wanderer', password: 'secret-pass' })).body.error).toBe('ERR_NAME_TAKEN');
    expect((await post<{ error: string }>(s.base, '/api/guest', { name: 'guest-abc' })).body.error).toBe('ERR_NAME_INVALID');
    expect((await post<{ error: string }>(s.base, '/api/guest', { name: 'x' })).body.error).toBe('ERR_NAME_INVALID');
    // A registered name is not free for guests.
    await post(s.base, '/api/register', { name: 'settler', password: 'secret-pass' });
    expect((await post<{ error: string }>(s.base, '/api/guest', { name: 'settler' })).body.error).toBe('ERR_NAME_TAKEN');
    // An empty body is a guest request for the default site.
    const res = await fetch(`${s.base}/api/guest`, { method: 'POST' });
    expect(res.status).toBe(200);
  });

  it('refuses bad registrations and logins with the right codes', async () => {
    const s = await startServer();
    await register(s.base, 'alice', 'secret1');
    const cases: Array<[string, unknown, number, string]> = [
      ['/api/register', { name: 'alice', password: 'another1' }, 409, 'ERR_NAME_TAKEN'],
      ['/api/register', { name: 'ALICE', password: 'another1' }, 409, 'ERR_NAME_TAKEN'],
      ['/api/register', { name: 'al', password: 'another1' }, 400, 'ERR_NAME_INVALID'],
      ['/api/register', { name: 'al ice', password: 'another1' }, 400, 'ERR_NAME_INVALID'],
      ['/api/register', { name: 'x'.repeat(17), password: 'another1' }, 400, 'ERR_NAME_INVALID'],
      ['/api/register', { name: 'guest-1234', password: 'another1' }, 400, 'ERR_NAME_INVALID'],
      ['/api/register', { name: 'Guest-abc', password: 'another1' }, 400, 'ERR_NAME_INVALID'],
      ['/api/register', { name: 'bob', password: 'short' }, 400, 'ERR_PASSWORD_INVALID'],
      ['/api/register', { name: 'bob', password: 'p'.repeat(129) }, 400, 'ERR_PASSWORD_INVALID'],
      ['/api/register', { name: 'bob' }, 400, 'ERR_MALFORMED'],
      ['/api/register', { name: 'bob', password: 'secret1', admin: true }, 400, 'ERR_MALFORMED'],
      ['/api/register', [1, 2], 400, 'ERR_MALFORMED'],
      ['/api/register', '{"name":', 400, 'ERR_MALFORMED'],
      ['/api/login', { name: 'alice', password: 'wrong-pass' }, 401, 'ERR_BAD_CREDENTIALS'],
      ['/api/login', { name: 'nobody', password: 'secret1' }, 401, 'ERR_BAD_CREDENTIALS'],
      ['/api/login', { name: 'alice', password: 5 }, 400, 'ERR_MALFORMED'],
      ['/api/guest', { site: 'atlantis' }, 400, 'ERR_SITE_UNKNOWN'],
      ['/api/guest', { site: 'town', name: 'me' }, 400, 'ERR_NAME_INVALID'],
      ['/api/guest', { site: 'town', admin: true }, 400, 'ERR_MALFORMED'],
    ];
    for (const [path, body, status, code] of cases) {
      const r = await post<{ error: string; message: string }>(s.base, path, body);
      expect({ path, body, status: r.status, error: r.body.error }).toEqual({
        path,
        body,
        status,
        error: code,
      });
      expect(typeof r.body.message).toBe('string');
    }
    // Unknown user and wrong password are indistinguishable.
    const a = await post<{ message: string }>(s.base, '/api/login', {
      name: 'alice',
      password: 'wrong-pass',
    });
    const b = await post<{ message: string }>(s.base, '/api/login', {
      name: 'nobody',
      password: 'wrong-pass',
    });
    expect(a.body).toEqual(b.body);
    // Every refusal was logged.
    expect(s.logs.filter((l) => l.includes('"http.reject"')).length).toBeGreaterThanOrEqual(cases.length);
  });

  it('caps bodies, insists on JSON, and answers unknown routes and methods', async () => {
    const s = await startServer();
    const big = await post<{ error: string }>(
      s.base,
      '/api/login',
      JSON.stringify({ name: 'a', password: 'x'.repeat(MAX_HTTP_BODY_BYTES) }),
    );
    expect([big.status, big.body.error]).toEqual([413, 'ERR_TOO_LARGE']);

    // Without a Content-Length the cap applies while streaming.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${s.base}/api/register`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error).toBe('ERR_TOO_LARGE');

    const form = await post<{ error: string }>(s.base, '/api/login', 'name=a&password=b', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect([form.status, form.body.error]).toEqual([415, 'ERR_MALFORMED']);

    const missing = await get<{ error: string }>(s.base, '/api/nothing');
    expect([missing.status, missing.body.error]).toEqual([404, 'ERR_NOT_FOUND']);
    const method = await get<{ error: string }>(s.base, '/api/login');
    expect([method.status, method.body.error]).toEqual([405, 'ERR_METHOD']);
    expect(method.headers.get('allow')).toBe('POST');
    const put = await fetch(`${s.base}/api/sites`, { method: 'PUT' });
    expect(put.status).toBe(405);
  });

  it('lists sites with their user counts, and reports health', async () => {
    const s = await startServer();
    const sites = await get<SiteListing[]>(s.base, '/api/sites');
    expect(sites.status).toBe(200);
    expect(sites.body.map((x) => x.id)).toEqual(['meadow', 'town', 'forest', 'lake', 'cave', 'ruins']);
    expect(sites.body[0]).toEqual({ id: 'meadow', name: 'Green Meadow', mode: 'cs', users: 0 });
    expect(await get(s.base, '/api/health')).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('rate-limits the account endpoints per address', async () => {
    const s = await startServer({ authRate: { perSecond: 0.001, burst: 3 } });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await post(s.base, '/api/login', { name: 'a', password: 'b' })).status);
    expect(codes).toEqual([401, 401, 401, 429, 429]);
    const r = await post<{ error: string }>(s.base, '/api/register', { name: 'abc', password: 'bcdefgh' });
    expect(r.body.error).toBe('ERR_RATE_LIMITED');
    // Reading endpoints are not limited, and guests have their own limit.
    expect((await get(s.base, '/api/sites')).status).toBe(200);
    expect((await post(s.base, '/api/guest', {})).status).toBe(200);
  });

  it('limits guest sessions per address with their own, configurable limit', async () => {
    const s = await startServer({ guestRate: { perSecond: 0.001, burst: 4 } });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await post(s.base, '/api/guest', {})).status);
    expect(codes).toEqual([200, 200, 200, 200, 429, 429]);
    // Logging in is limited separately.
    expect((await post(s.base, '/api/login', { name: 'a', password: 'b' })).status).toBe(401);
  });
});

describe('static client', () => {
  function distDir(): string {
    const dir = join(tempDir(), 'dist');
    mkdirSync(join(dir, 'assets'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'style-abc.css'), 'body{}');
    writeFileSync(join(dir, 'favicon.svg'), '<svg/>');
    writeFileSync(join(dir, '.secret'), 'no');
    return dir;
  }

  it('serves files with content types, caches hashed assets, and falls back to index.html for pages', async () => {
    const s = await startServer({ staticDir: distDir() });
    const root = await fetch(`${s.base}/`);
    expect(root.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(root.headers.get('cache-control')).toBe('no-cache');
    expect(await root.text()).toContain('<title>app</title>');

    const js = await fetch(`${s.base}/assets/index-abc123.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(await js.text()).toBe('console.log(1)');
    expect((await fetch(`${s.base}/assets/style-abc.css`)).headers.get('content-type')).toBe(
      'text/css; charset=utf-8',
    );
    expect((await fetch(`${s.base}/favicon.svg`)).headers.get('content-type')).toBe('image/svg+xml');

    const page = await fetch(`${s.base}/some/page?x=1`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>app</title>');

    expect((await fetch(`${s.base}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${s.base}/.secret`)).status).toBe(404);
    expect((await fetch(`${s.base}/`, { method: 'POST' })).status).toBe(405);
    const head = await fetch(`${s.base}/favicon.svg`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '6']);
  });

  it('never leaves the root', async () => {
    const dir = distDir();
    writeFileSync(join(dir, '..', 'outside.txt'), 'secret');
    const s = await startServer({ staticDir: dir });
    for (const path of [
      '/%2e%2e/outside.txt',
      '/assets/%2e%2e/%2e%2e/outside.txt',
      '/..%2foutside.txt',
      '/%2e%2e%5coutside.txt',
      '/a%00.js',
    ]) {
      const text = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        // Raw request: fetch would normalise the dots away before sending.
        const req = request({ host: '127.0.0.1', port: s.port, path, method: 'GET' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(text.body, path).not.toContain('secret');
    }
    expect(safePath('/srv/dist', '/../etc/passwd')).toBeNull();
    expect(safePath('/srv/dist', '/a/../b.js')).toBe('/srv/dist/b.js');
    expect(safePath('/srv/dist', '/%2e%2e/etc/passwd')).toBeNull();
    expect(safePath('/srv/dist', '/%E0%A4%A')).toBeNull();
    expect(safePath('/srv/dist', '/.git/config')).toBeNull();
    expect(safePath('/srv/dist', '/assets/a.js?v=1')).toBe('/srv/dist/assets/a.js');
  });
});
