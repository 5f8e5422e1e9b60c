/**
 * Signing and hashing of the protocol's signed records: Timeslots (by their server's key),
 * membership records and system actions (by the admin key). Timeslots, system actions, updates and
 * action contents sign and hash their compact layout behind a byte naming the kind (peerCodec.ts);
 * the rarer membership records and siteInits the UTF-8 of the canonical JSON of a fixed-order
 * array tagged with the kind. Either way a signature over one kind can never pass as another.
 */
import { canonicalJson } from '../game/canonical.js';
import { hashBytes, utf8, type SignatureScheme } from './crypto.js';
import { actionContent, rememberTimeslotContent, sysActionContent, timeslotContent, updateContent } from './peerCodec.js';
import type { Membership, SiteInit, SysActionMessage, Timeslot, UpdateMessage } from './messages.js';

export type TimeslotBody = Omit<Timeslot, 'sig'>;
export type MembershipBody = Omit<Membership, 'sig'>;
export type SysActionBody = Omit<SysActionMessage, 'sig' | 'type'>;
export type SiteInitBody = Omit<SiteInit, 'sig' | 'type'>;

/**
 * Built once per Timeslot object (peerCodec.ts): a Timeslot is not changed once signed or parsed.
 * `stay`: the stay the Timeslot is signed in (the `stay` of the membership records in force).
 */
export function timeslotSigningBytes(t: TimeslotBody, stay: string): Uint8Array {
  return timeslotContent(t, stay);
}

// By the content bytes, which are per Timeslot object and stay: no second map lookup by stay.
const timeslotHashes = new WeakMap<Uint8Array, string>();

/** Hash of a Timeslot's signed content in `stay`: what `prevHash`, heads and cuts refer to (once per object). */
export function timeslotHash(t: TimeslotBody, stay: string): string {
  const bytes = timeslotSigningBytes(t, stay);
  let h = timeslotHashes.get(bytes);
  if (h === undefined) timeslotHashes.set(bytes, (h = hashBytes(bytes)));
  return h;
}

/** Signs a Timeslot body in `stay` (also for cheater injection in the simulator: rewrite, then re-sign). */
export function signTimeslot(body: TimeslotBody, secretKey: string, crypto: SignatureScheme, stay: string): Timeslot {
  const clean: TimeslotBody = {
    site: body.site,
    server: body.server,
    seq: body.seq,
    stamp: body.stamp,
    prevHash: body.prevHash,
    epoch: body.epoch,
    entries: body.entries,
    heads: body.heads,
    update: body.update,
    ...(body.ignoring && body.ignoring.length > 0 ? { ignoring: body.ignoring } : {}),
  };
  const bytes = timeslotSigningBytes(clean, stay);
  const signed = { ...clean, sig: crypto.sign(secretKey, bytes) };
  rememberTimeslotContent(signed, stay, bytes);
  return signed;
}

/** Whether `t` is signed by `publicKey` in `stay`: a Timeslot of another stay is not (FINDINGS 92). */
export function verifyTimeslot(t: Timeslot, publicKey: string, crypto: SignatureScheme, stay: string): boolean {
  return crypto.verify(publicKey, timeslotSigningBytes(t, stay), t.sig);
}

/**
 * Whether two Timeslots of one server, both of `stay`, contradict each other (signatures not
 * checked here: check both in the same `stay`): the same seq with different content, or `b` right
 * after `a` but linked to another `a`. An honest server signs one chain per stay, so either
 * shape, validly signed in one stay, proves equivocation. Seqs start at 1 again in each stay of
 * a server id, so a pair from two stays proves nothing (and fails the signature check).
 */
export function timeslotsConflict(a: Timeslot, b: Timeslot, stay: string): boolean {
  if (a.server !== b.server || a.site !== b.site) return false;
  if (a.seq === b.seq) return timeslotHash(a, stay) !== timeslotHash(b, stay);
  return b.seq === a.seq + 1 && b.prevHash !== timeslotHash(a, stay);
}

/**
 * The identity of one stay of a site at its servers (from a hand-over to the site's return or
 * loss), in every membership record of it. What the hand-over starts from (update seq and hash,
 * the host's start time) and its servers: another hand-over of the site differs at least in
 * time. A server id lasts for its tab's session, so one id can serve a site in two stays.
 */
export function stayHash(h: { site: string; seq: number; prev: string; start: number; servers: ReadonlyArray<{ id: string; key: string }> }): string {
  return hashBytes(utf8(canonicalJson(['stay/1', h.site, h.seq, h.prev, h.start, h.servers.map((s) => [s.id, s.key])])));
}

export function membershipSigningBytes(m: MembershipBody): Uint8Array {
  return utf8(canonicalJson(['membership/2', m.site, m.stay, m.epoch, m.members, m.change]));
}

export function signMembership(body: MembershipBody, secretKey: string, crypto: SignatureScheme): Membership {
  const clean: MembershipBody = { site: body.site, stay: body.stay, epoch: body.epoch, members: body.members, change: body.change };
  return { ...clean, sig: crypto.sign(secretKey, membershipSigningBytes(clean)) };
}

export function verifyMembership(m: Membership, adminKey: string, crypto: SignatureScheme): boolean {
  return crypto.verify(adminKey, membershipSigningBytes(m), m.sig);
}

export function sysActionSigningBytes(a: SysActionBody): Uint8Array {
  return sysActionContent(a);
}

export function signSysAction(body: SysActionBody, secretKey: string, crypto: SignatureScheme): SysActionMessage {
  return {
    type: 'sysAction',
    site: body.site,
    sysNo: body.sysNo,
    actor: body.actor,
    action: body.action,
    sig: crypto.sign(secretKey, sysActionSigningBytes(body)),
  };
}

export function verifySysAction(a: SysActionMessage, adminKey: string, crypto: SignatureScheme): boolean {
  return crypto.verify(adminKey, sysActionSigningBytes(a), a.sig);
}

/** Content hash of a user action: what Timeslot entries name, so servers agree on the content. */
export function actionContentHash(a: { site: string; user: string; actionNo: number; action: unknown }): string {
  return hashBytes(actionContent(a));
}

/** Content hash of a system action (ordered under SYSTEM_ACTOR with number sysNo). */
export function sysActionContentHash(a: SysActionBody): string {
  return hashBytes(sysActionContent(a));
}

/** Hash of an update: all fields but `hash` and `type`. Users count these. */
export function updateHash(u: Omit<UpdateMessage, 'type' | 'hash'>): string {
  return hashBytes(updateContent(u));
}

/** Whether the server in `slot` sends the full update `seq` (N_majority of them do, rotating with seq). */
export function sendsFullUpdate(slot: number, seq: number, nServer: number, nMajority: number): boolean {
  return (((slot + seq) % nServer) + nServer) % nServer < nMajority;
}

export function siteInitSigningBytes(i: SiteInitBody): Uint8Array {
  return utf8(
    canonicalJson(['siteInit/1', i.site, i.membership, i.seq, i.prev, i.start, i.state, i.lastActionNo]),
  );
}

export function signSiteInit(body: SiteInitBody, secretKey: string, crypto: SignatureScheme): SiteInit {
  const clean: SiteInitBody = {
    site: body.site,
    membership: body.membership,
    seq: body.seq,
    prev: body.prev,
    start: body.start,
    state: body.state,
    lastActionNo: body.lastActionNo,
  };
  return { type: 'siteInit', ...clean, sig: crypto.sign(secretKey, siteInitSigningBytes(clean)) };
}

export function verifySiteInit(i: SiteInit, adminKey: string, crypto: SignatureScheme): boolean {
  return crypto.verify(adminKey, siteInitSigningBytes(i), i.sig);
}
