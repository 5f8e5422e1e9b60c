/**
 * Ed25519 and SHA-256 on Node's native crypto (OpenSSL), for the bots and the admin: about 20
 * times faster than @noble/curves (bench/README.md). Node only: the browser bundle never imports
 * this file (the tab's backend is ./browser.ts).
 *
 * Same interface and same bytes as the core's `ed25519Scheme` (Ed25519 is deterministic):
 * crypto.test.ts checks both sign alike and accept and reject the same signatures.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { LruCache } from './lru.js';
import { ed25519Scheme, registerSha256, type SignatureScheme, type Sha256 } from '../../protocol/crypto.js';

/** DER of a PKCS#8 Ed25519 private key without its last 32 bytes (the RFC 8032 seed). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** DER of an SPKI Ed25519 public key without its last 32 bytes (the encoded point). */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const KEY_HEX = /^[0-9a-f]{64}$/;

/**
 * The y-coordinates (sign bit cleared) of the points of small order, canonical or not: the same
 * block list as libsodium's. OpenSSL takes such a public key, and for the identity or the point
 * of order 2 the signature (R = identity, S = 0) then verifies for every message; @noble/curves'
 * strict mode and libsodium refuse these keys, so this backend refuses them too.
 */
const SMALL_ORDER_Y = new Set([
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
]);

function smallOrder(publicKey: string): boolean {
  const last = parseInt(publicKey.slice(62), 16) & 0x7f;
  return SMALL_ORDER_Y.has(publicKey.slice(0, 62) + last.toString(16).padStart(2, '0'));
}
const SIG_HEX = /^[0-9a-f]{128}$/;

export interface NodeSchemeOptions {
  /** Public KeyObjects kept (default 4096: far more than the servers and admin one process talks to). */
  publicKeys?: number;
  /**
   * Private KeyObjects kept (default 1024): one per Site Server a process runs (a bots process
   * runs dozens; 16 thrashed, and making the KeyObject cost more than the signature).
   */
  secretKeys?: number;
}

/** A fresh Ed25519 scheme over node:crypto with its own bounded key caches. */
export function nodeEd25519Scheme(o: NodeSchemeOptions = {}): SignatureScheme & { cachedPublicKeys(): number } {
  const publicKeys = new LruCache<KeyObject>(o.publicKeys ?? 4096);
  const secretKeys = new LruCache<KeyObject>(o.secretKeys ?? 1024);

  const secretKeyObject = (secretKey: string): KeyObject => {
    let k = secretKeys.get(secretKey);
    if (k) return k;
    if (!KEY_HEX.test(secretKey)) throw new Error('ed25519 secret key must be 32 bytes of hex');
    k = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(secretKey, 'hex')]), format: 'der', type: 'pkcs8' });
    secretKeys.set(secretKey, k);
    return k;
  };

  const publicKeyObject = (publicKey: string): KeyObject => {
    let k = publicKeys.get(publicKey);
    if (k) return k;
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(publicKey, 'hex')]), format: 'der', type: 'spki' });
    publicKeys.set(publicKey, k);
    return k;
  };

  return {
    name: 'ed25519',
    publicKeyOf(secretKey) {
      const der = createPublicKey(secretKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
      return der.subarray(SPKI_PREFIX.length).toString('hex');
    },
    sign(secretKey, message) {
      return sign(null, message, secretKeyObject(secretKey)).toString('hex');
    },
    verify(publicKey, message, signature) {
      if (typeof publicKey !== 'string' || typeof signature !== 'string') return false;
      if (!KEY_HEX.test(publicKey) || !SIG_HEX.test(signature) || smallOrder(publicKey)) return false;
      try {
        return verify(null, message, publicKeyObject(publicKey), Buffer.from(signature, 'hex'));
      } catch {
        // OpenSSL may refuse to decode a key (not a point): not valid, and not cached.
        return false;
      }
    },
    cachedPublicKeys: () => publicKeys.size,
  };
}

/** Native SHA-256, for `registerSha256` in Node processes. */
export const nodeSha256: Sha256 = (bytes) => createHash('sha256').update(bytes).digest();

/** Which Ed25519 a Node process uses: `native` (node:crypto, the default) or `noble` (pure JS, to compare). */
export type NodeCryptoChoice = 'native' | 'noble';

/** `MMO_CRYPTO` read and checked: unset or empty is `native`; anything else but the two names throws. */
export function nodeCryptoChoice(raw: string | undefined): NodeCryptoChoice {
  const v = raw?.trim() ?? '';
  if (v === '' || v === 'native') return 'native';
  if (v === 'noble') return 'noble';
  throw new Error(`MMO_CRYPTO must be "native" or "noble", got "${raw}"`);
}

let shared: SignatureScheme | null = null;

/**
 * The process's signature scheme, with native SHA-256 registered for the core's hashes when
 * `native`; `noble` leaves both in pure JS (the state before the native backend, for measuring).
 */
export function useNodeCrypto(choice: NodeCryptoChoice): SignatureScheme {
  if (choice === 'noble') {
    registerSha256(null);
    return ed25519Scheme;
  }
  registerSha256(nodeSha256);
  return (shared ??= nodeEd25519Scheme());
}
