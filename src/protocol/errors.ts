/**
 * Every error a sender can get back, by name. docs/errors.md lists them with their meaning.
 */
export const ERROR_CODES = [
  'ERR_MALFORMED', // not parseable, or fails the schema
  'ERR_TOO_LARGE', // over the size limit of its channel
  'ERR_UNKNOWN_TYPE', // a `type` nobody handles
  'ERR_VERSION', // PROTOCOL_VERSION mismatch
  'ERR_NOT_AUTHENTICATED', // anything but `hello` before a successful `hello`
  'ERR_ALREADY_AUTHENTICATED', // a second `hello` on one connection
  'ERR_TOKEN_INVALID', // no such session
  'ERR_TOKEN_EXPIRED', // session past its lifetime
  'ERR_BAD_CREDENTIALS', // wrong name or password
  'ERR_NAME_TAKEN', // registering a name that exists
  'ERR_NAME_INVALID', // name breaks the name rule
  'ERR_NAME_RESERVED', // a name that is a protocol identity (`admin`, any case)
  'ERR_TOO_MANY_CONNECTIONS', // more WebSocket connections from one address than allowed
  'ERR_PASSWORD_INVALID', // password too short or too long
  'ERR_SITE_UNKNOWN', // no such site
  'ERR_ACTION_NUMBER', // action number not above the last one seen (replay or reorder)
  'ERR_OUT_OF_TURN', // valid message at a moment it is not allowed (e.g. action while changing site)
  'ERR_RATE_LIMITED', // too many messages from one user
  'ERR_LOGGED_IN_ELSEWHERE', // the same account connected again; the old connection is closed
  'ERR_NOT_FOUND', // HTTP route that does not exist
  'ERR_METHOD', // HTTP method not allowed
  'ERR_INTERNAL', // a bug on our side; logged
  'ERR_FORBIDDEN', // the operator page without its token
  // P2P hosting over the admin WebSocket (keys, signaling, peer envelopes).
  'ERR_BAD_PROOF', // a key registration whose signature does not prove possession of the key
  'ERR_NOT_ASSIGNED', // signaling or a peer message between peers the admin did not assign to each other, or in a role not given
  'ERR_SITE_P2P', // an action sent to the admin for a site its Site Servers host: send it to them
  // Peer protocol (Site Servers, P2P users, site coordinator); see docs/protocol.md.
  'ERR_WRONG_SITE', // a peer message for another site
  'ERR_UNKNOWN_PEER', // sender or named server is not a member (or not who it claims to be)
  'ERR_BAD_SIGNATURE', // Timeslot, membership record or system action fails its signature
  'ERR_BROKEN_CHAIN', // Timeslot's prevHash is not the hash of the previous one
  'ERR_STAMP_ORDER', // Timeslot stamp not above the previous stamp
  'ERR_ARRIVAL_WINDOW', // an entry's arrival outside (previous stamp, stamp], or listed twice
  'ERR_REPLAYED', // a Timeslot (server, seq) already held, sent again
  'ERR_TOO_FAR_AHEAD', // a Timeslot too far past the held chain to buffer
  'ERR_EQUIVOCATION', // two different signed Timeslots with the same (server, seq)
  'ERR_BAD_HASH', // an update or state whose hash does not match its content
  'ERR_STALE', // an old membership epoch, or a message for a finished exchange
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
