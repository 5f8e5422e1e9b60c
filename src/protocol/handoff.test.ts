/**
 * A replacement takes the state first from the server it replaces when that server's player
 * walked into the site (`stateFrom`): the walking player's tab sends its copy, and the newcomer
 * adopts it only once N_majority of the active servers vouch for its hash.
 */
import { describe, expect, it } from 'vitest';
import type { PeerMessage } from './messages.js';
import { appliedHashes, playMoves, setupSite } from './testing.js';

function walkIn(corrupt: boolean) {
  const s = setupSite({ nServer: 3, spares: 1 });
  const asked: string[] = [];
  s.net.rewrite = (from, to, m: PeerMessage) => {
    if (from === 'c0' && m.type === 'stateRequest') asked.push(to);
    // A leaving server whose copy is not what the majority applied.
    if (corrupt && from === 's1' && to === 'c0' && m.type === 'stateChunk') {
      const data = new Uint8Array(m.data);
      data[data.length - 2] = (data[data.length - 2] ?? 0) ^ 0xff;
      return { ...m, data };
    }
    return m;
  };
  s.makeServer('c0', { stateFrom: 's1' });
  playMoves(s, 10);
  expect(s.coordinator.evict('s1')).toBe(true);
  s.net.run(1500);
  playMoves(s, 10);
  s.net.run(2000);
  return { s, asked };
}

describe('a replacement for a server whose player walked in', () => {
  it('asks that server for the state first and plays on in step with the others', () => {
    const { s, asked } = walkIn(false);
    expect(asked).toEqual(['s1']);
    expect(s.coordinator.activeServers()).toContain('c0');
    const want = appliedHashes(s, 's0');
    expect(appliedHashes(s, 'c0').at(-1)).toBe(want.at(-1));
    expect(s.events.find((e) => e.node === 'c0' && e.e.kind === 'resynced')?.e).toMatchObject({ from: 's1' });
  });

  it('passes over that copy when the majority does not vouch for it, and takes the state from another', () => {
    const { s, asked } = walkIn(true);
    expect(asked[0]).toBe('s1');
    expect(asked.slice(1).some((id) => id === 's0' || id === 's2')).toBe(true);
    expect(s.events.find((e) => e.node === 'c0' && e.e.kind === 'resynced')?.e).toMatchObject({ from: expect.stringMatching(/^s[02]$/) });
    expect(appliedHashes(s, 'c0').at(-1)).toBe(appliedHashes(s, 's0').at(-1));
  });
});
