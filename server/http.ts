/**
 * HTTP routes: the JSON API under /api and, for everything else, the client (static files or
 * Vite in dev). Every body is size-capped and parsed by the wire schema; a refusal is a 4xx
 * `{error, message}` plus a log line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../src/protocol/errors.js';
import {
  MAX_HTTP_BODY_BYTES,
  parseCredentials,
  parseGuestRequest,
  type HttpError,
  type ParseResult,
} from '../src/protocol/messages.js';
import type { Accounts, SessionResult } from './accounts.js';
import type { Logger } from './log.js';
import { KeyedRateLimiter, type RateSpec } from './rateLimit.js';
import type { SiteListing } from '../src/protocol/messages.js';

export interface HttpDeps {
  accounts: Accounts;
  /** The site listing (mode and population of every site). */
  listing: () => SiteListing[];
  log: Logger;
  now: () => number;
  /** Requests per IP to the account endpoints (each costs a password hash). */
  authRate: RateSpec;
  /** Guest sessions per IP (no password hash; bots and tests open many). */
  guestRate: RateSpec;
  /** The operator page (/admin, /api/admin); false when the path is not its. */
  operator: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Everything that is not /api. */
  client: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, ip: string) => Promise<void>;

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function createHttpHandler(deps: HttpDeps) {
  const { accounts, listing, log } = deps;
  const authLimiter = new KeyedRateLimiter(deps.authRate);
  const guestLimiter = new KeyedRateLimiter(deps.guestRate);
  const sweep = setInterval(() => {
    authLimiter.sweep(deps.now());
    guestLimiter.sweep(deps.now());
  }, 60_000);
  sweep.unref();

  const limited = (ip: string, limiter = authLimiter): void => {
    if (!limiter.take(ip, deps.now()))
      throw new HttpFailure(429, 'ERR_RATE_LIMITED', 'too many requests; slow down');
  };
  const session = (res: ServerResponse, r: SessionResult): void => {
    if (!r.ok) throw new HttpFailure(r.status, r.code, r.message);
    sendJson(res, 200, r.value);
  };

  const routes: Record<string, Partial<Record<'GET' | 'POST', Handler>>> = {
    '/api/register': {
      POST: async (req, res, ip) => {
        limited(ip);
        const c = parsed(parseCredentials(await readJsonBody(req)));
        const r = await accounts.register(c);
        if (r.ok) log.info('account.register', { user: r.value.user, ip });
        session(res, r);
      },
    },
    '/api/login': {
      POST: async (req, res, ip) => {
        limited(ip);
        const c = parsed(parseCredentials(await readJsonBody(req)));
        const r = await accounts.login(c);
        if (r.ok) log.info('account.login', { user: r.value.user, ip });
        session(res, r);
      },
    },
    '/api/guest': {
      POST: async (req, res, ip) => {
        limited(ip, guestLimiter);
        const g = parsed(parseGuestRequest(await readJsonBody(req)));
        const r = accounts.guest(g);
        if (r.ok) log.info('account.guest', { user: r.value.user, ip });
        session(res, r);
      },
    },
    '/api/sites': { GET: async (_req, res) => sendJson(res, 200, listing()) },
    '/api/health': { GET: async (_req, res) => sendJson(res, 200, { ok: true }) },
  };

  const api = async (req: IncomingMessage, res: ServerResponse, path: string, ip: string): Promise<void> => {
    const route = routes[path];
    if (!route) throw new HttpFailure(404, 'ERR_NOT_FOUND', `no route ${path}`);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const handler = method === 'GET' || method === 'POST' ? route[method] : undefined;
    if (!handler) {
      res.setHeader('Allow', Object.keys(route).join(', '));
      throw new HttpFailure(405, 'ERR_METHOD', `${req.method ?? '?'} not allowed on ${path}`);
    }
    await handler(req, res, ip);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const ip = req.socket.remoteAddress ?? '?';
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (deps.operator(req, res)) return;
    if (path !== '/api' && !path.startsWith('/api/')) {
      res.setHeader('X-Frame-Options', 'DENY');
      await deps.client(req, res);
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    try {
      await api(req, res, path, ip);
    } catch (err) {
      if (err instanceof HttpFailure) {
        log.warn('http.reject', {
          method: req.method,
          path,
          ip,
          status: err.status,
          code: err.code,
          message: err.message,
        });
        if (err.status === 413) res.setHeader('Connection', 'close');
        sendJson(res, err.status, { error: err.code, message: err.message } satisfies HttpError);
      } else {
        log.error('http.internal', { method: req.method, path, ip, err, stack: (err as Error)?.stack });
        sendJson(res, 500, { error: 'ERR_INTERNAL', message: 'internal error' } satisfies HttpError);
      }
    }
  };

  return {
    handle: (req: IncomingMessage, res: ServerResponse): void => {
      handle(req, res).catch((err: unknown) => {
        log.error('http.internal', { url: req.url, err });
        if (!res.headersSent) sendJson(res, 500, { error: 'ERR_INTERNAL', message: 'internal error' });
        else res.destroy();
      });
    },
    close: (): void => clearInterval(sweep),
  };
}

/** Status and code for a request Node's HTTP parser refused, by the parser's error code. */
function clientErrorReply(code: string | undefined): { status: number; code: ErrorCode; text: string } {
  if (code === 'HPE_HEADER_OVERFLOW')
    return { status: 431, code: 'ERR_TOO_LARGE', text: 'Request Header Fields Too Large' };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { status: 408, code: 'ERR_MALFORMED', text: 'Request Timeout' };
  return { status: 400, code: 'ERR_MALFORMED', text: 'Bad Request' };
}

/**
 * For the server's `clientError`: a request Node's parser refused (not HTTP, bad framing, headers
 * too large, too slow) gets a JSON `{error, message}` like every other refusal, and a log line,
 * instead of Node's bare 400.
 */
export function onClientError(log: Logger): (err: Error & { code?: string }, socket: Duplex) => void {
  return (err, socket) => {
    // The peer went away: nothing to answer, nothing worth a line.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const r = clientErrorReply(err.code);
    const ip = (socket as Duplex & { remoteAddress?: string }).remoteAddress ?? '?';
    log.warn('http.reject', {
      ip,
      status: r.status,
      code: r.code,
      parser: err.code ?? '?',
      message: err.message,
    });
    const body = JSON.stringify({
      error: r.code,
      message: `the request could not be parsed (${err.code ?? 'unknown'})`,
    } satisfies HttpError);
    socket.end(
      `HTTP/1.1 ${r.status} ${r.text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

function parsed<T>(r: ParseResult<T>): T {
  if (!r.ok) throw new HttpFailure(r.code === 'ERR_TOO_LARGE' ? 413 : 400, r.code, r.message);
  return r.value;
}

/** Reads at most MAX_HTTP_BODY_BYTES; an empty body is `undefined` (the guest request may be empty). */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_HTTP_BODY_BYTES) throw tooLarge();
  const type = req.headers['content-type'];
  const chunks = await readCapped(req, MAX_HTTP_BODY_BYTES);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  // Only JSON: a cross-site HTML form cannot send it without a CORS preflight.
  if (!type || !/^application\/json\b/i.test(type)) {
    throw new HttpFailure(415, 'ERR_MALFORMED', 'content-type must be application/json');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpFailure(400, 'ERR_MALFORMED', 'body is not JSON');
  }
}

/**
 * Collects the body up to `max` bytes. Past it, the rest is discarded unread rather than the socket
 * destroyed, so the client still gets its 413 (sent with `Connection: close`).
 */
function readCapped(req: IncomingMessage, max: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (b: Buffer): void => {
      size += b.length;
      if (size > max) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(b);
    };
    const onEnd = (): void => resolve(chunks);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

function tooLarge(): HttpFailure {
  return new HttpFailure(413, 'ERR_TOO_LARGE', `body exceeds ${MAX_HTTP_BODY_BYTES} bytes`);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
