/**
 * Accounts and sessions: register, login, guest, and resolving the bearer token a WebSocket `hello`
 * carries. Validation beyond the wire schema (name rule, password length) lives here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DEFAULT_SITE, isSiteId, newUser } from '../src/game/index.js';
import type { ErrorCode } from '../src/protocol/errors.js';
import {
  isReservedName,
  MAX_PASSWORD,
  MIN_PASSWORD,
  USER_NAME_RE,
  type Credentials,
  type GuestRequest,
  type SessionReply,
} from '../src/protocol/messages.js';
import { DEFAULT_SCRYPT, hashPassword, verifyPassword } from './password.js';
import type { ScryptParams, Storage } from './storage/types.js';

export interface AccountsOptions {
  now: () => number;
  sessionTtlMs: number;
  scrypt?: ScryptParams;
  /**
   * Whether the game still holds `name` (online, or its state on its way back from a P2P site):
   * such a guest name is not free even when its session has ended.
   */
  inGame?: (name: string) => boolean;
}

export interface Failure {
  ok: false;
  status: number;
  code: ErrorCode;
  message: string;
}
export type SessionResult = { ok: true; value: SessionReply } | Failure;
export type TokenResult =
  { ok: true; user: string; guest: boolean } | { ok: false; code: ErrorCode; message: string };

const GUEST_PREFIX_RE = /^guest-/i;
const BAD_CREDENTIALS = 'wrong name or password';
const NAME_RULE = 'names are 3-16 letters, digits, "_" or "-" and may not start with "guest-"';

const fail = (status: number, code: ErrorCode, message: string): Failure => ({
  ok: false,
  status,
  code,
  message,
});

/** Why `name` may not be chosen by a player (register, guest), or null. */
function nameRefusal(name: string): Failure | null {
  if (!USER_NAME_RE.test(name) || GUEST_PREFIX_RE.test(name)) return fail(400, 'ERR_NAME_INVALID', NAME_RULE);
  if (isReservedName(name)) return fail(400, 'ERR_NAME_RESERVED', `${name} is reserved`);
  return null;
}

const reservedFailure = (name: string): Failure => fail(403, 'ERR_NAME_RESERVED', `${name} is reserved`);

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class Accounts {
  private readonly scryptParams: ScryptParams;
  /** Hash checked when the name is unknown, so a login takes as long whether or not the account exists. */
  private dummy: Promise<{ salt: string; hash: string; params: ScryptParams }> | null = null;

  constructor(
    private readonly storage: Storage,
    private readonly opts: AccountsOptions,
  ) {
    this.scryptParams = opts.scrypt ?? DEFAULT_SCRYPT;
  }

  async register(c: Credentials): Promise<SessionResult> {
    const refused = nameRefusal(c.name);
    if (refused) return refused;
    const length = Array.from(c.password).length;
    if (length < MIN_PASSWORD || length > MAX_PASSWORD) {
      return fail(400, 'ERR_PASSWORD_INVALID', `passwords are ${MIN_PASSWORD}-${MAX_PASSWORD} characters`);
    }
    // Cheap early answer; the insert below is what settles a race between two registrations. A
    // guest playing under the name holds it too.
    if (!this.nameFree(c.name)) return fail(409, 'ERR_NAME_TAKEN', 'that name is taken');
    const h = await hashPassword(c.password, this.scryptParams);
    // Checked again with no await before the insert: a guest may have taken it meanwhile.
    if (!this.nameFree(c.name)) return fail(409, 'ERR_NAME_TAKEN', 'that name is taken');
    // A guest that played under this name before is gone: the account starts fresh (its stored
    // state is deleted with the account's creation, in one transaction).
    const created = this.storage.createAccount({ name: c.name, ...h, created: this.opts.now() });
    if (!created) return fail(409, 'ERR_NAME_TAKEN', 'that name is taken');
    return { ok: true, value: this.openSession(c.name, false) };
  }

  async login(c: Credentials): Promise<SessionResult> {
    // An account under a protocol identity (from a database older than the rule) never plays.
    if (isReservedName(c.name)) return reservedFailure(c.name);
    const account = this.storage.getAccount(c.name);
    if (!account) {
      this.dummy ??= hashPassword('not a password', this.scryptParams);
      await verifyPassword(c.password, await this.dummy);
      return fail(401, 'ERR_BAD_CREDENTIALS', BAD_CREDENTIALS);
    }
    if (!(await verifyPassword(c.password, account)))
      return fail(401, 'ERR_BAD_CREDENTIALS', BAD_CREDENTIALS);
    return { ok: true, value: this.openSession(account.name, false) };
  }

  /**
   * A name is free when no account has it, no live session uses it and the game does not hold
   * it. A guest's name is free again once it logged out or its session ended.
   */
  private nameFree(name: string): boolean {
    if (this.storage.getAccount(name)) return false;
    if (this.storage.hasLiveSession(name, this.opts.now())) return false;
    // Only accounts store non-guest states, so what is left in storage is an ended guest's.
    return !this.opts.inGame?.(name);
  }

  /**
   * A guest plays under the name it typed when that name is free (no account, nobody online or
   * stored under it), else under a fresh random `guest-` name; it starts on the site it chose.
   */
  guest(req: GuestRequest): SessionResult {
    const site = req.site ?? DEFAULT_SITE;
    if (!isSiteId(site)) return fail(400, 'ERR_SITE_UNKNOWN', 'no such site');
    let name = '';
    if (req.name !== undefined && req.name !== '') {
      const refused = nameRefusal(req.name);
      if (refused) return refused;
      if (!this.nameFree(req.name)) return fail(409, 'ERR_NAME_TAKEN', 'that name is taken');
      name = req.name;
    }
    for (let i = 0; name === ''; i++) {
      if (i >= 20) return fail(500, 'ERR_INTERNAL', 'could not pick a guest name');
      const pick = `guest-${randomBytes(4).toString('hex')}`;
      if (!this.storage.isNameUsed(pick)) name = pick;
    }
    const reply = this.openSession(name, true);
    // The stored state is what `hello` restores, so the chosen site needs no extra bookkeeping.
    this.storage.saveBatch(
      { users: [{ name, guest: true, state: newUser(name, site), lastActionNo: 0 }], sites: [] },
      this.opts.now(),
    );
    return { ok: true, value: reply };
  }

  resolve(token: string): TokenResult {
    const s = this.storage.getSession(hashToken(token));
    if (!s) return { ok: false, code: 'ERR_TOKEN_INVALID', message: 'unknown session; log in again' };
    if (s.expiresAt <= this.opts.now())
      return { ok: false, code: 'ERR_TOKEN_EXPIRED', message: 'session expired; log in again' };
    if (isReservedName(s.user)) return { ok: false, code: 'ERR_NAME_RESERVED', message: `${s.user} is reserved` };
    return { ok: true, user: s.user, guest: s.guest };
  }

  endSession(token: string): void {
    this.storage.deleteSession(hashToken(token));
  }

  private openSession(user: string, guest: boolean): SessionReply {
    const token = randomBytes(32).toString('hex');
    const expiresAt = this.opts.now() + this.opts.sessionTtlMs;
    this.storage.putSession({ tokenHash: hashToken(token), user, guest, expiresAt });
    return { token, user, guest, expiresAt };
  }
}
