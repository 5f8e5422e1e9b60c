/**
 * A P2P site the admin took up again after its own restart (its record from storage): its
 * servers and users never stopped playing, and each comes back over its own WebSocket. This
 * keeps who has not yet, and when waiting for them ends: then a user still away is made to leave
 * (its servers give its state back, as for any disconnect) and a server still away is replaced.
 */

import type { SignatureScheme } from '../../src/protocol/crypto.js';
import { parsePeerMessage, type Membership, type SysActionMessage } from '../../src/protocol/messages.js';
import { verifyMembership, verifySysAction } from '../../src/protocol/signed.js';
import type { StoredP2PSite } from '../storage/types.js';

/** How long after the restart the site waits for its servers and users to reconnect. */
export const RESUME_GRACE_MS = 30_000;
/** A record holds one system action per actor still sent again: far fewer than this. */
const MAX_STORED_RESENDS = 1000;

export class ResumeWait {
  private readonly users: Set<string>;
  private readonly servers: Set<string>;
  /** When waiting ends (null once it has). */
  endsAt: number | null;

  constructor(users: Iterable<string>, servers: Iterable<string>, now: number, graceMs = RESUME_GRACE_MS) {
    this.users = new Set(users);
    this.servers = new Set(servers);
    this.endsAt = this.users.size + this.servers.size > 0 ? now + graceMs : null;
  }

  /** A user reconnected; whether it was one the site waited for (it is still a user there). */
  userBack(user: string): boolean {
    return this.endsAt !== null && this.users.delete(user);
  }

  /** A server reconnected with its key; whether it was one the site waited for. */
  serverBack(id: string): boolean {
    return this.endsAt !== null && this.servers.delete(id);
  }

  waitingFor(): { users: string[]; servers: string[] } {
    return { users: [...this.users], servers: [...this.servers] };
  }

  /** At or after `endsAt`: who never came back (once; waiting is over after this). */
  end(now: number): { users: string[]; servers: string[] } | null {
    if (this.endsAt === null || now < this.endsAt) return null;
    this.endsAt = null;
    const gone = this.waitingFor();
    this.users.clear();
    this.servers.clear();
    return gone;
  }
}

/**
 * Whether a stored record may be resumed: its membership must parse as the wire's, be signed by
 * this admin's key for this site, and have run with N_server slots (settings changed across the
 * restart would give servers and admin different configs); a slot may be empty, waiting for a
 * refill (a record without `nServer`, older, must fill them all). Otherwise why not.
 */
export function checkStoredSite(
  r: StoredP2PSite,
  o: { adminKey: string; crypto: SignatureScheme; nServer: number },
): { membership: Membership } | { why: string } {
  const parsed = parsePeerMessage({ ...(r.coordinator.membership as object), type: 'membership' });
  if (!parsed.ok || parsed.value.type !== 'membership') return { why: `membership: ${parsed.ok ? 'not a record' : parsed.message}` };
  const { type: _t, ...m } = parsed.value;
  void _t;
  if (m.site !== r.site || !verifyMembership(m, o.adminKey, o.crypto)) return { why: 'membership not signed by this admin for this site' };
  const slotted = m.members.filter((x) => x.slot !== null);
  const slots = slotted.length;
  if ((r.nServer ?? slots) !== o.nServer || slotted.some((x) => x.slot! >= o.nServer))
    return { why: `${slots} slots, N_server is ${o.nServer}` };
  return { membership: m };
}

/** Stored system actions still to send again a restarted admin may keep: those that parse as the wire's, for this site, signed by this admin's key. */
export function storedResends(
  r: StoredP2PSite,
  o: { adminKey: string; crypto: SignatureScheme },
): Array<{ msg: SysActionMessage; firstAt: number }> {
  const out: Array<{ msg: SysActionMessage; firstAt: number }> = [];
  const list: unknown = r.coordinator.resend;
  if (!Array.isArray(list)) return out;
  for (const x of list.slice(0, MAX_STORED_RESENDS) as unknown[]) {
    const e = x as { msg?: unknown; firstAt?: unknown } | null;
    if (!e || typeof e.firstAt !== 'number' || !Number.isFinite(e.firstAt)) continue;
    const parsed = parsePeerMessage({ ...(e.msg as object), type: 'sysAction' });
    if (!parsed.ok || parsed.value.type !== 'sysAction') continue;
    if (parsed.value.site !== r.site || !verifySysAction(parsed.value, o.adminKey, o.crypto)) continue;
    out.push({ msg: parsed.value, firstAt: e.firstAt });
  }
  return out;
}
