import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT, hashPassword, verifyPassword } from './password.js';

describe('passwords', () => {
  it('hashes with a random salt and the default scrypt cost, and verifies', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a.params).toEqual(DEFAULT_SCRYPT);
    expect(a.salt).toMatch(/^[0-9a-f]{32}$/);
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('verifies with the parameters stored alongside the hash', async () => {
    const cheap = { N: 1024, r: 8, p: 1, keylen: 16 };
    const h = await hashPassword('pässwörd', cheap);
    expect(h.hash).toHaveLength(32);
    expect(await verifyPassword('pässwörd', h)).toBe(true);
    // The same text in another Unicode normalisation form is the same password.
    expect(await verifyPassword('pa\u0308sswo\u0308rd', h)).toBe(true);
  });
});
