import { describe, expect, it } from 'vitest';
import { ChunkAssembler, splitChunks } from '../../src/protocol/chunks.js';
import { insecureFastScheme } from '../../src/protocol/crypto.js';
import { keyProofBytes } from '../../src/protocol/keys.js';
import { decodePeerMessage, encodePeerMessage, type ClientMessage, type PeerMessage, type PeerRole, type ServerMessage } from '../../src/protocol/messages.js';
import { PeerRegistry } from './peers.js';
import { PeerRelay, type Assignments } from './relay.js';

const crypto = insecureFastScheme;

/** meadow: servers amy~ and ben~, users ula and uma (and `moreUsers`); lake: server cal~, user uli. */
function world(moreUsers: string[] = []) {
  const registry = new PeerRegistry(crypto, { maxServerRttMs: 400, maxLinkFailures: 3 });
  const inbox = new Map<string, ServerMessage[]>();
  const ids = new Map<string, string>();
  // `admin`: a player under the admin's peer id, as an older database may still hold one.
  for (const user of ['amy', 'ben', 'cal', 'ula', 'uma', 'uli', 'zed', 'admin']) {
    inbox.set(user, []);
    const challenge = registry.open(user, { send: (m) => inbox.get(user)?.push(m) });
    const secret = Buffer.from(user.padEnd(32, '#')).toString('hex');
    const key = crypto.publicKeyOf(secret);
    const r = registry.registerKey(user, key, crypto.sign(secret, keyProofBytes(challenge, user, key)));
    if (!r.ok) throw new Error(r.message);
    ids.set(user, r.serverId);
  }
  const id = (user: string): string => ids.get(user) ?? '';
  const sites: Record<string, { servers: string[]; users: string[] }> = {
    meadow: { servers: [id('amy'), id('ben')], users: ['ula', 'uma', ...moreUsers] },
    lake: { servers: [id('cal')], users: ['uli'] },
  };
  // zed~ served meadow once and lost its slot.
  const past: Record<string, string[]> = { meadow: [id('zed')] };
  const assigned: Assignments = {
    isServer: (site, s) => sites[site]?.servers.includes(s) ?? false,
    wasServer: (site, s) => past[site]?.includes(s) ?? false,
    isUser: (site, u) => sites[site]?.users.includes(u) ?? false,
    p2pSites: () => Object.keys(sites),
  };
  const relay = new PeerRelay(registry, assigned, () => 0);
  return { registry, relay, inbox, id };
}

/** The `peer` client messages that carry `msg`, as `as` on `site`. */
function envelopes(msg: PeerMessage, as: PeerRole, site: string, id = 1): Array<Extract<ClientMessage, { type: 'peer' }>> {
  const chunks = splitChunks(encodePeerMessage(msg));
  return chunks.map((data, index) => ({ type: 'peer', as, site, id, index, count: chunks.length, data }));
}

const flag = (site: string): PeerMessage => ({ type: 'flagReport', site, server: 'amy~0001', seq: 3, reason: 'differs' });
const bigChunk = (site: string): PeerMessage => ({
  type: 'stateChunk',
  site,
  seq: 4,
  hash: 'ab'.repeat(16),
  index: 0,
  count: 1,
  data: Uint8Array.from({ length: 7000 }, (_, i) => i & 255),
});

describe('PeerRelay.allowed', () => {
  it('lets servers of one site and a site\'s users with its servers signal each other, and nobody else', () => {
    const { relay, id } = world();
    const [amy, ben, cal] = [id('amy'), id('ben'), id('cal')];
    const yes: Array<[string, string]> = [
      [amy, ben], // servers of one site
      [ben, amy],
      ['ula', amy], // a user and a server of its site
      [amy, 'ula'],
      ['uli', cal],
    ];
    const no: Array<[string, string]> = [
      ['ula', 'uma'], // two users of one site
      [amy, cal], // servers of two sites
      [amy, 'uli'], // a server of meadow and a user of lake
      ['uli', amy],
      ['ula', cal],
      [amy, amy],
      ['zed', amy], // on no P2P site
      [id('zed'), amy],
    ];
    for (const [a, b] of yes) expect(relay.allowed(a, b), `${a} - ${b}`).toBe(true);
    for (const [a, b] of no) expect(relay.allowed(a, b), `${a} - ${b}`).toBe(false);
  });
});

describe('a player named like a protocol identity', () => {
  it('never gets its signals or peer messages labelled as the admin\'s', () => {
    const { relay, inbox, id } = world(['admin']);
    const amy = id('amy');
    expect(relay.signal('admin', { type: 'signal', from: 'admin', to: amy, data: { type: 'offer', sdp: '' } })?.code).toBe('ERR_UNKNOWN_PEER');
    expect(relay.signal('ula', { type: 'signal', from: 'ula', to: 'admin', data: { type: 'offer', sdp: '' } })?.code).toBe('ERR_NAME_RESERVED');
    const [e] = envelopes(flag('meadow'), 'user', 'meadow');
    expect(relay.receive('admin', e!)).toMatchObject({ ok: false, code: 'ERR_NAME_RESERVED' });
    expect((inbox.get('amy') ?? []).some((m) => m.type === 'signal')).toBe(false);
    expect((inbox.get('admin') ?? []).some((m) => m.type === 'signal')).toBe(false);
  });
});

describe('PeerRelay.deliver', () => {
  it('chunks a message to a server id as `server`, to a user name as `user`, and it reassembles', () => {
    const { relay, inbox, id } = world();
    const msg = bigChunk('meadow');
    expect(relay.deliver('meadow', id('amy'), msg)).toBe(true);
    expect(relay.deliver('meadow', 'ula', flag('meadow'))).toBe(true);
    const toAmy = (inbox.get('amy') ?? []).flatMap((m) => (m.type === 'peer' ? [m] : []));
    expect(toAmy.length).toBeGreaterThan(3);
    expect(toAmy.map((m) => ({ to: m.to, site: m.site, id: m.id, index: m.index, count: m.count }))).toEqual(
      toAmy.map((_, index) => ({ to: 'server', site: 'meadow', id: toAmy[0]?.id, index, count: toAmy.length })),
    );
    const asm = new ChunkAssembler();
    let whole: Uint8Array | null = null;
    for (const m of toAmy) {
      const r = asm.add('admin', m, 0);
      if (r?.ok) whole = r.value;
    }
    expect(whole && decodePeerMessage(whole)).toEqual({ ok: true, value: msg });
    const toUla = inbox.get('ula') ?? [];
    expect(toUla).toHaveLength(1);
    expect(toUla[0]).toMatchObject({ type: 'peer', to: 'user', site: 'meadow', index: 0, count: 1 });
    expect(relay.deliver('meadow', 'nobody', flag('meadow'))).toBe(false);
  });
});

describe('PeerRelay.receive', () => {
  it('reassembles a server\'s message and stamps its server id as the sender', () => {
    const { relay, id } = world();
    const env = envelopes(bigChunk('meadow'), 'server', 'meadow');
    expect(env.length).toBeGreaterThan(3);
    const results = env.map((e) => relay.receive('amy', e));
    for (const r of results.slice(0, -1)) expect(r).toEqual({ ok: true, done: null });
    expect(results.at(-1)).toEqual({ ok: true, done: { site: 'meadow', from: id('amy'), msg: bigChunk('meadow') } });
  });

  it('stamps a user\'s name as the sender of what it says as user', () => {
    const { relay } = world();
    const [e] = envelopes(flag('meadow'), 'user', 'meadow');
    expect(relay.receive('ula', e!)).toEqual({ ok: true, done: { site: 'meadow', from: 'ula', msg: flag('meadow') } });
  });

  it('refuses a role the tab was not given on that site', () => {
    const { relay } = world();
    const [asUser] = envelopes(flag('lake'), 'user', 'lake');
    const [asServer] = envelopes({ type: 'updateHash', site: 'lake', seq: 1, hash: 'cd'.repeat(16) }, 'server', 'lake');
    expect(relay.receive('ula', asUser!)).toMatchObject({ ok: false, code: 'ERR_NOT_ASSIGNED' }); // a user of meadow, not lake
    expect(relay.receive('amy', asServer!)).toMatchObject({ ok: false, code: 'ERR_NOT_ASSIGNED' }); // a server of meadow, not lake
    expect(relay.receive('uli', asServer!)).toMatchObject({ ok: false, code: 'ERR_NOT_ASSIGNED' }); // lake's user, not its server
    expect(relay.receive('cal', asServer!)).toMatchObject({ ok: true });
    // Serving meadow does not make amy one of its users.
    expect(relay.receive('amy', envelopes(flag('meadow'), 'user', 'meadow')[0]!)).toMatchObject({ ok: false, code: 'ERR_NOT_ASSIGNED' });
    expect(relay.receive('stranger', asUser!)).toMatchObject({ ok: false, code: 'ERR_NOT_AUTHENTICATED' });
  });

  it('lets a server send the admin only server messages, and a user only flag reports', () => {
    const { relay } = world();
    const fromUser: PeerMessage[] = [
      { type: 'updateHash', site: 'meadow', seq: 1, hash: 'cd'.repeat(16) },
      { type: 'action', site: 'meadow', user: 'ula', actionNo: 1, action: { kind: 'pickup' } },
      { type: 'stateRequest', site: 'meadow', seq: null },
    ];
    for (const m of fromUser) expect(relay.receive('ula', envelopes(m, 'user', 'meadow')[0]!), m.type).toMatchObject({ ok: false, code: 'ERR_NOT_ASSIGNED' });
    const fromServer: PeerMessage[] = [flag('meadow'), { type: 'action', site: 'meadow', user: 'amy', actionNo: 1, action: { kind: 'pickup' } }, { type: 'hashRequest', site: 'meadow', seq: 1 }];
    for (const m of fromServer) expect(relay.receive('amy', envelopes(m, 'server', 'meadow')[0]!), m.type).toMatchObject({ ok: false, code: 'ERR_NOT_ASSIGNED' });
    const allowed: PeerMessage[] = [
      { type: 'updateHash', site: 'meadow', seq: 1, hash: 'cd'.repeat(16) },
      { type: 'withdrawRequest', site: 'meadow', epoch: 1, no: 1, target: 'ben~0002' },
    ];
    for (const m of allowed) expect(relay.receive('amy', envelopes(m, 'server', 'meadow')[0]!), m.type).toMatchObject({ ok: true });
  });

  it('lets a past server of the site send only its word on updates (sim/FINDINGS.md 76)', () => {
    const { relay, id } = world();
    const hash: PeerMessage = { type: 'updateHash', site: 'meadow', seq: 22, hash: 'cd'.repeat(16) };
    expect(relay.receive('zed', envelopes(hash, 'server', 'meadow')[0]!)).toEqual({ ok: true, done: { site: 'meadow', from: id('zed'), msg: hash } });
    const refused: PeerMessage[] = [
      { type: 'withdrawRequest', site: 'meadow', epoch: 1, no: 1, target: 'ben~0002' },
      { type: 'membershipRequest', site: 'meadow', epoch: 1, no: 1, kind: 'ignore', target: 'ben~0002', held: null },
    ];
    for (const m of refused) expect(relay.receive('zed', envelopes(m, 'server', 'meadow', 2)[0]!), m.type).toMatchObject({ ok: false, code: 'ERR_NOT_ASSIGNED' });
    // Not of another site it never served.
    expect(relay.receive('zed', envelopes({ ...hash, site: 'lake' }, 'server', 'lake', 3)[0]!)).toMatchObject({ ok: false, code: 'ERR_NOT_ASSIGNED' });
  });

  it('refuses a message for another site than its envelope\'s', () => {
    const { relay } = world();
    expect(relay.receive('ula', envelopes(flag('lake'), 'user', 'meadow')[0]!)).toMatchObject({ ok: false, code: 'ERR_WRONG_SITE' });
    expect(relay.receive('amy', envelopes({ type: 'updateHash', site: 'lake', seq: 1, hash: 'cd'.repeat(16) }, 'server', 'meadow')[0]!)).toMatchObject({ ok: false, code: 'ERR_WRONG_SITE' });
  });

  it('keeps the chunks a tab sends as server and as user apart', () => {
    // amy serves meadow and plays on it too.
    const { relay, id } = world(['amy']);
    const env = envelopes(bigChunk('meadow'), 'server', 'meadow', 9);
    for (const e of env.slice(0, -1)) expect(relay.receive('amy', e)).toEqual({ ok: true, done: null });
    const last = env.at(-1)!;
    expect(relay.receive('amy', { ...last, as: 'user' })).toEqual({ ok: true, done: null });
    expect(relay.receive('amy', last)).toEqual({ ok: true, done: { site: 'meadow', from: id('amy'), msg: bigChunk('meadow') } });
  });

  it('forgets a closed connection\'s partial messages', () => {
    const { relay } = world();
    const env = envelopes(bigChunk('meadow'), 'server', 'meadow', 9);
    for (const e of env.slice(0, -1)) relay.receive('amy', e);
    relay.forget('amy');
    expect(relay.receive('amy', env.at(-1)!)).toEqual({ ok: true, done: null });
  });
});
