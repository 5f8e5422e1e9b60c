/**
 * A message decoded from the wire is validated once (parsed.ts): the object decodePeerMessage
 * returned last is known as parsed and a core's receive takes it as is; any other object is
 * validated.
 */
import { describe, expect, it } from 'vitest';
import { decodePeerMessage, encodePeerMessage, parsePeerMessage, type PeerMessage } from './messages.js';
import { alreadyParsed } from './parsed.js';

const echo: PeerMessage = { type: 'echo', site: 'meadow', heads: [['s1', 3, 'ab'.repeat(16)]] };

function decoded(m: PeerMessage): PeerMessage {
  const r = decodePeerMessage(encodePeerMessage(m));
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

describe('parsed once', () => {
  it('what decodePeerMessage returned last is known as parsed, the same object', () => {
    const m = decoded(echo);
    expect(alreadyParsed(m)).toEqual({ ok: true, value: m });
  });

  it('a look-alike object, an earlier message, a failed parse and non-objects are not', () => {
    const first = decoded(echo);
    const second = decoded({ ...echo, site: 'town' });
    expect(alreadyParsed(second)).not.toBeNull();
    expect(alreadyParsed(first)).toBeNull();
    expect(alreadyParsed({ ...second })).toBeNull();
    const bad = { type: 'echo', site: 'meadow', heads: 'nope' };
    expect(parsePeerMessage(bad).ok).toBe(false);
    expect(alreadyParsed(bad)).toBeNull();
    for (const v of [null, undefined, 'echo', 7]) expect(alreadyParsed(v)).toBeNull();
  });
});
