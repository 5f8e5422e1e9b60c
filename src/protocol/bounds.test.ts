/**
 * Memory a peer could make another grow (issue 17, finding 4): each store is bounded whatever a
 * server or user sends, and honest traffic still gets through once the bound is hit.
 */
import { describe, expect, it } from 'vitest';
import { makeSiteConfig } from './config.js';
import { addVote, emptyVotes } from './acceptance.js';
import { ZERO_HASH } from './crypto.js';
import {
  decodeTransfer,
  MAX_TRANSFER_BYTES,
  MAX_TRANSFER_CHUNKS,
  parsePeerMessage,
  type Member,
  type PeerMessage,
  type UpdateMessage,
} from './messages.js';
import { createContext } from './serverContext.js';
import { updateHash } from './signed.js';
import { onEcho, MAX_SUSPICIONS } from './timeslots.js';
import { playMoves, setupSite } from './testing.js';
import { insecureFastScheme } from './crypto.js';
import { createSiteUser } from './user.js';
import { encode as msgpackEncode } from '@msgpack/msgpack';

const h = (n: number): string => n.toString(16).padStart(32, '0');

function update(seq: number, salt: number): UpdateMessage {
  const body = { site: 'meadow', seq, prev: ZERO_HASH, window: seq * 100, applied: [], events: [], stateHash: h(salt) };
  return { type: 'update', ...body, hash: updateHash(body) };
}

describe('votes', () => {
  it('keep one full copy per server and seq: a server changing its vote cannot pile up copies', () => {
    const v = emptyVotes();
    const servers = new Set(['s0', 's1', 's2']);
    for (let i = 0; i < 200; i++) {
      const u = update(7, i);
      addVote(v, 's0', u.hash, u, servers);
    }
    expect(v.full.size).toBe(1);
    const honest = update(7, 1000);
    addVote(v, 's1', honest.hash, honest, servers);
    addVote(v, 's2', honest.hash, honest, servers);
    expect(v.full.size).toBe(2);
  });

  it('the coordinator keeps at most 64 undecided seqs; honest departures still pass', () => {
    const left: string[] = [];
    const s = setupSite({ nServer: 3, onLeft: (u) => left.push(u.name) });
    playMoves(s, 3);
    for (let seq = 1_000_000; seq < 1_001_000; seq++) {
      const u = update(seq, seq);
      s.coordinator.receive('s0', u);
    }
    const tooFar = s.events.filter((x) => x.node === 'admin' && x.e.kind === 'rejected' && x.e.code === 'ERR_TOO_FAR_AHEAD');
    expect(tooFar.length).toBe(1000 - 64);
    s.coordinator.systemAction('alice', { kind: 'leave' });
    s.net.run(1500);
    expect(left).toEqual(['alice']);
  });

  it('the coordinator takes flag reports only about servers the site has had', () => {
    const s = setupSite({ nServer: 3 });
    for (let i = 0; i < 100; i++) s.coordinator.receive('alice', { type: 'flagReport', site: 'meadow', server: `ghost${i}`, seq: 1, reason: 'x' });
    s.coordinator.receive('alice', { type: 'flagReport', site: 'meadow', server: 's1', seq: 1, reason: 'differs' });
    const admin = s.events.filter((x) => x.node === 'admin').map((x) => x.e);
    expect(admin.filter((e) => e.kind === 'flagged').map((e) => (e.kind === 'flagged' ? e.server : ''))).toEqual(['s1']);
    expect(admin.filter((e) => e.kind === 'rejected' && e.code === 'ERR_UNKNOWN_PEER')).toHaveLength(100);
  });
});

describe('a user', () => {
  it('keeps full copies only 32 updates ahead of what it accepted; later ones it asks for again', () => {
    const config = makeSiteConfig({ site: 'meadow', N_server: 3 });
    const sent: Array<{ to: string; m: PeerMessage }> = [];
    let now = 0;
    const user = createSiteUser({ config, user: 'alice', now: () => now, send: (to, m) => void sent.push({ to, m }), servers: ['s0', 's1', 's2'], seq: 0, hash: ZERO_HASH, nextActionNo: 1 });
    // A chain of 40 updates, all servers agreeing; the first one comes last.
    const chain: UpdateMessage[] = [];
    let prev = ZERO_HASH;
    for (let seq = 1; seq <= 40; seq++) {
      const body = { site: 'meadow', seq, prev, window: seq * 100, applied: [], events: [], stateHash: h(seq) };
      const u: UpdateMessage = { type: 'update', ...body, hash: updateHash(body) };
      chain.push(u);
      prev = u.hash;
    }
    for (const u of [...chain.slice(1), chain[0]!]) for (const s of ['s0', 's1', 's2']) user.receive(s, u);
    expect(user.lastAccepted().seq).toBe(32);
    // What it dropped it asks for in full once the votes have waited 2 T_timeslot.
    now = 2 * config.T_timeslot;
    user.tick();
    const asked = sent.flatMap((x) => (x.m.type === 'updateRequest' && x.to === 's0' ? [x.m.seq] : []));
    expect(asked).toEqual([33, 34, 35, 36, 37, 38, 39]);
  });
});

describe('a Site Server\'s bookkeeping of what peers echo', () => {
  function ctx() {
    const config = makeSiteConfig({ site: 'meadow', N_server: 3 });
    let now = 0;
    const c = createContext({
      config,
      id: 's0',
      secretKey: 'ab'.repeat(32),
      adminKey: insecureFastScheme.publicKeyOf('ad'.repeat(32)),
      crypto: insecureFastScheme,
      now: () => now,
      send: () => undefined,
    });
    const member = (id: string, slot: number): Member => ({ id, key: 'ab', slot, stints: [{ admit: 0, cut: null }] });
    for (const [i, id] of ['s0', 's1', 's2'].entries()) c.roster.members.set(id, member(id, i));
    return { c, tick: (ms: number) => (now += ms) };
  }

  it('keeps no claims about ids that are not members', () => {
    const { c } = ctx();
    for (let k = 0; k < 40; k++) {
      const heads = Array.from({ length: 256 }, (_, i) => [`x${k}-${i}`, 5, h(i)] as [string, number, string]);
      onEcho(c, 's1', { type: 'echo', site: 'meadow', heads });
    }
    expect(c.timeslots.pendingHead.get('s1')?.size ?? 0).toBe(0);
    onEcho(c, 's1', { type: 'echo', site: 'meadow', heads: [['s2', 5, h(1)]] });
    expect(c.timeslots.pendingHead.get('s1')?.get('s2')?.get(5)).toBe(h(1));
  });

  it('remembers a bounded number of suspicions, and old ones make room', () => {
    const { c, tick } = ctx();
    // s0 holds s2's chain up to 3000 (hashes of its own): s1 echoes other hashes for all of it.
    const chain = { top: { seq: 3000 }, anchor: { seq: 0, hash: ZERO_HASH }, hashOf: (n: number) => h(n) };
    c.timeslots.chains.set('s2', chain as unknown as never);
    for (let n = 1; n <= 3000; n += 256) {
      const heads = Array.from({ length: 256 }, (_, i) => ['s2', n + i, h(999_999)] as [string, number, string]);
      onEcho(c, 's1', { type: 'echo', site: 'meadow', heads: heads.filter((x) => x[1] <= 3000) });
    }
    expect(c.timeslots.suspicion.size).toBeLessThanOrEqual(MAX_SUSPICIONS);
    tick(c.cfg.T_timeout);
    onEcho(c, 's1', { type: 'echo', site: 'meadow', heads: [['s2', 42, h(999_999)]] });
    expect(c.timeslots.suspicion.size).toBe(1);
  });
});

describe('state transfers', () => {
  it('a chunk series is at most MAX_TRANSFER_CHUNKS long', () => {
    const chunk = (count: number) => ({ type: 'stateChunk', site: 'meadow', seq: 1, hash: h(1), index: 0, count, data: new Uint8Array(4) });
    expect(parsePeerMessage(chunk(MAX_TRANSFER_CHUNKS)).ok).toBe(true);
    expect(parsePeerMessage(chunk(MAX_TRANSFER_CHUNKS + 1)).ok).toBe(false);
  });

  it('decodeTransfer refuses bytes over MAX_TRANSFER_BYTES, and MessagePack past the schema\'s bounds before building it', () => {
    const big = decodeTransfer(new Uint8Array(MAX_TRANSFER_BYTES + 1));
    expect(big).toMatchObject({ ok: false, code: 'ERR_TOO_LARGE' });
    // An array of 150 000 elements: more than any list the schema allows.
    const wide = decodeTransfer(msgpackEncode({ update: Array.from({ length: 150_000 }, () => 0) }));
    expect(wide).toMatchObject({ ok: false, code: 'ERR_MALFORMED', message: 'not MessagePack' });
    const long = decodeTransfer(msgpackEncode({ update: 'x'.repeat(100_000) }));
    expect(long).toMatchObject({ ok: false, code: 'ERR_MALFORMED', message: 'not MessagePack' });
  });
});
