import { describe, expect, it } from 'vitest';
import { ed25519Scheme } from '../../src/protocol/crypto.js';
import { keyProofBytes } from '../../src/protocol/keys.js';
import { addressGroup, LINK_FAILURE_MEMORY_MS, MIN_SESSION_AGE_MS, MINORITY_BAR_MS, PeerRegistry, type Peer } from './peers.js';

const crypto = ed25519Scheme;
const tab = { send: () => undefined };
const secretOf = (user: string): string => Buffer.from(user.padEnd(32, '.')).toString('hex').slice(0, 64);

let clock = 1_000_000;
function registry(): PeerRegistry {
  return new PeerRegistry(crypto, { maxServerRttMs: 400, maxLinkFailures: 3 }, () => clock);
}

/** Opens `user` and registers its key with a proper proof. */
function registered(r: PeerRegistry, user: string, info: { ip?: string; guest?: boolean } = {}): Peer {
  const challenge = r.open(user, tab, info);
  const secret = secretOf(user);
  const key = crypto.publicKeyOf(secret);
  const res = r.registerKey(user, key, crypto.sign(secret, keyProofBytes(challenge, user, key)));
  expect(res.ok).toBe(true);
  return r.get(user)!;
}

/** A peer that may serve: key, willing, idle, fast, reachable, honest. */
function eligiblePeer(r: PeerRegistry, user: string, info: { ip?: string; guest?: boolean } = {}): Peer {
  const p = registered(r, user, info);
  p.rtt = 50;
  return p;
}

const nowhere = (): string | null => null;

describe('PeerRegistry.whyNot / eligible', () => {
  it('gives the reason a peer cannot serve, each condition on its own', () => {
    const r = registry();
    const cases: Array<[string, (p: Peer) => void, ((u: string) => string | null) | null]> = [
      ['declined', (p) => (p.serve = false), null],
      ['serving', (p) => (p.serving = 'lake'), null],
      ['on the site', () => undefined, (u) => (u === 'onsite' ? 'meadow' : null)],
      ['round trip not measured', (p) => (p.rtt = null), null],
      ['slow link', (p) => (p.rtt = 401), null],
      ['unreachable', (p) => ['a', 'b', 'c'].forEach((x) => r.reportUnreachable(p, x)), null],
      ['caught in the minority', (p) => r.bar(p.user, 'caught in the minority'), null],
    ];
    for (const [why, edit, siteOf] of cases) {
      const user = why === 'on the site' ? 'onsite' : why.replace(/\W/g, '').slice(0, 12);
      const p = eligiblePeer(r, user);
      expect(r.whyNot(p, 'meadow', nowhere), `${why} before`).toBeNull();
      edit(p);
      expect(r.whyNot(p, 'meadow', siteOf ?? nowhere), why).toBe(why);
    }
    r.open('keyless', tab);
    const keyless = r.get('keyless')!;
    keyless.rtt = 50;
    expect(r.whyNot(keyless, 'meadow', nowhere)).toBe('no key');
  });

  it("says 'on its way' when its player is on its way into the site (asked with its user and that site)", () => {
    const r = registry();
    const p = eligiblePeer(r, 'walker');
    const asked: Array<[string, string]> = [];
    const enRoute = (u: string, site: string): boolean => (asked.push([u, site]), site === 'meadow');
    expect(r.whyNot(p, 'meadow', nowhere, enRoute)).toBe('on its way');
    expect(r.whyNot(p, 'town', nowhere, enRoute)).toBeNull();
    expect(asked).toEqual([['walker', 'meadow'], ['walker', 'town']]);
    expect(r.eligible('meadow', nowhere, enRoute)).toEqual([]);
  });

  it('accepts a peer right at each bound', () => {
    const r = registry();
    const p = eligiblePeer(r, 'edge');
    p.rtt = 400;
    ['a', 'b'].forEach((x) => r.reportUnreachable(p, x));
    p.minority = 2;
    expect(r.whyNot(p, 'meadow', () => 'town')).toBeNull();
  });

  it('eligible lists exactly the peers with no reason against them', () => {
    const r = registry();
    const ok1 = eligiblePeer(r, 'okone');
    const ok2 = eligiblePeer(r, 'oktwo');
    eligiblePeer(r, 'busy').serving = 'lake';
    eligiblePeer(r, 'here');
    r.open('nokey', tab);
    expect(r.eligible('meadow', (u) => (u === 'here' ? 'meadow' : 'town')).map((p) => p.user).sort()).toEqual([ok1.user, ok2.user]);
  });
});

describe('PeerRegistry.registerKey', () => {
  it('registers a key proven over this connection\'s challenge and gives it a server id', () => {
    const r = registry();
    const p = registered(r, 'alice');
    expect(p.key).toBe(crypto.publicKeyOf(secretOf('alice')));
    expect(p.serverId).toMatch(/^alice~[0-9a-f]{8}$/);
    expect(r.byServerId(p.serverId!)).toBe(p);
  });

  it('spends the challenge: a failed proof leaves none for a correct one, and a second key is refused', () => {
    const r = registry();
    const challenge = r.open('bob', tab);
    const secret = secretOf('bob');
    const key = crypto.publicKeyOf(secret);
    const proof = crypto.sign(secret, keyProofBytes(challenge, 'bob', key));
    expect(r.registerKey('bob', key, crypto.sign(secret, keyProofBytes(challenge, 'bob', '00'.repeat(32))))).toMatchObject({ ok: false, code: 'ERR_BAD_PROOF' });
    expect(r.registerKey('bob', key, proof)).toMatchObject({ ok: false, code: 'ERR_BAD_PROOF' });
    expect(r.get('bob')?.key).toBeNull();
    const carol = registered(r, 'carol');
    expect(r.registerKey('carol', carol.key!, proof)).toMatchObject({ ok: false, code: 'ERR_ALREADY_AUTHENTICATED' });
  });

  it('refuses a proof made for another user or another challenge', () => {
    const r = registry();
    const cDan = r.open('dan', tab);
    const cEve = r.open('eve', tab);
    const secret = secretOf('eve');
    const key = crypto.publicKeyOf(secret);
    // Eve's proof over dan's challenge, replayed on eve's connection.
    expect(r.registerKey('eve', key, crypto.sign(secret, keyProofBytes(cDan, 'eve', key)))).toMatchObject({ ok: false, code: 'ERR_BAD_PROOF' });
    // A proof naming another user.
    expect(r.registerKey('dan', key, crypto.sign(secret, keyProofBytes(cDan, 'eve', key)))).toMatchObject({ ok: false, code: 'ERR_BAD_PROOF' });
    expect(cEve).not.toBe(cDan);
    expect(r.registerKey('nobody', key, '00')).toMatchObject({ ok: false, code: 'ERR_NOT_AUTHENTICATED' });
  });

  it('a new connection of the same user starts over: new challenge, no key, old server id gone', () => {
    const r = registry();
    const old = registered(r, 'fay');
    const challenge = r.open('fay', tab);
    expect(challenge).toMatch(/^[0-9a-f]{64}$/);
    expect(r.get('fay')?.key).toBeNull();
    expect(r.byServerId(old.serverId!)).toBeUndefined();
  });
});

describe('finding 2: no bar for good, and one person with many tabs does not pick the servers', () => {
  it('forgets link-failure reports after a while: an unreachable peer may serve again', () => {
    const r = registry();
    const p = eligiblePeer(r, 'flaky');
    for (const x of ['a', 'b', 'c']) r.reportUnreachable(p, x);
    expect(r.whyNot(p, 'meadow', nowhere)).toBe('unreachable');
    clock += LINK_FAILURE_MEMORY_MS + 1;
    expect(r.whyNot(p, 'meadow', nowhere)).toBeNull();
  });

  it("bars a player caught in the minority for a day, whatever tab it comes back with, then lets it serve", () => {
    const r = registry();
    r.bar('mallory', 'caught in the minority');
    const p = eligiblePeer(r, 'mallory');
    expect(r.whyNot(p, 'meadow', nowhere)).toBe('caught in the minority');
    clock += MINORITY_BAR_MS + 1;
    expect(r.whyNot(p, 'meadow', nowhere)).toBeNull();
  });

  it('prefers an address not on the site, then accounts, then older sessions; never leaves the choice empty', () => {
    const r = registry();
    const mine = [1, 2, 3].map((i) => eligiblePeer(r, `tab${i}`, { ip: '::ffff:10.0.0.7', guest: true }));
    const other = eligiblePeer(r, 'stranger', { ip: '10.0.0.9', guest: true });
    const taken = r.addressesOf(['tab1'], []);
    expect(taken).toEqual(new Set(['10.0.0.7']));
    expect(r.preferred([...mine, other], taken)).toEqual([other]);
    // The same address: an account beats a guest.
    const account = eligiblePeer(r, 'account', { ip: '10.0.0.7', guest: false });
    expect(r.preferred([...mine, account], taken)).toEqual([account]);
    // Same address, all guests: an older session beats the young ones.
    clock += MIN_SESSION_AGE_MS;
    const young = eligiblePeer(r, 'young', { ip: '10.0.0.7', guest: true });
    expect(r.preferred([young, ...mine], taken)).toEqual(mine);
    expect(r.preferred([young], taken)).toEqual([young]);
  });

  it('groups addresses as a person holds them', () => {
    expect(addressGroup('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(addressGroup('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2');
    expect(addressGroup('?')).toBeNull();
  });
});
