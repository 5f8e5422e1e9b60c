/**
 * HTTP calls to the Administration Server (same origin). Failures become an `ApiError` carrying
 * the server's `ERR_*` code, or `ERR_NETWORK` when no answer came.
 */
import { ERROR_CODES, type ErrorCode } from '../protocol/errors.js';
import type { SessionReply, SiteListing } from '../protocol/messages.js';

export type ApiErrorCode = ErrorCode | 'ERR_NETWORK';

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiOptions {
  /** Base URL; '' for the page's own origin. */
  base?: string;
  fetch?: typeof fetch;
}

export class Api {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ApiOptions = {}) {
    this.base = opts.base ?? '';
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  register(name: string, password: string): Promise<SessionReply> {
    return this.request('POST', '/api/register', { name, password }).then(asSessionReply);
  }

  login(name: string, password: string): Promise<SessionReply> {
    return this.request('POST', '/api/login', { name, password }).then(asSessionReply);
  }

  /** A guest session; `name`, when given, is the name to play under (refused when taken). */
  guest(site?: string, name?: string): Promise<SessionReply> {
    return this.request('POST', '/api/guest', { ...(site ? { site } : {}), ...(name ? { name } : {}) }).then(asSessionReply);
  }

  sites(): Promise<SiteListing[]> {
    return this.request('GET', '/api/sites').then(asSiteListings);
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchFn(this.base + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(
        'ERR_NETWORK',
        `Cannot reach the server (${(e as Error).message ?? 'network error'}).`,
        0,
      );
    }
    let data: unknown = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = data as { error?: unknown; message?: unknown } | null;
      const code =
        err && typeof err.error === 'string' && (ERROR_CODES as readonly string[]).includes(err.error)
          ? (err.error as ErrorCode)
          : 'ERR_INTERNAL';
      const message = err && typeof err.message === 'string' ? err.message : `HTTP ${res.status}`;
      throw new ApiError(code, message, res.status);
    }
    return data;
  }
}

function asSessionReply(data: unknown): SessionReply {
  const d = data as Partial<SessionReply> | null;
  if (!d || typeof d.token !== 'string' || typeof d.user !== 'string') {
    throw new ApiError('ERR_MALFORMED', 'Unexpected answer from the server.', 200);
  }
  return { token: d.token, user: d.user, guest: d.guest === true, expiresAt: Number(d.expiresAt ?? 0) };
}

function asSiteListings(data: unknown): SiteListing[] {
  if (!Array.isArray(data)) throw new ApiError('ERR_MALFORMED', 'Unexpected site list from the server.', 200);
  return data
    .filter(
      (s): s is SiteListing => !!s && typeof s === 'object' && typeof (s as SiteListing).id === 'string',
    )
    .map((s) => ({
      id: s.id,
      name: typeof s.name === 'string' ? s.name : s.id,
      mode: s.mode === 'p2p' ? 'p2p' : 'cs',
      users: typeof s.users === 'number' ? s.users : 0,
    }));
}

/** Human wording for error codes shown on the login page. */
export function describeError(code: string, fallback: string): string {
  switch (code) {
    case 'ERR_BAD_CREDENTIALS':
      return 'Wrong name or password.';
    case 'ERR_NAME_TAKEN':
      return 'That name is taken.';
    case 'ERR_NAME_INVALID':
      return 'Names are 3-16 letters, digits, "_" or "-".';
    case 'ERR_PASSWORD_INVALID':
      return 'Passwords are 6-128 characters.';
    case 'ERR_TOKEN_INVALID':
      return 'Your session is no longer valid. Please log in again.';
    case 'ERR_TOKEN_EXPIRED':
      return 'Your session has expired. Please log in again.';
    case 'ERR_VERSION':
      return 'This page is out of date. Please reload.';
    case 'ERR_LOGGED_IN_ELSEWHERE':
      return 'You logged in somewhere else.';
    case 'ERR_RATE_LIMITED':
      return 'Too many requests. Try again in a moment.';
    case 'ERR_NETWORK':
      return 'Cannot reach the server.';
    case 'ERR_CLOSED':
      return 'Connection to the server was lost.';
    default:
      return fallback || code;
  }
}
