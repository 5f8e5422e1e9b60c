import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromBase64, toBase64 } from './chunks.js';

const bytesOf = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 255);

describe('base64', () => {
  it('round-trips any bytes, of every length mod 3 and empty, and encodes as the standard alphabet does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(text)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
    for (const n of [0, 1, 2, 3, 4, 5]) expect(fromBase64(toBase64(bytesOf(n)))).toEqual(bytesOf(n));
    expect(toBase64(new Uint8Array(0))).toBe('');
    expect(fromBase64('')).toEqual(new Uint8Array(0));
  });

  it('refuses text that is not canonical base64', () => {
    for (const bad of [
      'QQ', // no padding
      'QQ=', // length not a multiple of 4
      'Q===', // too much padding
      '====',
      'QQ==QQ==', // padding in the middle
      'QQ=A',
      'QU*D', // not in the alphabet
      'QU-D', // base64url
      ' QUJD',
      'QR==', // nonzero bits past the last byte: 'QQ==' is the one encoding of 'A'
      'QUJ=', // same with one pad: 'QUI=' is the one encoding of 'AB'
    ]) {
      expect(fromBase64(bad), bad).toBeNull();
    }
  });
});
