/**
 * Hashing and signatures of the protocol. Hashes are S_hash = 16 bytes: SHA-256 of the canonical
 * text of plain data, truncated, as 32 lowercase hex characters in memory (cheap to compare and to
 * use as map keys; the wire encoding packs them back to 16 raw bytes). Signatures are injected as a
 * `SignatureScheme` so a simulator can swap ed25519 for a fast stand-in; production uses ed25519.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalJson } from '../game/canonical.js';

export const HASH_BYTES = 16;
export const HASH_HEX = HASH_BYTES * 2;
/** Hash of nothing: the `prevHash` of a chain's first element. */
export const ZERO_HASH = '0'.repeat(HASH_HEX);

/** UTF-8 bytes of a string (the core has no TextEncoder in its lib; lone surrogates become U+FFFD). */
export function utf8(text: string): Uint8Array {
  // One allocation of the worst case (3 bytes per UTF-16 unit), then a view of what was written:
  // this runs on every signed or hashed record, and a growing number[] was most of its cost.
  const out = new Uint8Array(text.length * 3);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    } else {
      out[n++] = 0xf0 | (c >> 18);
      out[n++] = 0x80 | ((c >> 12) & 63);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    }
  }
  return out.subarray(0, n);
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX_BYTE[bytes[i] ?? 0];
  return s;
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Lowercase hex to bytes; null when not even-length lowercase hex. */
export function fromHex(hex: string): Uint8Array | null {
  if (!HEX_RE.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** SHA-256 of bytes, 32 bytes out. */
export type Sha256 = (bytes: Uint8Array) => Uint8Array;

let sha256Impl: Sha256 = sha256;

/**
 * Registers a faster SHA-256 (Node's native `createHash`, src/net/crypto/node.ts) for every hash
 * of the core; `null` goes back to @noble/hashes. A registration rather than an option because
 * hashes are taken everywhere (ids, chains, updates) and every implementation gives the same
 * bytes: it changes speed, never results.
 */
export function registerSha256(impl: Sha256 | null): void {
  sha256Impl = impl ?? sha256;
}

/** 16-byte truncated SHA-256 of bytes, as hex. */
export function hashBytes(bytes: Uint8Array): string {
  return toHex(sha256Impl(bytes).subarray(0, HASH_BYTES));
}

/** 16-byte truncated SHA-256 of the canonical JSON of plain data, as hex. */
export function hashOf(value: unknown): string {
  return hashBytes(utf8(canonicalJson(value)));
}

/** Signs and verifies byte strings; keys and signatures are hex. */
export interface SignatureScheme {
  readonly name: string;
  publicKeyOf(secretKey: string): string;
  sign(secretKey: string, message: Uint8Array): string;
  /** Never throws: a malformed key or signature is simply not valid. */
  verify(publicKey: string, message: Uint8Array, signature: string): boolean;
  /**
   * Set by a scheme that loads its fast implementation (WASM in the tab, src/net/crypto/sodium.ts):
   * settles once that is in use or given up. The core never waits on it; a host holds its key
   * registration until it settles, so it does not start serving on the slow fallback.
   */
  readonly ready?: Promise<void>;
}

/**
 * The portable scheme: ed25519 in pure JS (@noble/curves), the fallback wherever no native or
 * WASM one is loaded (src/net/crypto/). Secret keys are 32 bytes of hex (the RFC 8032 seed).
 * Verification is strict RFC 8032 (`zip215: false`: canonical encodings, as OpenSSL and
 * libsodium check them) so every backend accepts the same signatures, which evidence relies on.
 */
export const ed25519Scheme: SignatureScheme = {
  name: 'ed25519',
  publicKeyOf(secretKey) {
    const sk = fromHex(secretKey);
    if (!sk || sk.length !== 32) throw new Error('ed25519 secret key must be 32 bytes of hex');
    return toHex(ed25519.getPublicKey(sk));
  },
  sign(secretKey, message) {
    const sk = fromHex(secretKey);
    if (!sk || sk.length !== 32) throw new Error('ed25519 secret key must be 32 bytes of hex');
    return toHex(ed25519.sign(message, sk));
  },
  verify(publicKey, message, signature) {
    const pk = fromHex(publicKey);
    const sig = fromHex(signature);
    if (!pk || pk.length !== 32 || !sig || sig.length !== 64) return false;
    try {
      return ed25519.verify(sig, message, pk, { zip215: false });
    } catch {
      return false;
    }
  },
};

/**
 * NOT SECURE: a keyed-hash stand-in for simulations and fuzzing, where ed25519 would dominate the
 * run time. The "public key" is derived from the secret by hashing, and a signature is
 * hash(publicKey || message), so anyone can forge; it only models *which* key signed what.
 */
export const insecureFastScheme: SignatureScheme = {
  name: 'insecure-fast',
  publicKeyOf(secretKey) {
    return hashBytes(utf8(`pk:${secretKey}`));
  },
  sign(secretKey, message) {
    return fastSig(this.publicKeyOf(secretKey), message);
  },
  verify(publicKey, message, signature) {
    return typeof signature === 'string' && signature === fastSig(publicKey, message);
  },
};

function fastSig(publicKey: string, message: Uint8Array): string {
  const head = utf8(`sig:${publicKey}:`);
  const all = new Uint8Array(head.length + message.length);
  all.set(head, 0);
  all.set(message, head.length);
  return hashBytes(all) + hashBytes(all.reverse());
}

/**
 * A fresh secret key from injected randomness (`random()` in [0, 1)), for tests and simulations.
 * Production hosts should use a CSPRNG (crypto.getRandomValues) instead.
 */
export function secretKeyFrom(random: () => number): string {
  const b = new Uint8Array(32);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(random() * 256) & 0xff;
  return toHex(b);
}
