/**
 * Ed25519 for the browser tab: libsodium's WASM build (libsodium-wrappers), synchronous once
 * loaded, 2 to 4 times faster than @noble/curves in Chromium (docs/hosting.md "Signatures").
 * WebCrypto's Ed25519 is as fast but asynchronous, and the core verifies synchronously.
 *
 * The WASM is embedded in the library's JS (no fetch), loaded as its own chunk by a dynamic
 * import. Until it is ready, and for good if it fails to load, the scheme signs and verifies with
 * noble: Ed25519 is deterministic, so both give the same signatures and the switch is invisible.
 */
import { ed25519Scheme, fromHex, toHex, type SignatureScheme } from '../../protocol/crypto.js';
import { LruCache } from './lru.js';

/** What this module uses of libsodium-wrappers (its default export once `ready`). */
export interface Sodium {
  ready: Promise<void>;
  crypto_sign_seed_keypair(seed: Uint8Array): { publicKey: Uint8Array; privateKey: Uint8Array };
  crypto_sign_detached(message: Uint8Array, privateKey: Uint8Array): Uint8Array;
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

const loadLibsodium = async (): Promise<Sodium> => {
  const m = (await import('libsodium-wrappers')) as unknown as { default: Sodium };
  await m.default.ready;
  return m.default;
};

/** Ed25519 over a loaded libsodium; keys and signatures hex, as every `SignatureScheme`. */
export function sodiumEd25519(sodium: Sodium): SignatureScheme {
  // libsodium signs with the 64-byte (seed, public key) pair: derive it once per secret key.
  const pairs = new LruCache<{ publicKey: Uint8Array; privateKey: Uint8Array }>(16);
  const pairOf = (secretKey: string): { publicKey: Uint8Array; privateKey: Uint8Array } => {
    let p = pairs.get(secretKey);
    if (p) return p;
    const seed = fromHex(secretKey);
    if (!seed || seed.length !== 32) throw new Error('ed25519 secret key must be 32 bytes of hex');
    p = sodium.crypto_sign_seed_keypair(seed);
    pairs.set(secretKey, p);
    return p;
  };
  return {
    name: 'ed25519',
    publicKeyOf: (secretKey) => toHex(pairOf(secretKey).publicKey),
    sign: (secretKey, message) => toHex(sodium.crypto_sign_detached(message, pairOf(secretKey).privateKey)),
    verify(publicKey, message, signature) {
      if (typeof publicKey !== 'string' || typeof signature !== 'string') return false;
      const pk = fromHex(publicKey);
      const sig = fromHex(signature);
      if (!pk || pk.length !== 32 || !sig || sig.length !== 64) return false;
      try {
        return sodium.crypto_sign_verify_detached(sig, message, pk);
      } catch {
        return false;
      }
    },
  };
}

export interface TabCrypto extends SignatureScheme {
  readonly ready: Promise<void>;
  /** 'libsodium' once loaded, 'noble' before or when it failed. */
  backend(): 'libsodium' | 'noble';
}

/**
 * The tab's scheme: noble at once, libsodium as soon as it has loaded; `ready` settles either
 * way (a failed load is logged and noble stays).
 */
export function tabCrypto(
  log: (event: string, fields: Record<string, unknown>) => void,
  load: () => Promise<Sodium> = loadLibsodium,
): TabCrypto {
  let current: SignatureScheme = ed25519Scheme;
  let backend: 'libsodium' | 'noble' = 'noble';
  const ready = load().then(
    (sodium) => {
      current = sodiumEd25519(sodium);
      backend = 'libsodium';
      log('crypto.ready', { backend });
    },
    (err: unknown) => log('crypto.fallback_noble', { err: String(err) }),
  );
  return {
    name: 'ed25519',
    publicKeyOf: (secretKey) => current.publicKeyOf(secretKey),
    sign: (secretKey, message) => current.sign(secretKey, message),
    verify: (publicKey, message, signature) => current.verify(publicKey, message, signature),
    ready,
    backend: () => backend,
  };
}
