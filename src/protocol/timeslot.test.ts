import { describe, expect, it } from 'vitest';
import { createSite } from '../game/rules.js';
import type { CoreEvent } from './api.js';
import { makeSiteConfig } from './config.js';
import { createSiteCoordinator } from './coordinator.js';
import { ed25519Scheme, insecureFastScheme, ZERO_HASH, type SignatureScheme } from './crypto.js';
import type { PeerMessage, SiteInit, Timeslot } from './messages.js';
import { createSiteServer } from './server.js';
import { createContext } from './serverContext.js';
import { onTimeslot, onTimeslotReply } from './timeslots.js';
import { signTimeslot, timeslotHash, type TimeslotBody } from './signed.js';

const secret = (id: string): string => (id.charCodeAt(id.length - 1).toString(16) + 'ab').repeat(16).slice(0, 64);

function setup(crypto: SignatureScheme = insecureFastScheme) {
  const config = makeSiteConfig({ site: 'meadow', N_server: 3, keepTimeslots: 8 });
  const ids = ['s0', 's1', 's2'];
  let init: SiteInit | null = null;
  const adminSent: Array<{ to: string; m: PeerMessage }> = [];
  const admin = createSiteCoordinator({
    config,
    secretKey: 'ad'.repeat(32),
    crypto,
    now: () => 0,
    random: () => 0,
    send: (to, m) => {
      if (m.type === 'siteInit') init = m;
      else adminSent.push({ to, m });
    },
    servers: ids.map((id) => ({ id, key: crypto.publicKeyOf(secret(id)) })),
    candidates: () => [],
    users: () => [],
  });
  admin.handOver({ snapshot: createSite('meadow'), seq: 0, prev: ZERO_HASH, start: 0, lastActionNo: [] });
  const events: CoreEvent[] = [];
  const sent: Array<{ to: string; m: PeerMessage }> = [];
  let now = 0;
  const server = createSiteServer({
    config,
    id: 's0',
    secretKey: secret('s0'),
    adminKey: admin.adminKey(),
    crypto,
    now: () => now,
    send: (to, m) => sent.push({ to, m }),
    init: init as unknown as SiteInit,
    observe: (e) => events.push(e),
  });
  const body = (o: Partial<TimeslotBody> & { seq: number; prevHash: string; stamp: number }): TimeslotBody => ({
    site: 'meadow',
    server: 's1',
    epoch: 1,
    entries: [],
    heads: [],
    update: null,
    ...o,
  });
  // The stay of the hand-over: what Timeslots of this site are signed and hashed in.
  const stay = (init as unknown as SiteInit).membership.stay;
  const signed = (b: TimeslotBody, who = b.server): Timeslot => signTimeslot(b, secret(who), crypto, stay);
  const hash = (ts: Timeslot): string => timeslotHash(ts, stay);
  const deliver = (ts: Timeslot, from = ts.server): void => server.receive(from, { type: 'timeslot', ...ts });
  const codes = (): string[] => events.flatMap((e) => (e.kind === 'rejected' ? [e.code] : []));
  return { server, events, sent, body, signed, hash, stay, deliver, codes, setNow: (t: number) => (now = t), admin, adminSent };
}

describe('Timeslot validation', () => {
  it('accepts a good chain', () => {
    const t = setup();
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100, entries: [['alice', 1, 50, 'a'.repeat(32)]] }));
    t.deliver(a);
    t.deliver(t.signed(t.body({ seq: 2, prevHash: t.hash(a), stamp: 200 })));
    expect(t.codes()).toEqual([]);
  });

  const cases: Array<[string, string, (t: ReturnType<typeof setup>) => void]> = [
    ['wrong site', 'ERR_WRONG_SITE', (t) => t.deliver(t.signed(t.body({ site: 'forest', seq: 1, prevHash: ZERO_HASH, stamp: 100 })))],
    ['unknown server', 'ERR_UNKNOWN_PEER', (t) => t.deliver(t.signed(t.body({ server: 'zz', seq: 1, prevHash: ZERO_HASH, stamp: 100 })))],
    ['timeslot relayed by someone else', 'ERR_UNKNOWN_PEER', (t) => t.deliver(t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 })), 's2')],
    ['bad signature', 'ERR_BAD_SIGNATURE', (t) => t.deliver(t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }), 's2'))],
    ['broken chain', 'ERR_BROKEN_CHAIN', (t) => t.deliver(t.signed(t.body({ seq: 1, prevHash: 'b'.repeat(32), stamp: 100 })))],
    [
      'non-monotone stamp',
      'ERR_STAMP_ORDER',
      (t) => {
        const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
        t.deliver(a);
        t.deliver(t.signed(t.body({ seq: 2, prevHash: t.hash(a), stamp: 100 })));
      },
    ],
    ['stamp not after the hand-over', 'ERR_STAMP_ORDER', (t) => t.deliver(t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: -5 })))],
    [
      'arrival after the stamp',
      'ERR_ARRIVAL_WINDOW',
      (t) => t.deliver(t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100, entries: [['alice', 1, 101, 'a'.repeat(32)]] }))),
    ],
    [
      'arrival before the previous stamp',
      'ERR_ARRIVAL_WINDOW',
      (t) => {
        const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
        t.deliver(a);
        t.deliver(t.signed(t.body({ seq: 2, prevHash: t.hash(a), stamp: 200, entries: [['alice', 1, 100, 'a'.repeat(32)]] })));
      },
    ],
    [
      'an action listed twice',
      'ERR_ARRIVAL_WINDOW',
      (t) =>
        t.deliver(
          t.signed(
            t.body({
              seq: 1,
              prevHash: ZERO_HASH,
              stamp: 100,
              entries: [
                ['alice', 1, 50, 'a'.repeat(32)],
                ['alice', 1, 60, 'c'.repeat(32)],
              ],
            }),
          ),
        ),
    ],
    [
      'replayed seq',
      'ERR_REPLAYED',
      (t) => {
        const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
        t.deliver(a);
        t.deliver(a);
      },
    ],
    [
      'future seq beyond the buffer',
      'ERR_TOO_FAR_AHEAD',
      (t) => {
        for (let i = 0; i < 9; i++) t.deliver(t.signed(t.body({ seq: 5 + i, prevHash: 'b'.repeat(32), stamp: 1000 + i })));
      },
    ],
    ['malformed', 'ERR_MALFORMED', (t) => t.server.receive('s1', { type: 'timeslot', site: 'meadow' } as unknown as PeerMessage)],
    ['unknown type', 'ERR_UNKNOWN_TYPE', (t) => t.server.receive('s1', { type: 'nope' } as unknown as PeerMessage)],
  ];
  for (const [name, code, run] of cases) {
    it(`rejects: ${name} (${code})`, () => {
      const t = setup();
      run(t);
      expect(t.codes()).toContain(code);
    });
  }

  it('a future seq is buffered and asked for (TRM), then linked when the gap fills', () => {
    const t = setup();
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    const b = t.signed(t.body({ seq: 2, prevHash: t.hash(a), stamp: 200 }));
    t.deliver(b);
    expect(t.sent.some((x) => x.m.type === 'timeslotRequest' && x.m.server === 's1' && x.m.fromSeq === 1)).toBe(true);
    t.deliver(a);
    expect(t.codes()).toEqual([]);
    // Both are now held: s0 answers a TRM for them.
    t.server.receive('s2', { type: 'timeslotRequest', site: 'meadow', server: 's1', fromSeq: 1, toSeq: 5 });
    const reply = t.sent.find((x) => x.to === 's2' && x.m.type === 'timeslotReply');
    expect(reply?.m.type === 'timeslotReply' && reply.m.timeslots.map((x) => x.seq)).toEqual([1, 2]);
  });

  it('two signed Timeslots with one (server, seq) are an equivocation proof for the admin', () => {
    const t = setup();
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    const b = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 99 }));
    t.deliver(a);
    t.server.receive('s2', { type: 'timeslotReply', site: 'meadow', timeslots: [b] });
    expect(t.codes()).toContain('ERR_EQUIVOCATION');
    const proof = t.sent.find((x) => x.m.type === 'equivocationProof');
    expect(proof?.to).toBe('admin');
    expect(t.server.equivocations()).toEqual([{ server: 's1', seq: 1 }]);
  });

  it('a signed Timeslot linked to another predecessor than the one held is a proof too; the admin accepts it', () => {
    const t = setup();
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    const otherA = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 99 }));
    t.deliver(a);
    // s1 sent us #1 = a, but its #2 follows a #1 we never saw: it signed two chains.
    t.deliver(t.signed(t.body({ seq: 2, prevHash: t.hash(otherA), stamp: 200 })));
    expect(t.codes()).toEqual(['ERR_EQUIVOCATION']);
    const proof = t.sent.find((x) => x.m.type === 'equivocationProof');
    expect(proof?.to).toBe('admin');
    if (proof?.m.type !== 'equivocationProof') throw new Error('no proof');
    expect([proof.m.a.seq, proof.m.b.seq]).toEqual([1, 2]);
    t.admin.receive('s0', proof.m);
    const calls = t.adminSent.filter((x) => x.m.type === 'ignoreCall').map((x) => x.to);
    expect(calls.sort()).toEqual(['s0', 's2']);
    // A well-linked successor is no proof.
    const good = setup();
    const b1 = good.signed(good.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    const b2 = good.signed(good.body({ seq: 2, prevHash: good.hash(b1), stamp: 200 }));
    good.admin.receive('s0', { type: 'equivocationProof', site: 'meadow', a: b1, b: b2 });
    expect(good.adminSent.filter((x) => x.m.type === 'ignoreCall')).toEqual([]);
  });

  it('works with real ed25519 signatures (and rejects a forged one)', () => {
    const t = setup(ed25519Scheme);
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    t.deliver(a);
    expect(t.codes()).toEqual([]);
    const forged = { ...t.signed(t.body({ seq: 2, prevHash: t.hash(a), stamp: 200 })), stamp: 201 };
    t.deliver(forged);
    expect(t.codes()).toEqual(['ERR_BAD_SIGNATURE']);
  });
});

/** insecureFastScheme, counting its verify calls. */
function countingScheme(): { scheme: SignatureScheme; verifies: () => number } {
  let n = 0;
  const base = insecureFastScheme;
  const scheme: SignatureScheme = {
    name: 'counting',
    publicKeyOf: (sk) => base.publicKeyOf(sk),
    sign: (sk, msg) => base.sign(sk, msg),
    verify: (pk, msg, sig) => {
      n++;
      return base.verify(pk, msg, sig);
    },
  };
  return { scheme, verifies: () => n };
}

describe('relayed copies of a verified Timeslot', () => {
  const relay = (t: ReturnType<typeof setup>, ts: Timeslot, from = 's2'): void =>
    t.server.receive(from, { type: 'timeslotReply', site: 'meadow', timeslots: [ts] });

  it('are not verified again: held or buffered, relayed or sent again by their server', () => {
    const c = countingScheme();
    const t = setup(c.scheme);
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    const b = t.signed(t.body({ seq: 2, prevHash: t.hash(a), stamp: 200 }));
    const d = t.signed(t.body({ seq: 4, prevHash: 'b'.repeat(32), stamp: 400 }));
    const before = c.verifies();
    t.deliver(a);
    t.deliver(d); // ahead of a gap: buffered
    expect(c.verifies() - before).toBe(2);
    relay(t, a);
    relay(t, d);
    t.deliver(a); // a replay from its server is rejected, still without a signature check
    expect(c.verifies() - before).toBe(2);
    expect(t.codes()).toEqual(['ERR_REPLAYED']);
    relay(t, b); // new: verified
    expect(c.verifies() - before).toBe(3);
    expect(t.server.equivocations()).toEqual([]);
  });

  it("that overtook their server's own copy make it no replay; a second copy from the server is one", () => {
    // FINDINGS 13: s2 answered a fetch with s1#1 before s1's own copy came over a slower link.
    const t = setup();
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    relay(t, a);
    relay(t, a, 's1'); // s1 itself answering a fetch: a relayed copy too, no replay
    t.deliver(a);
    expect(t.codes()).toEqual([]);
    t.deliver(a);
    expect(t.codes()).toEqual(['ERR_REPLAYED']);
    // A buffered relayed copy likewise: the direct one after the gap fills is its first.
    const b = t.signed(t.body({ seq: 2, prevHash: t.hash(a), stamp: 200 }));
    const c = t.signed(t.body({ seq: 3, prevHash: t.hash(b), stamp: 300 }));
    relay(t, c);
    t.deliver(b);
    t.deliver(c);
    expect(t.codes()).toEqual(['ERR_REPLAYED']);
    t.deliver(c);
    expect(t.codes()).toEqual(['ERR_REPLAYED', 'ERR_REPLAYED']);
  });

  it('with the same seq but other content are verified, and still prove equivocation', () => {
    const c = countingScheme();
    const t = setup(c.scheme);
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    const other = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 99 }));
    t.deliver(a);
    const before = c.verifies();
    relay(t, other);
    expect(c.verifies() - before).toBe(1);
    expect(t.server.equivocations()).toEqual([{ server: 's1', seq: 1 }]);
    expect(t.sent.filter((x) => x.m.type === 'equivocationProof').map((x) => x.to)).toEqual(['admin']);
  });

  it('with the same content but another signature are verified (and a forged one rejected)', () => {
    const c = countingScheme();
    const t = setup(c.scheme);
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    t.deliver(a);
    const before = c.verifies();
    relay(t, { ...a, sig: t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }), 's2').sig });
    expect(c.verifies() - before).toBe(1);
    expect(t.codes()).toEqual(['ERR_BAD_SIGNATURE']);
  });

  it('with other content under the held signature are verified and rejected: they frame nobody', () => {
    const c = countingScheme();
    const t = setup(c.scheme);
    const a = t.signed(t.body({ seq: 1, prevHash: ZERO_HASH, stamp: 100 }));
    t.deliver(a);
    const before = c.verifies();
    relay(t, { ...a, stamp: 99 });
    expect(c.verifies() - before).toBe(1);
    expect(t.codes()).toEqual(['ERR_BAD_SIGNATURE']);
    expect(t.server.equivocations()).toEqual([]);
  });
});

describe('a backfill reply', () => {
  it('adds every Timeslot it brings below a chain joined midway, not one per round trip', () => {
    // s0 holds s1's chain from #5 on (it joined midway); s2 answers its backfill request with
    // #1..#4 in one reply. Taken in seq order, only #4 (the anchor's predecessor) linked, and
    // each further one cost a round trip (sim/FINDINGS.md 17: a replacement backfilled for 3 s).
    const crypto = insecureFastScheme;
    const ctx = createContext({
      config: makeSiteConfig({ site: 'meadow', N_server: 3 }),
      id: 's0',
      secretKey: secret('s0'),
      adminKey: '00'.repeat(16),
      crypto,
      now: () => 1000,
      send: () => {},
    });
    const members = ['s0', 's1', 's2'].map((id, slot) => ({ id, key: crypto.publicKeyOf(secret(id)), slot, stints: [{ admit: 0, cut: null }] }));
    const stay = '5a'.repeat(16);
    ctx.roster.membership = { site: 'meadow', stay, epoch: 1, members, change: { kind: 'init', target: null }, sig: '00'.repeat(64) };
    ctx.roster.members = new Map(members.map((m) => [m.id, m]));
    const chain: Timeslot[] = [];
    for (let seq = 1; seq <= 5; seq++) {
      const b: TimeslotBody = { site: 'meadow', server: 's1', seq, stamp: seq * 100, prevHash: chain.at(-1) ? timeslotHash(chain.at(-1)!, stay) : ZERO_HASH, epoch: 1, entries: [], heads: [], update: null };
      chain.push(signTimeslot(b, secret('s1'), crypto, stay));
    }
    onTimeslot(ctx, chain[4]!, 's1', true);
    expect(ctx.timeslots.chains.get('s1')?.anchor.seq).toBe(4);
    onTimeslotReply(ctx, 's2', { type: 'timeslotReply', site: 'meadow', timeslots: chain.slice(0, 4) });
    const ch = ctx.timeslots.chains.get('s1');
    expect(ch?.items.map((i) => i.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(ch?.anchor.seq).toBe(0);
  });
});
