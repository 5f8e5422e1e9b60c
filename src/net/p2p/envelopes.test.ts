/** A tab's `peer` envelopes (envelopes.ts): what it wraps the admin's relay takes apart, and back. */
import { describe, expect, it } from 'vitest';
import {
  PEER_CHUNK_BYTES,
  type ClientMessage,
  type PeerMessage,
  type ServerMessage,
} from '../../protocol/messages.js';
import { TabEnvelopes } from './envelopes.js';

type ToTab = Extract<ServerMessage, { type: 'peer' }>;

/** The admin's envelopes to a tab's `to` carry the same chunk fields (relay.ts deliver). */
const toTab = (e: Extract<ClientMessage, { type: 'peer' }>, to: ToTab['to'] = e.as): ToTab => ({
  type: 'peer',
  to,
  site: e.site,
  id: e.id,
  index: e.index,
  count: e.count,
  data: e.data,
});

/** A state chunk big enough to need several envelopes; `seq` tells two apart. */
const big = (seq: number): PeerMessage => ({
  type: 'stateChunk',
  site: 'meadow',
  seq,
  hash: 'ab'.repeat(16),
  index: 0,
  count: 1,
  data: Uint8Array.from({ length: 7000 }, (_, i) => (i * seq) & 255),
});

describe('TabEnvelopes', () => {
  it('joins two chunked messages whose envelopes interleave, each under its own id', () => {
    const tab = new TabEnvelopes();
    const a = tab.wrap('server', 'meadow', big(1));
    const b = tab.wrap('server', 'meadow', big(2));
    expect(a.length).toBeGreaterThan(1);
    expect(a[0]?.data.length).toBeGreaterThanOrEqual(Math.floor((PEER_CHUNK_BYTES * 4) / 3));
    expect(new Set([...a, ...b].map((e) => e.id)).size).toBe(2);
    const reader = new TabEnvelopes();
    const got: PeerMessage[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      for (const e of [b[i], a[i]]) {
        if (!e) continue;
        const r = reader.unwrap(toTab(e), 0);
        if (r === null) continue;
        if (!r.ok) throw new Error(r.message);
        got.push(r.value);
      }
    }
    expect(got.map((m) => (m.type === 'stateChunk' ? m.seq : -1)).sort()).toEqual([1, 2]);
  });

  it('is null until the last chunk came, and an error for a bad chunk or bytes that are no peer message', () => {
    const tab = new TabEnvelopes();
    const env = tab.wrap('user', 'meadow', big(3)).map((e) => toTab(e));
    for (const e of env.slice(0, -1)) expect(tab.unwrap(e, 0)).toBeNull();
    expect(tab.unwrap(env.at(-1)!, 0)).toMatchObject({ ok: true, value: { type: 'stateChunk', seq: 3 } });
    expect(tab.unwrap({ ...env[0]!, index: 99 }, 0)).toMatchObject({ ok: false, code: 'ERR_MALFORMED' });
    expect(tab.unwrap({ ...env[0]!, id: 7, count: 1, index: 0, data: 'AAAA' }, 0)).toMatchObject({
      ok: false,
    });
  });
});
