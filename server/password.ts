/** Password hashing with scrypt (node:crypto): random 16-byte salt, parameters stored with the hash. */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { ScryptParams } from './storage/types.js';

/** ~16 MiB and a few tens of ms per hash: slow for guessing, fine for logins. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1, keylen: 32 };

function scryptAsync(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r * params.p,
  };
  // The async form runs on the libuv pool, so a login does not stall every game on the event loop.
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, params.keylen, opts, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<{ salt: string; hash: string; params: ScryptParams }> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, params);
  return { salt: salt.toString('hex'), hash: key.toString('hex'), params };
}

export async function verifyPassword(
  password: string,
  stored: { salt: string; hash: string; params: ScryptParams },
): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'hex');
  const key = await scryptAsync(password, Buffer.from(stored.salt, 'hex'), stored.params);
  return key.length === expected.length && timingSafeEqual(key, expected);
}
