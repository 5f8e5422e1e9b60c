/**
 * A message decoded from the wire is validated once (parsed.ts): decodePeerMessage's result is
 * known as parsed and a core's receive takes it as is; any other object is validated.
 */
import { describe, expect, it } from 'vitest';
import { decodePeerMessage, encodePeerMessage, parsePeerMessage, type PeerMessage } from './messages.js';
import { alreadyParsed } from './parsed.js';

const echo: PeerMessage = { type: 'echo', site: 'meadow', heads: [['s1', 3, 'ab'.repeat(16)]] };

describe('parsed once', () => {
  it('what decodePeerMessage returns is known as parsed, the same object', () => {
    const r = decodePeerMessage(encodePeerMessage(echo));
    if (!r.ok) throw new Error(r.message);
    expect(alreadyParsed(r.value)).toEqual({ ok: true, value: r.value });
  });

  it('a look-alike object, a failed parse and non-objects are not', () => {
    expect(alreadyParsed({ ...echo })).toBeNull();
    const bad = { type: 'echo', site: 'meadow', heads: 'nope' };
    expect(parsePeerMessage(bad).ok).toBe(false);
    expect(alreadyParsed(bad)).toBeNull();
    for (const v of [null, undefined, 'echo', 7]) expect(alreadyParsed(v)).toBeNull();
  });
});
