/**
 * The operator token never travels in a URL (issue 17, finding 6): scripts send it as a bearer
 * header; a person logs in once with the page's form and gets an HttpOnly, SameSite=Strict
 * session cookie. Wrong tokens, tokens in the URL, form posts and floods are refused with a code.
 */
import { describe, expect, it } from 'vitest';
import { OPERATOR_COOKIE } from './operatorAuth.js';
import { startServer } from './testkit.js';

const TOKEN = 'operator-token-of-32-characters!';

describe('operator login', () => {
  it('logs in with the token in a JSON body, answers with an HttpOnly SameSite=Strict cookie, and the page works with it', async () => {
    const s = await startServer({ adminToken: TOKEN });
    const form = await fetch(`${s.base}/admin`);
    expect(form.status).toBe(403);
    const html = await form.text();
    expect(html).toContain('type="password"');
    expect(html).not.toContain(TOKEN);
    const r = await fetch(`${s.base}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
    expect(r.status).toBe(200);
    const cookie = r.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(new RegExp(`^${OPERATOR_COOKIE}=[0-9a-f]{64}; `));
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const session = cookie.split(';')[0] ?? '';
    const view = await fetch(`${s.base}/api/admin`, { headers: { cookie: session } });
    expect(view.status).toBe(200);
    expect(((await view.json()) as { suspects: unknown[] }).suspects).toEqual([]);
    expect((await fetch(`${s.base}/admin`, { headers: { cookie: session } })).status).toBe(200);
    // A made-up session is nobody's.
    expect((await fetch(`${s.base}/api/admin`, { headers: { cookie: `${OPERATOR_COOKIE}=${'ab'.repeat(32)}` } })).status).toBe(403);
    // Logging out ends the session.
    const out = await fetch(`${s.base}/admin/logout`, { method: 'POST', headers: { cookie: session }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect((await fetch(`${s.base}/api/admin`, { headers: { cookie: session } })).status).toBe(403);
  });

  it('refuses a wrong token, the token in the URL, a form post, a large body and a flood of tries, each with its code', async () => {
    const s = await startServer({ adminToken: TOKEN });
    const post = (body: string, type = 'application/json'): Promise<Response> =>
      fetch(`${s.base}/admin/login`, { method: 'POST', headers: { 'content-type': type }, body });
    const code = async (r: Response): Promise<[number, string]> => [r.status, ((await r.json()) as { error: string }).error];
    expect(await code(await post(JSON.stringify({ token: 'x'.repeat(32) })))).toEqual([403, 'ERR_FORBIDDEN']);
    expect(await code(await post(`token=${TOKEN}`, 'application/x-www-form-urlencoded'))).toEqual([415, 'ERR_MALFORMED']);
    expect(await code(await post(JSON.stringify({ token: 'x'.repeat(5000) })))).toEqual([413, 'ERR_TOO_LARGE']);
    expect(await code(await fetch(`${s.base}/api/admin?token=${TOKEN}`))).toEqual([403, 'ERR_FORBIDDEN']);
    expect(await code(await fetch(`${s.base}/admin/login`))).toEqual([405, 'ERR_METHOD']);
    let limited = false;
    for (let i = 0; i < 20 && !limited; i++) limited = (await post(JSON.stringify({ token: 'y' }))).status === 429;
    expect(limited).toBe(true);
    expect(s.logs.some((l) => l.includes('ERR_FORBIDDEN'))).toBe(true);
    // The bearer header still works for scripts.
    expect((await fetch(`${s.base}/api/admin`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${s.base}/api/admin`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(403);
  });
});
