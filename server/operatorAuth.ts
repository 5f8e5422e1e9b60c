/**
 * Who may see the operator page. The token never travels in a URL (it would end up in browser
 * history, server and proxy logs and Referer headers): a script sends it as
 * `Authorization: Bearer <token>`, and a person logs in once with the page's form (a JSON POST to
 * /admin/login, which a cross-site form cannot send), answered with an HttpOnly, SameSite=Strict
 * session cookie. Sessions live in memory (bounded), so an admin restart logs everyone out.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const OPERATOR_COOKIE = 'mmo_operator';
/** How long a login lasts. */
export const OPERATOR_SESSION_MS = 12 * 3600_000;
/** Sessions kept at once (the oldest goes first). */
const MAX_SESSIONS = 32;
/** Largest login body read. */
export const MAX_LOGIN_BYTES = 1024;

export class OperatorSessions {
  /** session id -> expiry. */
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly token: string,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Whether `given` is the operator token (constant time). */
  tokenOk(given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A new session for a correct token: the Set-Cookie value; null for a wrong token. */
  login(given: unknown): string | null {
    if (!this.tokenOk(given)) return null;
    const id = randomBytes(32).toString('hex');
    const now = this.now();
    for (const [k, until] of this.sessions) if (until <= now) this.sessions.delete(k);
    while (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    this.sessions.set(id, now + OPERATOR_SESSION_MS);
    return `${OPERATOR_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${OPERATOR_SESSION_MS / 1000}`;
  }

  /** Ends the request's session; the Set-Cookie value that clears it. */
  logout(req: IncomingMessage): string {
    const id = cookieOf(req);
    if (id) this.sessions.delete(id);
    return `${OPERATOR_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /** The request carries the token as a bearer, or a live session cookie. */
  allowed(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && /^Bearer /i.test(auth)) return this.tokenOk(auth.slice(7).trim());
    const id = cookieOf(req);
    const until = id ? this.sessions.get(id) : undefined;
    return until !== undefined && until > this.now();
  }
}

function cookieOf(req: IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header.length > 4096) return null;
  for (const part of header.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === OPERATOR_COOKIE && v && /^[0-9a-f]{64}$/.test(v)) return v;
  }
  return null;
}
