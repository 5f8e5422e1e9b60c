/**
 * The page side of bench/browserCrypto.ts (bundled by it, run in Chromium): Ed25519 sign and
 * verify of a 200 B message through the tab's schemes (hex in and out, as the core calls them):
 * @noble/curves, libsodium's WASM (src/net/crypto/sodium.ts), and WebCrypto (asynchronous, for
 * the record); SHA-256 of 2 KB with @noble/hashes and WebCrypto.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519Scheme, fromHex, type SignatureScheme } from '../src/protocol/crypto.js';
import { sodiumEd25519, type Sodium } from '../src/net/crypto/sodium.js';

/** Microseconds per call of `fn`, run for about `ms`. */
async function perCall(fn: () => unknown, ms = 800): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 10; i++) await fn();
    n += 10;
    t = performance.now();
  }
  return ((t - t0) * 1000) / n;
}

async function run(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const secret = '11'.repeat(32);
  const msg = Uint8Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff);
  const t0 = performance.now();
  const m = (await import('libsodium-wrappers')) as unknown as { default: Sodium };
  await m.default.ready;
  out['libsodium load ms'] = performance.now() - t0;
  const schemes: Array<[string, SignatureScheme]> = [
    ['noble', ed25519Scheme],
    ['libsodium', sodiumEd25519(m.default)],
  ];
  for (const [name, s] of schemes) {
    const pk = s.publicKeyOf(secret);
    const sig = s.sign(secret, msg);
    out[`${name} sign`] = await perCall(() => s.sign(secret, msg));
    out[`${name} verify`] = await perCall(() => s.verify(pk, msg, sig));
  }
  const seed = fromHex(secret)!;
  const pkcs8 = new Uint8Array([...fromHex('302e020100300506032b657004220420')!, ...seed]);
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  const pub = await crypto.subtle.importKey('raw', new Uint8Array(fromHex(ed25519Scheme.publicKeyOf(secret))!), { name: 'Ed25519' }, false, ['verify']);
  const wsig = await crypto.subtle.sign('Ed25519', key, msg);
  out['webcrypto sign'] = await perCall(() => crypto.subtle.sign('Ed25519', key, msg));
  out['webcrypto verify'] = await perCall(() => crypto.subtle.verify('Ed25519', pub, wsig, msg));
  const k2 = Uint8Array.from({ length: 2048 }, (_, i) => i & 0xff);
  out['noble sha256 2KB'] = await perCall(() => sha256(k2));
  out['webcrypto sha256 2KB'] = await perCall(() => crypto.subtle.digest('SHA-256', k2));
  return out;
}

(globalThis as { runBench?: typeof run }).runBench = run;
