/**
 * Generated hostile input for the fuzz tests at the network's entry points (server/fuzz*.test.ts):
 * valid messages of every type with one part broken, structural junk and random bytes. Drawn with
 * a fixed seed so that a failing case replays; the seed is in each test's name.
 */
import fc from 'fast-check';
import {
  CLIENT_MESSAGE_TYPES,
  MAX_CLIENT_MESSAGE_BYTES,
  PROTOCOL_VERSION,
} from '../src/protocol/messages.js';
import { packFrames } from '../src/protocol/peerCodec.js';

/** Values that stress parsers: wrong types, edges of numbers, prototype keys, long and odd strings. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    -1,
    0,
    1e308,
    -1e308,
    2 ** 53,
    2 ** 31,
    -0,
    0.5,
    '',
    '__proto__',
    'constructor',
    'admin',
    '@admin',
    '../../etc/passwd',
    '\u0000',
    '\ud800',
    '%00',
    [],
    {},
    { __proto__: { polluted: true } },
  ),
  fc.string({ maxLength: 64, unit: 'binary' }),
  fc.integer(),
  fc.double(),
);

/** One valid example of every client message type (the server may still refuse it in context). */
export function validClientMessages(site = 'meadow'): Array<Record<string, unknown>> {
  return [
    { type: 'hello', v: PROTOCOL_VERSION, token: 'x'.repeat(43) },
    { type: 'action', actionNo: 1, action: { kind: 'move', dir: 'up' } },
    { type: 'action', actionNo: 2, action: { kind: 'say', text: 'hi' } },
    { type: 'ping', id: 1, t: 123.5 },
    { type: 'key', key: 'a'.repeat(64), sig: 'b'.repeat(128) },
    { type: 'prefs', serve: true },
    { type: 'signal', from: 'mallory', to: 's1~abcd', data: { type: 'offer', sdp: 'v=0' } },
    {
      type: 'signal',
      from: 'mallory',
      to: 's1~abcd',
      data: {
        type: 'candidate',
        candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' },
      },
    },
    { type: 'peer', as: 'user', site, id: 1, index: 0, count: 1, data: 'AAEC' },
    { type: 'peer', as: 'server', site, id: 2, index: 0, count: 2, data: '' },
    { type: 'linkFailed', site, as: 'user', peer: 'nobody' },
    {
      type: 'serverStats',
      site,
      status: 'running',
      offset: 1,
      lag: 2,
      timeslotSeq: 3,
      trmSent: 0,
      trmReceived: 0,
      bytesInPerSec: 1,
      bytesOutPerSec: 1,
      links: 2,
    },
  ];
}

/** A valid message with one field replaced, removed or added, or one nested in another. */
function mutated(valid: Array<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc
    .tuple(
      fc.constantFrom(...valid),
      fc.nat(),
      oddValue,
      fc.constantFrom('replace', 'remove', 'add', 'nest', 'retype'),
    )
    .map(([msg, i, v, how]) => {
      const out: Record<string, unknown> = { ...msg };
      const keys = Object.keys(out).filter((k) => k !== 'type');
      const k = keys[i % Math.max(1, keys.length)] ?? 'x';
      if (how === 'replace') out[k] = v;
      else if (how === 'remove') delete out[k];
      else if (how === 'add') out[['__proto__', 'constructor', 'extra', 'user', 'as'][i % 5]!] = v;
      else if (how === 'nest') out[k] = { ...msg };
      else out.type = CLIENT_MESSAGE_TYPES[i % CLIENT_MESSAGE_TYPES.length];
      return out;
    });
}

/** One WebSocket frame from a hostile client: text (JSON or not) or binary. */
export type Frame = { text: string } | { binary: Uint8Array };

export function clientFrame(site = 'meadow'): fc.Arbitrary<Frame> {
  const valid = validClientMessages(site);
  const json = fc.oneof(
    { weight: 6, arbitrary: mutated(valid) },
    { weight: 1, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    {
      weight: 1,
      arbitrary: fc.record(
        { type: fc.oneof(fc.constantFrom(...CLIENT_MESSAGE_TYPES), oddValue) },
        { requiredKeys: [] },
      ),
    },
  );
  return fc.oneof(
    { weight: 8, arbitrary: json.map((v) => ({ text: JSON.stringify(v) ?? 'undefined' })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }).map((text) => ({ text })) },
    // Just under and over the frame size cap.
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: MAX_CLIENT_MESSAGE_BYTES - 8, max: MAX_CLIENT_MESSAGE_BYTES + 8 })
        .map((n) => ({ text: `{"type":"ping","id":1,"t":1,"p":"${'x'.repeat(Math.max(0, n - 34))}"}` })),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((binary) => ({ binary })) },
  );
}

/** Bytes for a data channel: random, or a valid frame flipped, cut, extended or spliced. */
export function peerBytes(valid: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const random = fc.uint8Array({ maxLength: 600 });
  if (valid.length === 0) return random;
  const broken = fc
    .tuple(
      fc.constantFrom(...valid),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom('flip', 'cut', 'extend', 'splice', 'byte'),
    )
    .map(([v, i, b, how]) => {
      const at = v.length === 0 ? 0 : i % v.length;
      if (how === 'cut') return v.slice(0, at);
      if (how === 'extend') return Uint8Array.from([...v, ...new Uint8Array(1 + (i % 64)).fill(b)]);
      if (how === 'splice')
        return Uint8Array.from([...v.slice(0, at), ...valid[i % valid.length]!.slice(at)]);
      const out = Uint8Array.from(v);
      if (out.length > 0) out[at] = how === 'flip' ? out[at]! ^ (1 << (b % 8)) : b;
      return out;
    });
  return fc.oneof({ weight: 1, arbitrary: random }, { weight: 3, arbitrary: broken });
}

/**
 * Bundles (several frames in one data-channel frame): of valid and broken frames, and bundles
 * themselves broken (flipped, cut or extended).
 */
export function bundleBytes(valid: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const bundle = fc
    .array(peerBytes(valid).filter((f) => f.length > 0), { minLength: 2, maxLength: 6 })
    .map((frames) => packFrames(frames)[0] ?? new Uint8Array(0));
  const broken = fc.tuple(bundle, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'extend')).map(([v, i, b, how]) => {
    const at = v.length === 0 ? 0 : i % v.length;
    if (how === 'cut') return v.slice(0, at);
    if (how === 'extend') return Uint8Array.from([...v, b]);
    const out = Uint8Array.from(v);
    if (out.length > 0) out[at] = out[at]! ^ (1 << (b % 8));
    return out;
  });
  return fc.oneof({ weight: 1, arbitrary: bundle }, { weight: 1, arbitrary: broken });
}

/** An HTTP request from a hostile client. */
export interface HttpCase {
  method: string;
  path: string;
  contentType: string | null;
  body: Uint8Array | string | null;
}

const apiPaths = [
  '/api/register',
  '/api/login',
  '/api/guest',
  '/api/sites',
  '/api/health',
  '/api',
  '/api/',
  '/api/nope',
  '/api/admin',
  '/api//register',
  '/api/register/',
];
const otherPaths = [
  '/',
  '/index.html',
  '/admin',
  '/ws',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/..%2f..%2fetc%2fpasswd',
  '/assets/%00.js',
  '/assets/..%5c..%5cpackage.json',
  '//etc/passwd',
  '/%ff',
  '/a?b=%zz',
];

export const httpCase: fc.Arbitrary<HttpCase> = fc.record({
  method: fc.constantFrom(
    'GET',
    'POST',
    'POST',
    'POST',
    'PUT',
    'DELETE',
    'PATCH',
    'OPTIONS',
    'HEAD',
    'TRACE',
  ),
  path: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...apiPaths) },
    { weight: 1, arbitrary: fc.constantFrom(...otherPaths) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...apiPaths), fc.webQueryParameters()).map(([p, q]) => `${p}?${q}`),
    },
    { weight: 1, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
  ),
  contentType: fc.constantFrom(
    'application/json',
    'application/json',
    'text/plain',
    'application/json; charset=utf-16',
    'multipart/form-data; boundary=x',
    null,
  ),
  body: fc.oneof(
    {
      weight: 4,
      arbitrary: mutated([
        { name: 'mallory', password: 'secret-pass' },
        { name: 'admin' },
        { site: 'meadow' },
        {},
      ]).map((v) => JSON.stringify(v) ?? ''),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? '') },
    { weight: 1, arbitrary: fc.string({ maxLength: 300, unit: 'binary' }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1000, max: 40_000 }).map((n) => `{"name":"${'a'.repeat(n)}"}`),
    },
    { weight: 1, arbitrary: fc.constant(null) },
  ),
});

/** Shows a generated case in a failure message (bytes as a short hex prefix). */
export function show(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes(${v.length}):${Buffer.from(v.slice(0, 48)).toString('hex')}`;
  const s = JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bytes(${x.length})` : x));
  return (s ?? String(v)).slice(0, 300);
}
