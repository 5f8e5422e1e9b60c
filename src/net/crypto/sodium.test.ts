import { describe, expect, it } from 'vitest';
import { ed25519Scheme, utf8 } from '../../protocol/crypto.js';
import { sodiumEd25519, tabCrypto, type Sodium } from './sodium.js';

const noble = ed25519Scheme;
const seeds = ['11'.repeat(32), '00'.repeat(32), '0123456789abcdef'.repeat(4)];
const messages = [new Uint8Array(0), utf8('timeslot/1 é ✓ 😀'), Uint8Array.from({ length: 2048 }, (_, i) => (i * 31) & 0xff)];

async function libsodium(): Promise<Sodium> {
  const m = (await import('libsodium-wrappers')) as unknown as { default: Sodium };
  await m.default.ready;
  return m.default;
}

describe('sodiumEd25519 (the tab backend, here on Node)', () => {
  it('derives the same keys and signatures as noble, and each verifies the other', async () => {
    const s = sodiumEd25519(await libsodium());
    for (const sk of seeds) {
      const pk = noble.publicKeyOf(sk);
      expect(s.publicKeyOf(sk)).toBe(pk);
      for (const m of messages) {
        const sig = s.sign(sk, m);
        expect(sig).toBe(noble.sign(sk, m));
        expect(s.verify(pk, m, noble.sign(sk, m))).toBe(true);
        expect(noble.verify(pk, m, sig)).toBe(true);
      }
    }
  });

  it('rejects, never throws, on malformed or wrong inputs', async () => {
    const s = sodiumEd25519(await libsodium());
    const sk = seeds[0]!;
    const pk = noble.publicKeyOf(sk);
    const m = messages[1]!;
    const sig = noble.sign(sk, m);
    const universal = '01' + '00'.repeat(63);
    for (const [k, msg, sg] of [
      [pk, m, sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11)],
      [pk, utf8('other'), sig],
      [noble.publicKeyOf(seeds[1]!), m, sig],
      [pk, m, sig.toUpperCase()],
      [pk, m, sig.slice(2)],
      [pk.slice(2), m, sig],
      ['ff'.repeat(32), m, sig],
      ['01' + '00'.repeat(31), m, universal],
      ['', m, ''],
    ] as Array<[string, Uint8Array, string]>) {
      expect(s.verify(k, msg, sg)).toBe(false);
      expect(noble.verify(k, msg, sg)).toBe(false);
    }
    expect(s.verify(undefined as unknown as string, m, sig)).toBe(false);
    expect(() => s.sign('11'.repeat(31), m)).toThrow();
  });
});

describe('tabCrypto', () => {
  it('uses noble until libsodium has loaded, then libsodium, with the same signatures', async () => {
    let calls = 0;
    const sodium = await libsodium();
    const counting: Sodium = {
      ...sodium,
      ready: sodium.ready,
      crypto_sign_seed_keypair: (seed) => sodium.crypto_sign_seed_keypair(seed),
      crypto_sign_detached: (m, k) => (calls++, sodium.crypto_sign_detached(m, k)),
      crypto_sign_verify_detached: (sig, m, k) => (calls++, sodium.crypto_sign_verify_detached(sig, m, k)),
    };
    let release: (s: Sodium) => void = () => undefined;
    const logs: string[] = [];
    const t = tabCrypto((e) => logs.push(e), () => new Promise<Sodium>((r) => (release = r)));
    const sk = seeds[0]!;
    const m = messages[1]!;
    const before = t.sign(sk, m);
    expect(t.backend()).toBe('noble');
    expect(calls).toBe(0);
    release(counting);
    await t.ready;
    expect(t.backend()).toBe('libsodium');
    expect(t.sign(sk, m)).toBe(before);
    expect(t.verify(t.publicKeyOf(sk), m, before)).toBe(true);
    expect(calls).toBe(2);
    expect(logs).toEqual(['crypto.ready']);
  });

  it('stays on noble, with a log line, when libsodium fails to load', async () => {
    const logs: Array<[string, Record<string, unknown>]> = [];
    const t = tabCrypto(
      (e, f) => logs.push([e, f]),
      () => Promise.reject(new Error('no wasm')),
    );
    await t.ready;
    expect(t.backend()).toBe('noble');
    expect(logs).toEqual([['crypto.fallback_noble', { err: 'Error: no wasm' }]]);
    const sk = seeds[1]!;
    expect(t.verify(t.publicKeyOf(sk), messages[0]!, noble.sign(sk, messages[0]!))).toBe(true);
  });
});
