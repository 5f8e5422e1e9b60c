/**
 * The one wire schema. Every message from outside (HTTP body, WebSocket frame, data channel) is
 * parsed here before anything reads it; parse functions never throw, they return a reason.
 */
import { z } from 'zod';
import type { ErrorCode } from './errors.js';
import type { GameEvent, SiteAction, UserState } from '../game/types.js';
import type { SiteView } from '../game/view.js';
import { MAX_SAY_LENGTH } from '../game/text.js';
import { SITE_IDS } from '../game/world.js';

export const PROTOCOL_VERSION = 1;

/** Largest WebSocket frame the admin accepts from a client, in bytes. */
export const MAX_CLIENT_MESSAGE_BYTES = 4096;
/** Largest HTTP body the admin accepts, in bytes. */
export const MAX_HTTP_BODY_BYTES = 2048;

export type Mode = 'cs' | 'p2p';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** Account names: 3-16 letters, digits, '_' or '-'. Guests get `guest-xxxx` names the server picks. */
export const USER_NAME_RE = /^[A-Za-z0-9_-]{3,16}$/;
export const MIN_PASSWORD = 6;
export const MAX_PASSWORD = 128;

export const siteIdSchema = z.string().refine((s) => SITE_IDS.includes(s), 'unknown site');
const userNameSchema = z.string().regex(USER_NAME_RE);
const dirSchema = z.enum(['up', 'down', 'left', 'right']);

export const playerActionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('move'), dir: dirSchema }),
  z.strictObject({ kind: z.literal('pickup') }),
  z.strictObject({ kind: z.literal('say'), text: z.string().min(1).max(MAX_SAY_LENGTH * 4) }),
  z.strictObject({ kind: z.literal('portal') }),
]);

/** Action numbers start at 1 per user and only grow; they identify an action across resends. */
export const actionNoSchema = z.int().min(1).max(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------------------------------------
// HTTP: accounts
// ---------------------------------------------------------------------------------------------

const credentialsSchema = z.strictObject({
  name: z.string().max(64),
  password: z.string().max(1024),
});
export type Credentials = z.infer<typeof credentialsSchema>;

const guestSchema = z.strictObject({ site: z.string().max(64).optional() });
export type GuestRequest = z.infer<typeof guestSchema>;

/** Answer to register, login and guest: the token authenticates the WebSocket `hello`. */
export interface SessionReply {
  token: string;
  user: string;
  guest: boolean;
  expiresAt: number;
}

export interface SiteListing {
  id: string;
  name: string;
  mode: Mode;
  users: number;
}

export interface HttpError {
  error: ErrorCode;
  message: string;
}

export function parseCredentials(body: unknown): ParseResult<Credentials> {
  return fromZod(credentialsSchema.safeParse(body));
}

export function parseGuestRequest(body: unknown): ParseResult<GuestRequest> {
  return fromZod(guestSchema.safeParse(body ?? {}));
}

// ---------------------------------------------------------------------------------------------
// WebSocket: client -> Administration Server
// ---------------------------------------------------------------------------------------------

const clientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('hello'), v: z.int(), token: z.string().min(1).max(128) }),
  z.strictObject({ type: z.literal('action'), actionNo: actionNoSchema, action: playerActionSchema }),
  /** Round trip and clock sync: the server answers with its clock. */
  z.strictObject({ type: z.literal('ping'), id: z.int().min(0), t: z.number().finite() }),
  z.strictObject({ type: z.literal('logout') }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export const CLIENT_MESSAGE_TYPES: ReadonlyArray<ClientMessage['type']> = ['hello', 'action', 'ping', 'logout'];

/** Parses one WebSocket frame from a client. Never throws. */
export function parseClientMessage(raw: string | Uint8Array): ParseResult<ClientMessage> {
  const size = typeof raw === 'string' ? utf8Length(raw) : raw.byteLength;
  if (size > MAX_CLIENT_MESSAGE_BYTES) {
    return { ok: false, code: 'ERR_TOO_LARGE', message: `message of ${size} bytes exceeds ${MAX_CLIENT_MESSAGE_BYTES}` };
  }
  if (typeof raw !== 'string') return { ok: false, code: 'ERR_MALFORMED', message: 'expected a text frame' };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'ERR_MALFORMED', message: 'not JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'ERR_MALFORMED', message: 'expected a JSON object' };
  }
  const type = (data as { type?: unknown }).type;
  if (typeof type !== 'string' || !(CLIENT_MESSAGE_TYPES as readonly string[]).includes(type)) {
    return { ok: false, code: 'ERR_UNKNOWN_TYPE', message: `unknown message type ${JSON.stringify(type)?.slice(0, 40)}` };
  }
  return fromZod(clientMessageSchema.safeParse(data));
}

// ---------------------------------------------------------------------------------------------
// WebSocket: Administration Server -> client (trusted direction; typed, not parsed)
// ---------------------------------------------------------------------------------------------

/** One accepted step of a site: what the actions applied in it changed. */
export interface SiteUpdate {
  site: string;
  seq: number;
  /** (user, actionNo) of every action applied in this step, in order; users learn what was applied. */
  applied: Array<{ user: string; actionNo: number }>;
  events: GameEvent[];
}

export type ServerMessage =
  | { type: 'welcome'; v: number; user: string; guest: boolean; serverTime: number }
  /** The user is now on `site`; `view` is its state as of update `seq`. Sent on login and after each site change. */
  | { type: 'enter'; site: string; mode: Mode; seq: number; view: SiteView; lastActionNo: number; servers: string[] }
  | ({ type: 'update' } & SiteUpdate)
  | { type: 'pong'; id: number; t: number; serverTime: number }
  | { type: 'error'; code: ErrorCode; message: string; ref?: string }
  | { type: 'bye'; reason: ErrorCode | 'logout' };

export type { GameEvent, SiteAction, SiteView, UserState };

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function fromZod<T>(r: { success: true; data: T } | { success: false; error: z.ZodError }): ParseResult<T> {
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return { ok: false, code: 'ERR_MALFORMED', message: `${where}${issue?.message ?? 'invalid'}` };
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export function isValidUserName(name: string): boolean {
  return userNameSchema.safeParse(name).success;
}
