/**
 * The protocol core: pure, no timers, no I/O. Time, sending, randomness and keys are injected.
 * How a host drives these objects: src/protocol/README.md. Design: docs/protocol.md.
 */
export * from './api.js';
export * from './config.js';
export * from './crypto.js';
export * from './order.js';
export * from './clock.js';
export { createSiteServer } from './server.js';
export { createSiteUser } from './user.js';
export { createSiteCoordinator } from './coordinator.js';
export {
  ADMIN_ID,
  SYSTEM_ACTOR,
  MAX_PEER_MESSAGE_BYTES,
  STATE_CHUNK_BYTES,
  MAX_TIMESLOTS_PER_REPLY,
  PEER_MESSAGE_TYPES,
  encodePeerMessage,
  decodePeerMessage,
  parsePeerMessage,
  parseTimeslot,
  type ParseResult,
  type PeerMessage,
  type PeerMessageType,
  type PeerOf,
  type ActionMessage,
  type SysActionMessage,
  type TimeslotMessage,
  type Timeslot,
  type TimeslotEntry,
  type TimeslotHead,
  type UpdateMessage,
  type UpdateBody,
  type UpdateHashMessage,
  type StateChunkMessage,
  type EquivocationProof,
  type MembershipRequest,
  type Membership,
  type MembershipMessage,
  type Member,
  type Stint,
  type SiteInit,
  type SystemAction,
} from './messages.js';
export type { ErrorCode } from './errors.js';
