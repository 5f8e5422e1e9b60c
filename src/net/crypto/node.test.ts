import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519Scheme, hashBytes, hashOf, registerSha256, toHex, utf8 } from '../../protocol/crypto.js';
import { LruCache } from './lru.js';
import { nodeEd25519Scheme, nodeSha256 } from './node.js';

const noble = ed25519Scheme;
const seeds = ['11'.repeat(32), '00'.repeat(32), 'ff'.repeat(32), '0123456789abcdef'.repeat(4)];
const messages = [new Uint8Array(0), utf8('timeslot/1 é ✓ 😀'), Uint8Array.from({ length: 2048 }, (_, i) => (i * 31) & 0xff)];

/** Every point of small order (canonical encodings), as noble computes them. */
function smallOrderPoints(): string[] {
  const P = ed25519.Point;
  const t = P.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
  const out: string[] = [];
  for (let acc = P.ZERO, i = 0; i < 8; i++, acc = acc.add(t)) out.push(acc.toHex());
  return out;
}

describe('nodeEd25519Scheme', () => {
  const native = nodeEd25519Scheme();

  it('derives the same public keys and the same signatures as @noble/curves', () => {
    for (const sk of seeds) {
      expect(native.publicKeyOf(sk)).toBe(noble.publicKeyOf(sk));
      for (const m of messages) expect(native.sign(sk, m)).toBe(noble.sign(sk, m));
    }
  });

  it('verifies what noble signed and noble verifies what it signed', () => {
    for (const sk of seeds) {
      const pk = noble.publicKeyOf(sk);
      for (const m of messages) {
        expect(native.verify(pk, m, noble.sign(sk, m))).toBe(true);
        expect(noble.verify(pk, m, native.sign(sk, m))).toBe(true);
      }
    }
  });

  it('rejects, never throws, on malformed or wrong inputs, like noble', () => {
    const sk = seeds[0]!;
    const pk = noble.publicKeyOf(sk);
    const m = messages[1]!;
    const sig = noble.sign(sk, m);
    const flip = (hex: string, at: number): string =>
      hex.slice(0, at) + ((parseInt(hex[at]!, 16) ^ 1).toString(16)) + hex.slice(at + 1);
    // S + L: the same signature with a non-canonical scalar (RFC 8032 requires S < L).
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    const sBytes = Uint8Array.from(Buffer.from(sig.slice(64), 'hex'));
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sBytes[i]!);
    let sl = s + L;
    const slBytes = new Uint8Array(32);
    for (let i = 0; i < 32; i++, sl >>= 8n) slBytes[i] = Number(sl & 0xffn);
    const cases: Array<[string, Uint8Array, string]> = [
      [pk, m, flip(sig, 3)],
      [pk, m, flip(sig, 100)],
      [pk, utf8('another message'), sig],
      [noble.publicKeyOf(seeds[1]!), m, sig],
      [flip(pk, 5), m, sig],
      [pk, m, sig.slice(0, 64) + toHex(slBytes)],
      [pk, m, sig.toUpperCase()],
      [pk.toUpperCase(), m, sig],
      [pk, m, sig.slice(2)],
      [pk.slice(2), m, sig],
      [pk, m, sig + '00'],
      [pk, m, 'zz' + sig.slice(2)],
      ['', m, ''],
      ['ff'.repeat(32), m, sig],
    ];
    for (const [k, msg, sg] of cases) {
      expect(noble.verify(k, msg, sg)).toBe(false);
      expect(native.verify(k, msg, sg)).toBe(false);
    }
    expect(native.verify(null as unknown as string, m, sig)).toBe(false);
    expect(native.verify(pk, m, 42 as unknown as string)).toBe(false);
  });

  it('refuses small-order public keys, whose (identity, 0) signature OpenSSL takes for any message', () => {
    const universal = '01' + '00'.repeat(31) + '00'.repeat(32);
    const keys = smallOrderPoints();
    // Non-canonical spellings: y = p and y = p + 1, and the sign bit set on x = 0 points.
    const p = 'ed' + 'ff'.repeat(30) + '7f';
    keys.push(p, 'ee' + 'ff'.repeat(30) + '7f', '01' + '00'.repeat(30) + '80', 'ec' + 'ff'.repeat(30) + 'ff');
    for (const k of keys) {
      for (const m of messages) {
        expect(native.verify(k, m, universal)).toBe(false);
        expect(noble.verify(k, m, universal)).toBe(false);
      }
    }
  });

  it('throws on a malformed secret key, like noble', () => {
    for (const bad of ['11'.repeat(31), 'AB'.repeat(32), 'x'.repeat(64)]) {
      expect(() => native.sign(bad, messages[0]!)).toThrow();
      expect(() => noble.sign(bad, messages[0]!)).toThrow();
      expect(() => native.publicKeyOf(bad)).toThrow();
    }
  });

  it('keeps at most its capacity of public keys however many it is shown', () => {
    const small = nodeEd25519Scheme({ publicKeys: 8 });
    const m = messages[1]!;
    for (let i = 0; i < 40; i++) {
      const sk = i.toString(16).padStart(2, '0').repeat(32);
      expect(small.verify(noble.publicKeyOf(sk), m, noble.sign(sk, m))).toBe(true);
    }
    expect(small.cachedPublicKeys()).toBe(8);
  });
});

describe('LruCache', () => {
  it('drops the least recently used entry first', () => {
    const c = new LruCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1);
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
  });
});

describe('nodeSha256', () => {
  it('gives the same digests as @noble/hashes, and the core hashes alike once registered', () => {
    const values: unknown[] = [{ a: 1, b: ['x', 'é'] }, 'plain', 42, [null, true, { z: '😀' }]];
    for (const m of messages) expect(toHex(nodeSha256(m))).toBe(toHex(sha256(m)));
    const before = values.map((v) => hashOf(v));
    const raw = messages.map((m) => hashBytes(m));
    let calls = 0;
    registerSha256((b) => {
      calls++;
      return nodeSha256(b);
    });
    try {
      expect(values.map((v) => hashOf(v))).toEqual(before);
      expect(messages.map((m) => hashBytes(m))).toEqual(raw);
      expect(calls).toBe(values.length + messages.length);
    } finally {
      registerSha256(null);
    }
  });
});

describe('utf8', () => {
  it('encodes like TextEncoder, lone surrogates included', () => {
    const enc = new TextEncoder();
    for (const s of ['', 'abc', 'é', '€', '😀', 'a\ud800b', '\udc00', 'x\ud83d', 'mixed ü 中 😀 end'])
      expect(toHex(utf8(s))).toBe(toHex(enc.encode(s)));
  });
});
