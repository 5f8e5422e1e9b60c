/**
 * Session keys of peers. Every tab or bot makes an ed25519 key pair for its session and registers
 * the public key with the admin by signing the admin's one-time challenge (proof of possession):
 * a peer cannot register a key it does not hold, nor replay another connection's proof.
 */
import { utf8 } from './crypto.js';

/** Domain-separated bytes a peer signs to register `key` for `user` on the connection that got `challenge`. */
export function keyProofBytes(challenge: string, user: string, key: string): Uint8Array {
  return utf8(`mmo-key-proof/v1\u0000${challenge}\u0000${user}\u0000${key}`);
}

/** Server ids are `user~hex`: never a valid user name, so a server can never speak as a user. */
export function serverIdOf(user: string, suffix: string): string {
  return `${user}~${suffix}`;
}

/** The user a server id belongs to, or null when `id` is not a server id. */
export function userOfServerId(id: string): string | null {
  const i = id.indexOf('~');
  return i > 0 ? id.slice(0, i) : null;
}
