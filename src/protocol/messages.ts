/**
 * The one wire schema. Every message from outside (HTTP body, WebSocket frame, data channel) is
 * parsed here before anything reads it; parse functions never throw, they return a reason.
 */
import { z } from 'zod';
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import type { ErrorCode } from './errors.js';
import { TAG_MSGPACK } from './codec.js';
import { decodeCompact, encodeCompact, isCompactTag } from './peerCodec.js';
import { markParsed } from './parsed.js';
import { checkCompact } from './compactCheck.js';
import type { GameEvent, SiteAction, UserState } from '../game/types.js';
import type { SiteView } from '../game/view.js';
import { MAX_SAY_LENGTH } from '../game/text.js';
import { SITE_IDS } from '../game/world.js';

/**
 * 5: hot peer messages in the compact layout of peerCodec.ts, which their signatures and hashes
 * cover. 6: bundles (several frames in one data-channel frame, TAG_BUNDLE). 7: a membership
 * record's cut carries its Timeslot's stamp and epoch. 8: a membership record names its stay,
 * which a Timeslot's signature and hash cover (not sent with it).
 */
export const PROTOCOL_VERSION = 8;

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

/** `name`: the name the guest typed; it plays under it when it is free (else the request fails). */
const guestSchema = z.strictObject({ site: z.string().max(64).optional(), name: z.string().max(64).optional() });
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

/**
 * Signaling ends: a user name (as user of a site) or a server id (`name~xxxx`, as Site Server).
 * The admin stamps `from` itself; a client can only name the end it owns.
 */
export const ENDPOINT_RE = /^[A-Za-z0-9_-]{3,16}(?:~[0-9a-f]{4,16})?$/;
const endpointSchema = z.string().regex(ENDPOINT_RE);
/** What simple-peer emits as `signal` for a data-channel-only link (trickle ICE). */
export const signalDataSchema = z.union([
  z.strictObject({ type: z.enum(['offer', 'answer']), sdp: z.string().min(1).max(3000) }),
  z.strictObject({
    type: z.literal('candidate'),
    candidate: z.strictObject({
      candidate: z.string().max(512),
      sdpMLineIndex: z.int().min(0).max(64).nullable().optional(),
      sdpMid: z.string().max(32).nullable().optional(),
      usernameFragment: z.string().max(64).nullable().optional(),
    }),
  }),
]);
export type SignalData = z.infer<typeof signalDataSchema>;
/** Raw bytes of a peer message per `peer` envelope chunk (base64 keeps a chunk under MAX_CLIENT_MESSAGE_BYTES). */
export const PEER_CHUNK_BYTES = 2048;
/** Chunks per peer message at most: PEER_CHUNK_BYTES * this = MAX_PEER_MESSAGE_BYTES. */
export const MAX_PEER_CHUNKS = 128;
const base64Schema = z.string().max(Math.ceil(PEER_CHUNK_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/);
/** Which of its two roles a tab speaks in: as the Site Server it runs, or as a user of its site. */
const roleSchema = z.enum(['server', 'user']);
export type PeerRole = z.infer<typeof roleSchema>;
const peerChunkFields = {
  site: siteIdSchema,
  /** Sender's number for this message (chunks of one message share it). */
  id: z.int().min(0).max(0x7fffffff),
  index: z.int().min(0).max(MAX_PEER_CHUNKS - 1),
  count: z.int().min(1).max(MAX_PEER_CHUNKS),
  data: base64Schema,
};
const hex = (bytes: number): z.ZodString => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));

const clientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('hello'), v: z.int(), token: z.string().min(1).max(128) }),
  z.strictObject({ type: z.literal('action'), actionNo: actionNoSchema, action: playerActionSchema }),
  /** Round trip and clock sync: the server answers with its clock. */
  z.strictObject({ type: z.literal('ping'), id: z.int().min(0), t: z.number().finite() }),
  z.strictObject({ type: z.literal('logout') }),
  /** This tab's session key (ed25519 public key) and its signature over keyProofBytes(challenge, user, key). */
  z.strictObject({ type: z.literal('key'), key: hex(32), sig: hex(64) }),
  /** The player's setting: may this tab serve sites? */
  z.strictObject({ type: z.literal('prefs'), serve: z.boolean() }),
  /** WebRTC signaling for a link from one of this tab's ends (`from`) to an assigned peer's end. */
  z.strictObject({ type: z.literal('signal'), from: endpointSchema, to: endpointSchema, data: signalDataSchema }),
  /** One chunk of a binary peer message for the site's coordinator, spoken as `as`. */
  z.strictObject({ type: z.literal('peer'), as: roleSchema, ...peerChunkFields }),
  /** This tab could not open a channel to an assigned peer in time. */
  z.strictObject({ type: z.literal('linkFailed'), site: siteIdSchema, as: roleSchema, peer: endpointSchema }),
  /** A serving tab's measurements, every SERVER_STATS_EVERY_MS (operator page; the admin's probe of it). */
  z.strictObject({
    type: z.literal('serverStats'),
    site: siteIdSchema,
    status: z.enum(['starting', 'waiting', 'running', 'syncing', 'evicted']),
    offset: z.number().finite().nullable(),
    lag: z.number().finite().nullable(),
    timeslotSeq: z.int().min(0),
    trmSent: z.int().min(0),
    trmReceived: z.int().min(0),
    bytesInPerSec: z.number().finite().min(0),
    bytesOutPerSec: z.number().finite().min(0),
    links: z.int().min(0).max(1000),
    /** The server's synced clock when it sent this (admin epoch ms): the operator page compares it with the admin's. */
    clock: z.number().finite().optional(),
    /** Mean and max ms from a user's action reaching this server to its update leaving, since the last stats. */
    actionDelayMs: z.number().finite().min(0).max(3_600_000).optional(),
    actionDelayMaxMs: z.number().finite().min(0).max(3_600_000).optional(),
  }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export const CLIENT_MESSAGE_TYPES: ReadonlyArray<ClientMessage['type']> = [
  'hello',
  'action',
  'ping',
  'logout',
  'key',
  'prefs',
  'signal',
  'peer',
  'linkFailed',
  'serverStats',
];

/**
 * A serving tab sends `serverStats` this often. Every frame wakes the admin: at 2 s they were a
 * third of its frames in a P2P run (bench/live/adminload.ts); the admin's freshness window for
 * them (server/p2p/unreachable.ts STATS_FRESH_MS) follows.
 */
export const SERVER_STATS_EVERY_MS = 5000;

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

/** P2P settings every peer gets at login: the site configuration without its site id, and the threshold. */
export interface P2PSettings {
  /** SiteConfig fields shared by every site (`parseSiteConfig({ site, ...config })`). */
  config: Record<string, number>;
  /** Users on a site at which the admin hands it to Site Servers. */
  transferThreshold: number;
  /** A data channel to an assigned peer not open this long is reported (`linkFailed`). */
  linkTimeoutMs: number;
  /** The admin runs with MMO_ALLOW_CHEAT_MODES=1 (tests only): `?cheat=` and `--cheat` take effect. */
  cheatModes?: boolean;
}

/** RTCIceServer as configured by MMO_ICE_SERVERS. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type ServerMessage =
  | {
      type: 'welcome';
      v: number;
      user: string;
      guest: boolean;
      serverTime: number;
      /** The admin's ed25519 public key (membership records, system actions, siteInit). */
      adminKey: string;
      /** Sign keyProofBytes(challenge, user, key) with this tab's session key and send `key`. */
      challenge: string;
      p2p: P2PSettings;
      iceServers: IceServer[];
    }
  /**
   * The user is now on `site`; `view` is its state as of update `seq`. Sent on login and after
   * each site change. P2P: `servers` serve it; `hash` is update `seq`'s hash, and both `view` and
   * `hash` are null when the user enters a running P2P site (it takes the state from the servers).
   * `resumed`: after an admin restart, the user is still a user of this running P2P site (its
   * servers never let it go): the tab keeps playing it as it was, without entering again.
   */
  | {
      type: 'enter';
      site: string;
      mode: Mode;
      seq: number;
      view: SiteView | null;
      hash: string | null;
      lastActionNo: number;
      servers: string[];
      resumed?: boolean;
    }
  | ({ type: 'update' } & SiteUpdate)
  | { type: 'pong'; id: number; t: number; serverTime: number }
  | { type: 'error'; code: ErrorCode; message: string; ref?: string }
  | { type: 'bye'; reason: ErrorCode | 'logout' }
  /** The key is registered: this tab may be chosen as Site Server under `serverId`. */
  | { type: 'keyOk'; serverId: string }
  | { type: 'signal'; from: string; to: string; data: SignalData }
  /** One chunk of a binary peer message from the site's coordinator to this tab's `to` role. */
  | { type: 'peer'; to: PeerRole; site: string; id: number; index: number; count: number; data: string }
  /**
   * Serve `site` as `serverId` (a siteInit or a membership record follows as peer messages).
   * `stateFrom`: take the state from this server first (its player walked in and hands it over).
   */
  | { type: 'serve'; site: string; serverId: string; stateFrom?: string }
  /** Stop serving `site`; `handOff`: keep answering state requests a while (the replacement asks). */
  | { type: 'serveEnd'; site: string; reason: string; handOff?: boolean }
  /**
   * The user's site moved to its Site Servers at update `seq` (hash `hash`): actions above
   * `lastActionNo` were not applied by the admin and go to `servers` from now on.
   */
  | { type: 'handOver'; site: string; servers: string[]; seq: number; hash: string; lastActionNo: number }
  /**
   * How the user's site is hosted: `blocked` says why it is not P2P (null when it is, or below
   * the threshold); `closing`: it is going back to the admin, hold actions until `enter`.
   */
  | { type: 'siteStatus'; site: string; mode: Mode; blocked: string | null; closing: boolean };

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

// =============================================================================================
// Peer section: Site Server protocol (paper 4.3, 4.4; docs/protocol.md). Every message between
// Site Servers, users of a P2P site and the admin's site coordinator. Binary (MessagePack) on the
// wire, parsed here by `decodePeerMessage`, which never throws.
// =============================================================================================

/** Largest encoded peer message accepted, in bytes (a state chunk is at most STATE_CHUNK_BYTES). */
export const MAX_PEER_MESSAGE_BYTES = 256 * 1024;
/** Payload bytes per state-transfer chunk. */
export const STATE_CHUNK_BYTES = 48 * 1024;
/**
 * Most chunks of one state transfer (6 MiB): what a receiver buffers before it can check the
 * hash. A site's ordering state is a few KiB to a few hundred KiB.
 */
export const MAX_TRANSFER_CHUNKS = 128;
/** Largest state transfer, in bytes. */
export const MAX_TRANSFER_BYTES = MAX_TRANSFER_CHUNKS * STATE_CHUNK_BYTES;
/** Most timeslots one TimeslotRequest may ask for / one reply may carry. */
export const MAX_TIMESLOTS_PER_REPLY = 64;
/** Actor name under which admin-issued system actions (join, leave) are numbered and ordered. */
export const SYSTEM_ACTOR = '@admin';
/** Peer id of the Administration Server (the coordinator) in `send`/`receive`. */
export const ADMIN_ID = 'admin';
/**
 * Fixed protocol identities. Player names share the peer id namespace (a user's frames are
 * labelled with its name), so no player may be called like one of these, in any case.
 */
export const RESERVED_PEER_IDS: readonly string[] = [ADMIN_ID, SYSTEM_ACTOR];

/** Whether `name` is (case-insensitively) a fixed protocol identity. */
export function isReservedName(name: string): boolean {
  const n = name.toLowerCase();
  return RESERVED_PEER_IDS.some((id) => id.toLowerCase() === n);
}

const MAX_ID = 64;
const hexHash = z.string().regex(/^[0-9a-f]{32}$/);
const hexSig = z.string().regex(/^[0-9a-f]{2,256}$/);
const hexKey = z.string().regex(/^[0-9a-f]{2,256}$/);
const peerId = z.string().min(1).max(MAX_ID);
const siteRef = z.string().min(1).max(MAX_ID);
const seqNo = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
/**
 * On a server's request or reply to another server: the latest membership epoch the sender has
 * applied. A receiver whose records do not name the sender yet learns that a newer record exists
 * and asks for it, instead of refusing the sender as a stranger. Absent from users and the admin.
 */
const senderEpoch = seqNo.optional();
const time = z.number().finite();
const shortString = z.string().max(MAX_ID);

const itemSchema = z.strictObject({ id: shortString, kind: shortString, x: z.int(), y: z.int() });
const carriedSchema = z.strictObject({ id: shortString, kind: shortString });
export const userStateSchema = z.strictObject({
  name: peerId,
  site: siteRef,
  x: z.int(),
  y: z.int(),
  inventory: z.array(carriedSchema).max(1000),
});
const siteStateSchema = z.strictObject({
  site: siteRef,
  step: z.int().min(0),
  rng: z.int().min(0).max(0xffffffff),
  nextItemNo: z.int().min(0),
  items: z.array(itemSchema).max(1000),
  respawnAt: z.array(z.int()).max(1000),
});
export const siteSnapshotSchema = z.strictObject({
  site: siteStateSchema,
  users: z.array(userStateSchema).max(1000),
});
const actionKind = z.enum(['move', 'pickup', 'say', 'portal', 'join', 'leave']);
export const gameEventSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('moved'), user: peerId, x: z.int(), y: z.int() }),
  z.strictObject({
    kind: z.literal('rejected'),
    user: peerId,
    action: actionKind,
    reason: z.enum(['wall', 'no-item', 'no-portal', 'not-here', 'already-here', 'empty-text']),
  }),
  z.strictObject({ kind: z.literal('picked'), user: peerId, item: itemSchema }),
  z.strictObject({ kind: z.literal('spawned'), item: itemSchema }),
  z.strictObject({ kind: z.literal('said'), user: peerId, text: z.string().max(MAX_SAY_LENGTH * 4) }),
  z.strictObject({ kind: z.literal('joined'), user: userStateSchema }),
  z.strictObject({ kind: z.literal('left'), user: userStateSchema, via: z.enum(['portal', 'logout']) }),
]);
const systemActionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('join'), user: userStateSchema }),
  z.strictObject({ kind: z.literal('leave') }),
]);

/** (user, actionNo, arrival, content hash): one action a server received since its last Timeslot. */
const entrySchema = z.tuple([peerId, actionNoSchema, time, hexHash]);
/** (server, seq, hash): the latest Timeslot of `server` the sender holds (cross-check, stability). */
const headSchema = z.tuple([peerId, seqNo.min(1), hexHash]);

const timeslotFields = {
  site: siteRef,
  server: peerId,
  /** Per-server number, 1, 2, 3, ... */
  seq: seqNo.min(1),
  /** Sender's synced clock when it sent this; strictly above the previous stamp. */
  stamp: time,
  /** Hash of the sender's previous Timeslot (ZERO_HASH for seq 1): a hash chain. */
  prevHash: hexHash,
  /** Latest membership epoch the sender has applied (marks admissions, see docs/protocol.md). */
  epoch: seqNo,
  entries: z.array(entrySchema).max(4096),
  heads: z.array(headSchema).max(256),
  /** The sender's latest update: (seq, hash); lets peers notice a server out of step. */
  update: z.tuple([seqNo, hexHash]).nullable(),
  /** Servers the sender asked the admin to ignore: their heads are held back on purpose (not lag). */
  ignoring: z.array(peerId).max(64).optional(),
  /** Signature by the sender's registered key over timeslotSigningBytes(): the body in the stay of the records in force. */
  sig: hexSig,
};
const timeslotSchema = z.strictObject(timeslotFields);
const updateFields = {
  site: siteRef,
  seq: seqNo.min(1),
  /** Hash of update seq - 1 (or the hand-over hash): users apply strictly in order. */
  prev: hexHash,
  /** End of the median window (grid point) this update closes. */
  window: time,
  applied: z.array(z.tuple([peerId, actionNoSchema])).max(100_000),
  events: z.array(gameEventSchema).max(100_000),
  /** Hash of the full ordering state after this update (verifiable state transfer). */
  stateHash: hexHash,
  /** updateHash(): 16-byte hash of all the fields above. */
  hash: hexHash,
};
const updateSchema = z.strictObject(updateFields);
const stintSchema = z.strictObject({
  /** Epoch of the record that admitted this stint (0: an initial server). */
  admit: seqNo,
  /**
   * Set once ignored: only the server's Timeslots up to `seq` (hash `hash`) count for this stint.
   * `stamp` and `epoch` are that Timeslot's (none for seq 0): an admission point may rest on
   * them, and a server that took a state after the cut holds the chain only from later on.
   */
  cut: z.strictObject({ seq: seqNo, hash: hexHash, stamp: time.optional(), epoch: seqNo.optional() }).nullable(),
});
const memberSchema = z.strictObject({
  id: peerId,
  /** Public key the admin registered for this server's Timeslots. */
  key: hexKey,
  /** Position in the server set (update rotation); null once the server left the set. */
  slot: z.int().min(0).max(255).nullable(),
  stints: z.array(stintSchema).min(1).max(64),
});
const membershipFields = {
  site: siteRef,
  /**
   * The stay this record is of (signed.ts `stayHash`, set at the hand-over, the same in every
   * record of it): Timeslots are signed in it (timeslotSigningBytes), and a server drops records
   * of another stay. Epochs and Timeslot seqs start again in each stay (sim/FINDINGS.md 92).
   */
  stay: hexHash,
  /** 1 for the hand-over, +1 per change; servers apply records strictly in order. */
  epoch: seqNo.min(1),
  members: z.array(memberSchema).min(1).max(256),
  /** What changed, for logs: 'init', 'ignore', 'admit', 'evict'. */
  change: z.strictObject({ kind: z.enum(['init', 'ignore', 'admit', 'evict']), target: peerId.nullable() }),
  /** Admin signature over membershipSigningBytes(). */
  sig: hexSig,
};
const membershipSchema = z.strictObject(membershipFields);

/** Servers named on each side of a parting, and actions listed, at most (evidence stays small). */
export const MAX_EVIDENCE_SERVERS = 16;
export const MAX_EVIDENCE_ACTIONS = 32;
/**
 * Where the copies of update `seq` part: the accepted majority (its hash and the servers that
 * vouched for it), the servers that vouched for something else (with their hashes), and the
 * actions of the majority copy (its `applied`, the first MAX_EVIDENCE_ACTIONS; `actionCount` is
 * null when the majority copy was not seen, only its hashes).
 */
const evidenceSchema = z.strictObject({
  seq: seqNo.min(1),
  majority: z.strictObject({ hash: hexHash, servers: z.array(peerId).max(MAX_EVIDENCE_SERVERS) }),
  minority: z.array(z.tuple([peerId, hexHash])).max(MAX_EVIDENCE_SERVERS),
  window: time.nullable(),
  actions: z.array(z.tuple([peerId, actionNoSchema])).max(MAX_EVIDENCE_ACTIONS),
  actionCount: z.int().min(0).max(100_000).nullable(),
});
export type Evidence = z.infer<typeof evidenceSchema>;

const peerMessageSchema = z.discriminatedUnion('type', [
  /** user -> every Site Server of its site (and server -> server, answering a contentRequest). */
  z.strictObject({ type: z.literal('action'), site: siteRef, user: peerId, actionNo: actionNoSchema, action: playerActionSchema }),
  /** admin -> Site Servers: a join or leave, ordered like any action; signed by the admin key. */
  z.strictObject({
    type: z.literal('sysAction'),
    site: siteRef,
    sysNo: actionNoSchema,
    actor: peerId,
    action: systemActionSchema,
    sig: hexSig,
  }),
  z.strictObject({ type: z.literal('timeslot'), ...timeslotFields }),
  /** TRM: "send me `server`'s Timeslots fromSeq..toSeq" (to the others, or to a proposer). */
  z.strictObject({
    type: z.literal('timeslotRequest'),
    site: siteRef,
    server: peerId,
    fromSeq: seqNo.min(1),
    toSeq: seqNo.min(1),
    epoch: senderEpoch,
  }),
  z.strictObject({
    type: z.literal('timeslotReply'),
    site: siteRef,
    timeslots: z.array(timeslotSchema).max(MAX_TIMESLOTS_PER_REPLY),
    epoch: senderEpoch,
  }),
  /** "send me the content of these actions" (they are final and I lack them). */
  z.strictObject({
    type: z.literal('contentRequest'),
    site: siteRef,
    items: z.array(z.tuple([peerId, actionNoSchema, hexHash])).max(256),
  }),
  z.strictObject({ type: z.literal('update'), ...updateFields }),
  z.strictObject({ type: z.literal('updateHash'), site: siteRef, seq: seqNo.min(1), hash: hexHash }),
  z.strictObject({ type: z.literal('hashRequest'), site: siteRef, seq: seqNo.min(1) }),
  /** "send me your ordering state as of update `seq`" (null: your latest). */
  z.strictObject({ type: z.literal('stateRequest'), site: siteRef, seq: seqNo.nullable(), epoch: senderEpoch }),
  z.strictObject({
    type: z.literal('stateChunk'),
    site: siteRef,
    seq: seqNo,
    /** Update hash of `seq`, which the receiver checks against a majority. */
    hash: hexHash,
    index: z.int().min(0).max(MAX_TRANSFER_CHUNKS - 1),
    count: z.int().min(1).max(MAX_TRANSFER_CHUNKS),
    data: z.instanceof(Uint8Array).refine((d) => d.byteLength <= STATE_CHUNK_BYTES, 'chunk too large'),
  }),
  z.strictObject({ type: z.literal('equivocationProof'), site: siteRef, a: timeslotSchema, b: timeslotSchema }),
  /** server -> admin: ask to ignore / re-admit / replace `target`, with the latest Timeslot of it held.
   *  `no` numbers the sender's requests (a repeat gets a new one), so an answer names what it answers. */
  z.strictObject({
    type: z.literal('membershipRequest'),
    site: siteRef,
    epoch: seqNo,
    no: seqNo,
    kind: z.enum(['ignore', 'readmit', 'replace']),
    target: peerId,
    held: timeslotSchema.nullable(),
    /** ignore only: false when `held` may miss Timeslots of the target that servers used before the
     *  sender's admission point (docs/protocol.md "Decision"); absent: it covers them. */
    covers: z.boolean().optional(),
  }),
  /** server -> admin: "no window closes here: I lack `target`'s Timeslots up to its cut `seq`, and no
   *  active member gave them" (repeated while it lasts; sim/FINDINGS.md 90). */
  z.strictObject({ type: z.literal('cutWait'), site: siteRef, epoch: seqNo, target: peerId, seq: seqNo }),
  /** server -> admin: "drop my ignore request for `target`" (it is back in time and in step);
   *  answered by requestDeclined with this `no`, or by the record if the cut was already decided. */
  z.strictObject({ type: z.literal('withdrawRequest'), site: siteRef, epoch: seqNo, no: seqNo, target: peerId }),
  /** admin -> servers (and users): the signed server set of the site. */
  z.strictObject({ type: z.literal('membership'), ...membershipFields }),
  /** admin -> servers: "stop counting `target`; send me your ignore request" (after a proof). */
  z.strictObject({ type: z.literal('ignoreCall'), site: siteRef, epoch: seqNo, target: peerId }),
  /** admin -> chosen servers: start serving the site from this state (hand-over, section 4.2). */
  z.strictObject({
    type: z.literal('siteInit'),
    site: siteRef,
    membership: membershipSchema,
    seq: seqNo,
    prev: hexHash,
    /** Ordering starts after this synced time (a grid point): medians at or before it do not exist. */
    start: time,
    state: siteSnapshotSchema,
    /** Last action number applied per user before the hand-over (duplicates are dropped). */
    lastActionNo: z.array(z.tuple([peerId, seqNo])).max(10_000),
    /** Admin signature over siteInitSigningBytes(): servers may forward it to a peer that missed it. */
    sig: hexSig,
  }),
  /** server -> server, right after new Timeslots arrive: the latest Timeslot held of each server
   *  (same as a Timeslot's heads, sent early so stability need not wait for the next Timeslot). */
  z.strictObject({
    type: z.literal('echo'),
    site: siteRef,
    heads: z.array(headSchema).max(256),
    ignoring: z.array(peerId).max(64).optional(),
  }),
  /** "send me your siteInit and latest membership record" (a server that missed one). */
  z.strictObject({ type: z.literal('recordRequest'), site: siteRef, epoch: seqNo }),
  /** user -> servers: "send me update `seq` in full" (it missed votes for it). */
  z.strictObject({ type: z.literal('updateRequest'), site: siteRef, seq: seqNo.min(1) }),
  /** admin -> requesters: the request (or withdrawal) numbered `no` for `target` will not be acted
   *  on (no majority, or withdrawn); carry on. */
  z.strictObject({
    type: z.literal('requestDeclined'),
    site: siteRef,
    epoch: seqNo,
    no: seqNo,
    kind: z.enum(['ignore', 'readmit', 'replace']),
    target: peerId,
  }),
  /**
   * user -> admin: a server whose update disagreed with the majority. `reason` is a FlagKind
   * (src/protocol/tally.ts); `evidence` locates where the copies part (absent when there is no
   * majority copy to compare with, e.g. content that does not match its own hash).
   */
  z.strictObject({
    type: z.literal('flagReport'),
    site: siteRef,
    server: peerId,
    seq: seqNo,
    reason: shortString,
    evidence: evidenceSchema.optional(),
  }),
]);

/**
 * State transfer payload (the bytes a `stateChunk` series carries, MessagePack): the update that
 * produced the state, the ordering state itself (its hash is the update's `stateHash`) and
 * unhashed hints on where each server's Timeslot chain stood (a wrong hint only makes the
 * receiver fall out of step again; it cannot make it accept a wrong state).
 */
const orderingStateSchema = z.strictObject({
  site: siteRef,
  window: time,
  snapshot: siteSnapshotSchema,
  /** Per user: every actionNo <= floor is applied, plus these above it. */
  applied: z.array(z.tuple([peerId, seqNo, z.array(seqNo).max(4096)])).max(100_000),
  /** Reports (server, arrival) at or before `window` of actions not applied yet. */
  pending: z
    .array(z.tuple([peerId, actionNoSchema, hexHash, z.array(z.tuple([peerId, time])).max(256)]))
    .max(100_000),
});
export type OrderingState = z.infer<typeof orderingStateSchema>;
const transferSchema = z.strictObject({
  update: updateSchema,
  state: orderingStateSchema,
  hints: z.strictObject({
    chains: z.array(z.tuple([peerId, seqNo, hexHash, time])).max(256),
    marks: z.array(z.tuple([peerId, seqNo, seqNo, time])).max(4096),
  }),
});
export type TransferPayload = z.infer<typeof transferSchema>;

/** Packs a state-transfer payload into bytes (then cut into STATE_CHUNK_BYTES chunks). */
export function encodeTransfer(p: TransferPayload): Uint8Array {
  return msgpackEncode(packHex(p), { ignoreUndefined: true });
}

/** Parses reassembled state-transfer bytes. Never throws. */
export function decodeTransfer(bytes: Uint8Array): ParseResult<TransferPayload> {
  if (bytes.byteLength > MAX_TRANSFER_BYTES) {
    return { ok: false, code: 'ERR_TOO_LARGE', message: `state of ${bytes.byteLength} bytes exceeds ${MAX_TRANSFER_BYTES}` };
  }
  let data: unknown;
  try {
    // The schema's own bounds, so decoding allocates no more than they allow.
    data = unpackHex(msgpackDecode(bytes, { maxStrLength: 64 * 1024, maxBinLength: 64 * 1024, maxArrayLength: 100_000, maxMapLength: 64, maxExtLength: 0 }), '');
  } catch {
    return { ok: false, code: 'ERR_MALFORMED', message: 'not MessagePack' };
  }
  return fromZod(transferSchema.safeParse(data));
}

export type PeerMessage = z.infer<typeof peerMessageSchema>;
export type PeerMessageType = PeerMessage['type'];
export type PeerOf<T extends PeerMessageType> = Extract<PeerMessage, { type: T }>;
export type ActionMessage = PeerOf<'action'>;
export type SysActionMessage = PeerOf<'sysAction'>;
export type TimeslotMessage = PeerOf<'timeslot'>;
/** A signed Timeslot as stored and forwarded (TimeslotReply, proofs): the message without `type`. */
export type Timeslot = z.infer<typeof timeslotSchema>;
export type TimeslotEntry = Timeslot['entries'][number];
export type TimeslotHead = Timeslot['heads'][number];
export type UpdateMessage = PeerOf<'update'>;
export type UpdateBody = Omit<UpdateMessage, 'type' | 'hash'>;
export type UpdateHashMessage = PeerOf<'updateHash'>;
export type StateChunkMessage = PeerOf<'stateChunk'>;
export type EquivocationProof = PeerOf<'equivocationProof'>;
export type MembershipRequest = PeerOf<'membershipRequest'>;
export type Membership = z.infer<typeof membershipSchema>;
export type MembershipMessage = PeerOf<'membership'>;
export type Member = Membership['members'][number];
export type Stint = Member['stints'][number];
export type SiteInit = PeerOf<'siteInit'>;
export type SystemAction = SysActionMessage['action'];

export const PEER_MESSAGE_TYPES: ReadonlyArray<PeerMessageType> = [
  'action',
  'sysAction',
  'timeslot',
  'timeslotRequest',
  'timeslotReply',
  'contentRequest',
  'update',
  'updateHash',
  'hashRequest',
  'stateRequest',
  'stateChunk',
  'equivocationProof',
  'membershipRequest',
  'withdrawRequest',
  'cutWait',
  'membership',
  'ignoreCall',
  'siteInit',
  'echo',
  'recordRequest',
  'updateRequest',
  'requestDeclined',
  'flagReport',
];

/** Validates a peer message given as plain data (e.g. in-memory delivery). Never throws. */
export function parsePeerMessage(data: unknown): ParseResult<PeerMessage> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'ERR_MALFORMED', message: 'expected an object' };
  }
  const type = (data as { type?: unknown }).type;
  if (typeof type !== 'string' || !(PEER_MESSAGE_TYPES as readonly string[]).includes(type)) {
    return { ok: false, code: 'ERR_UNKNOWN_TYPE', message: `unknown peer message type ${String(type).slice(0, 40)}` };
  }
  const r = fromZod(peerMessageSchema.safeParse(data));
  if (r.ok) markParsed(r.value); // the core's receive then skips a second validation (parsed.ts)
  return r;
}

/** Validates a Timeslot given as plain data (without `type`). Never throws. */
export function parseTimeslot(data: unknown): ParseResult<Timeslot> {
  return fromZod(timeslotSchema.safeParse(data));
}

/** Validates an update without its `type` (state-transfer payloads). Never throws. */
export function parseUpdate(data: unknown): ParseResult<Omit<UpdateMessage, 'type'>> {
  return fromZod(updateSchema.safeParse(data));
}

/** Validates a site snapshot (state transfer, hand-over). Never throws. */
export function parseSiteSnapshot(data: unknown): ParseResult<z.infer<typeof siteSnapshotSchema>> {
  return fromZod(siteSnapshotSchema.safeParse(data));
}

/**
 * A peer message on the wire: the compact layout of peerCodec.ts for the hot ones (actions, system
 * actions, Timeslots and replies, updates, update hashes, echoes), else TAG_MSGPACK then the
 * MessagePack of the message, where hashes, keys and signatures travel as raw bytes (every
 * lowercase hex string of 32, 64 or 128 characters is packed; decoding turns every binary value
 * except `stateChunk.data` back into hex, so the round trip is exact).
 */
export function encodePeerMessage(msg: PeerMessage): Uint8Array {
  // A server sends one Timeslot object to every other server and one update object to many
  // users, one call per peer: encode it once. Messages are not changed once sent, and senders
  // only read the bytes.
  if (msg === lastEncoded.msg) return lastEncoded.bytes;
  const bytes = encodeCompact(msg) ?? encodeMsgpackPeer(msg);
  lastEncoded = { msg, bytes };
  return bytes;
}
let lastEncoded: { msg: PeerMessage | null; bytes: Uint8Array } = { msg: null, bytes: new Uint8Array(0) };

/** The general form of any peer message (also what `npm run bench` compares the compact one with). */
export function encodeMsgpackPeer(msg: PeerMessage): Uint8Array {
  const body = msgpackEncode(packHex(msg), { ignoreUndefined: true });
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = TAG_MSGPACK;
  out.set(body, 1);
  return out;
}

/**
 * Parses a binary peer message: the one place a peer message is read, whichever its form; every
 * value goes through the schema. Never throws: too large, truncated, unknown tag, not MessagePack
 * or off-schema give a reason.
 */
export function decodePeerMessage(bytes: Uint8Array): ParseResult<PeerMessage> {
  if (!(bytes instanceof Uint8Array)) return { ok: false, code: 'ERR_MALFORMED', message: 'expected bytes' };
  if (bytes.byteLength > MAX_PEER_MESSAGE_BYTES) {
    return { ok: false, code: 'ERR_TOO_LARGE', message: `message of ${bytes.byteLength} bytes exceeds ${MAX_PEER_MESSAGE_BYTES}` };
  }
  const tag = bytes[0];
  if (tag === undefined) return { ok: false, code: 'ERR_MALFORMED', message: 'empty message' };
  let data: unknown;
  if (tag === TAG_MSGPACK) {
    try {
      data = msgpackDecode(bytes.subarray(1), { maxStrLength: 64 * 1024, maxBinLength: MAX_PEER_MESSAGE_BYTES, maxArrayLength: 200_000, maxMapLength: 64, maxExtLength: 0 });
    } catch {
      return { ok: false, code: 'ERR_MALFORMED', message: 'not MessagePack' };
    }
    try {
      data = unpackHex(data, '');
    } catch {
      return { ok: false, code: 'ERR_MALFORMED', message: 'unreadable structure' };
    }
  } else if (isCompactTag(tag)) {
    try {
      data = decodeCompact(bytes);
    } catch {
      return { ok: false, code: 'ERR_MALFORMED', message: `truncated or invalid compact message (tag ${tag})` };
    }
    // The compact reader guarantees the types: only the schema's bounds are left (compactCheck.ts).
    const checked = checkCompact(data);
    if (checked.ok) markParsed(checked.value); // validated: the core's receive takes it as is
    return checked;
  } else {
    return { ok: false, code: 'ERR_MALFORMED', message: `unknown peer message tag ${tag}` };
  }
  try {
    return parsePeerMessage(data);
  } catch {
    return { ok: false, code: 'ERR_MALFORMED', message: 'unreadable structure' };
  }
}

const PACKABLE_HEX = /^(?:[0-9a-f]{32}|[0-9a-f]{64}|[0-9a-f]{128})$/;

function packHex(value: unknown): unknown {
  if (typeof value === 'string') return PACKABLE_HEX.test(value) ? hexToBytes(value) : value;
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(packHex);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = packHex(v);
    return out;
  }
  return value;
}

function unpackHex(value: unknown, key: string): unknown {
  if (value instanceof Uint8Array) return key === 'data' ? value : bytesToHex(value);
  if (Array.isArray(value)) return value.map((v) => unpackHex(v, ''));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = unpackHex(v, k);
    return out;
  }
  return value;
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] ?? 0).toString(16).padStart(2, '0');
  return s;
}
