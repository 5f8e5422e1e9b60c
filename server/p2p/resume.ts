/**
 * A P2P site the admin took up again after its own restart (its record from storage): its
 * servers and users never stopped playing, and each comes back over its own WebSocket. This
 * keeps who has not yet, and when waiting for them ends: then a user still away is made to leave
 * (its servers give its state back, as for any disconnect) and a server still away is replaced.
 */

import type { CoordinatorRecord } from '../../src/protocol/api.js';
import type { SignatureScheme } from '../../src/protocol/crypto.js';
import { parsePeerMessage, type Membership, type SysActionMessage } from '../../src/protocol/messages.js';
import { verifyMembership, verifySysAction } from '../../src/protocol/signed.js';
import type { Logger } from '../log.js';
import type { StoredP2PSite } from '../storage/types.js';
import { siteConfigFor, type P2POptions } from './settings.js';

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
 * this admin's key for this site, and have been handed to N_server servers (settings changed
 * across the restart would give servers and admin different configs). Fewer slots than that is a
 * site short of servers (a replacement found no candidate: the manager refills it), resumed as it
 * ran (sim/FINDINGS.md 25). Otherwise why not.
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
  // The hand-over's servers (admitted at 0; members are never dropped from the record) are the N_server it ran with.
  const handedTo = m.members.filter((x) => x.stints[0]?.admit === 0).length;
  const slots = m.members.filter((x) => x.slot !== null).length;
  if (handedTo !== o.nServer || slots > o.nServer || m.members.some((x) => x.slot !== null && x.slot >= o.nServer))
    return { why: `handed to ${handedTo} servers, ${slots} slots; N_server is ${o.nServer}` };
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

/** A record not taken up again (logged; the manager drops it): null. */
export function refuse(r: StoredP2PSite, why: string, log: Logger): null {
  log.warn('p2p.resume_refused', { site: r.site, why });
  return null;
}

/**
 * The coordinator record a restarted admin goes on with from `r` (its membership checked, its
 * resends those that check out), or null when the record is refused: it does not check out, its
 * site is no more, or (`running`) the site runs here already.
 */
export function resumableRecord(
  r: StoredP2PSite,
  o: { adminKey: string; crypto: SignatureScheme; options: P2POptions; log: Logger },
  running: boolean,
): CoordinatorRecord | null {
  const checked = checkStoredSite(r, { adminKey: o.adminKey, crypto: o.crypto, nServer: o.options.nServer });
  let known = true;
  try {
    siteConfigFor(o.options, r.site);
  } catch {
    known = false;
  }
  if ('why' in checked) return refuse(r, checked.why, o.log);
  if (!known || running) return refuse(r, 'no such site', o.log);
  const resend = storedResends(r, o);
  const stored = Array.isArray(r.coordinator.resend) ? r.coordinator.resend.length : 0;
  if (resend.length < stored) o.log.warn('p2p.resume_resend_dropped', { site: r.site, stored, kept: resend.length });
  return { ...r.coordinator, membership: checked.membership, resend };
}
