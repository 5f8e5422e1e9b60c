import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from './errors.js';
import {
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_PASSWORD,
  PROTOCOL_VERSION,
  isValidUserName,
  parseClientMessage,
  parseCredentials,
  parseGuestRequest,
} from './messages.js';
import { MAX_SAY_LENGTH } from '../game/text.js';

const code = (raw: string | Uint8Array) => {
  const r = parseClientMessage(raw);
  return r.ok ? 'ok' : r.code;
};
const json = (v: unknown) => JSON.stringify(v);

describe('parseClientMessage accepts', () => {
  it.each([
    { type: 'hello', v: PROTOCOL_VERSION, token: 'abc' },
    { type: 'action', actionNo: 1, action: { kind: 'move', dir: 'up' } },
    { type: 'action', actionNo: Number.MAX_SAFE_INTEGER, action: { kind: 'pickup' } },
    { type: 'action', actionNo: 7, action: { kind: 'say', text: 'hi' } },
    { type: 'action', actionNo: 8, action: { kind: 'portal' } },
    { type: 'ping', id: 0, t: 123.5 },
    { type: 'logout' },
  ])('%j', (msg) => {
    expect(parseClientMessage(json(msg))).toEqual({ ok: true, value: msg });
  });
});

describe('parseClientMessage rejects', () => {
  it.each([
    ['empty', ''],
    ['garbage', 'not json at all'],
    ['truncated JSON', '{"type":"hello"'],
    ['a number', '42'],
    ['null', 'null'],
    ['a string', '"hello"'],
  ])('malformed JSON: %s', (_what, raw) => {
    expect(code(raw)).toBe('ERR_MALFORMED');
  });

  it('arrays', () => {
    expect(code(json([{ type: 'logout' }]))).toBe('ERR_MALFORMED');
  });

  it.each([{}, { type: 'teleport' }, { type: 42 }, { type: null }, { type: '__proto__' }, { type: 'HELLO' }])(
    'unknown type %j',
    (msg) => {
      expect(code(json(msg))).toBe('ERR_UNKNOWN_TYPE');
    },
  );

  it.each([
    { type: 'logout', extra: 1 },
    { type: 'hello', v: 1, token: 'x', admin: true },
    { type: 'ping', id: 1, t: 2, x: 3 },
    { type: 'action', actionNo: 1, action: { kind: 'move', dir: 'up', speed: 9 } },
    { type: 'action', actionNo: 1, action: { kind: 'pickup', item: 'meadow-1' } },
  ])('extra fields %j', (msg) => {
    expect(code(json(msg))).toBe('ERR_MALFORMED');
  });

  it.each([
    { type: 'hello', v: '1', token: 'x' },
    { type: 'hello', v: 1.5, token: 'x' },
    { type: 'hello', v: 1, token: 5 },
    { type: 'hello', v: 1, token: '' },
    { type: 'hello', v: 1, token: 'x'.repeat(129) },
    { type: 'hello', v: 1 },
    { type: 'ping', id: -1, t: 0 },
    { type: 'ping', id: 1, t: '0' },
    { type: 'ping', id: 1.5, t: 0 },
    { type: 'action', actionNo: '1', action: { kind: 'pickup' } },
    { type: 'action', actionNo: 1 },
    { type: 'action', actionNo: 1, action: 'pickup' },
    { type: 'action', actionNo: 1, action: { kind: 'fly' } },
    { type: 'action', actionNo: 1, action: { kind: 'join', user: { name: 'x' } } },
    { type: 'action', actionNo: 1, action: { kind: 'leave' } },
    { type: 'action', actionNo: 1, action: { kind: 'say', text: 5 } },
    { type: 'action', actionNo: 1, action: { kind: 'say', text: '' } },
  ])('wrong types %j', (msg) => {
    expect(code(json(msg))).toBe('ERR_MALFORMED');
  });

  it.each(['north', 'UP', '', null, 1])('bad dir %j', (dir) => {
    expect(code(json({ type: 'action', actionNo: 1, action: { kind: 'move', dir } }))).toBe('ERR_MALFORMED');
  });

  it.each([0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, 1e300])('actionNo %s', (actionNo) => {
    expect(code(json({ type: 'action', actionNo, action: { kind: 'pickup' } }))).toBe('ERR_MALFORMED');
  });

  it('non-finite numbers cannot even be written in JSON', () => {
    expect(code('{"type":"ping","id":1,"t":NaN}')).toBe('ERR_MALFORMED');
    expect(code('{"type":"ping","id":1,"t":Infinity}')).toBe('ERR_MALFORMED');
  });

  it('say too long', () => {
    const ok = 'a'.repeat(MAX_SAY_LENGTH * 4);
    expect(code(json({ type: 'action', actionNo: 1, action: { kind: 'say', text: ok } }))).toBe('ok');
    expect(code(json({ type: 'action', actionNo: 1, action: { kind: 'say', text: `${ok}a` } }))).toBe(
      'ERR_MALFORMED',
    );
  });

  it('oversized frames, counting UTF-8 bytes rather than characters', () => {
    const pad = (s: string) => json({ type: 'action', actionNo: 1, action: { kind: 'say', text: s } });
    expect(code(pad('a'.repeat(MAX_CLIENT_MESSAGE_BYTES)))).toBe('ERR_TOO_LARGE');
    // 1500 three-byte characters: under the limit in characters, over it in bytes.
    expect(code(pad('駅'.repeat(1500)))).toBe('ERR_TOO_LARGE');
    expect(code(new Uint8Array(MAX_CLIENT_MESSAGE_BYTES + 1))).toBe('ERR_TOO_LARGE');
  });

  it('binary frames', () => {
    expect(code(new TextEncoder().encode(json({ type: 'logout' })))).toBe('ERR_MALFORMED');
  });

  it('every rejection carries a known code and a message', () => {
    for (const raw of ['', '[]', '{"type":"x"}', json({ type: 'ping' })]) {
      const r = parseClientMessage(raw);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(ERROR_CODES).toContain(r.code);
        expect(r.message.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('parseCredentials', () => {
  it('accepts a name and a password', () => {
    expect(parseCredentials({ name: 'ann', password: 'secret' })).toEqual({
      ok: true,
      value: { name: 'ann', password: 'secret' },
    });
  });

  it.each([
    undefined,
    null,
    'ann:secret',
    [],
    ['ann', 'secret'],
    {},
    { name: 'ann' },
    { password: 'secret' },
    { name: 1, password: 'secret' },
    { name: 'ann', password: 123456 },
    { name: 'ann', password: 'secret', admin: true },
    { name: 'a'.repeat(65), password: 'secret' },
    { name: 'ann', password: 'p'.repeat(1025) },
  ])('rejects %j', (body) => {
    const r = parseCredentials(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe('ERR_MALFORMED');
  });

  it('leaves the name rule and password length to the server (they have their own codes)', () => {
    expect(parseCredentials({ name: '!!', password: 'x' }).ok).toBe(true);
    expect(parseCredentials({ name: 'ann', password: 'p'.repeat(MAX_PASSWORD + 1) }).ok).toBe(true);
  });
});

describe('parseGuestRequest', () => {
  it('accepts an empty body or a site', () => {
    expect(parseGuestRequest(undefined)).toEqual({ ok: true, value: {} });
    expect(parseGuestRequest({ site: 'town' })).toEqual({ ok: true, value: { site: 'town' } });
  });
  it.each([{ site: 5 }, { site: 'x'.repeat(65) }, { site: 'town', admin: true }, { name: 5 }, [], 'town'])(
    'rejects %j',
    (body) => {
      expect(parseGuestRequest(body).ok).toBe(false);
    },
  );
});

describe('user names', () => {
  it.each(['ann', 'Ann_99', 'a-b', 'x'.repeat(16)])('valid %s', (n) => expect(isValidUserName(n)).toBe(true));
  it.each(['ab', 'x'.repeat(17), 'ann smith', 'ann!', 'änn', ''])('invalid %s', (n) =>
    expect(isValidUserName(n)).toBe(false),
  );
});
