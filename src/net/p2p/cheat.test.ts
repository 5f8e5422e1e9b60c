import { describe, expect, it } from 'vitest';
import { createSite, newUser } from '../../game/rules.js';
import { DEFAULT_SITE_CONFIG, type SiteConfig } from '../../protocol/config.js';
import { ed25519Scheme, hashOf, toHex, ZERO_HASH } from '../../protocol/crypto.js';
import { ADMIN_ID, decodeTransfer, encodeTransfer, type PeerMessage, type TransferPayload } from '../../protocol/messages.js';
import { updateHash } from '../../protocol/signed.js';
import { CHEAT_MODES, createCheater, parseCheatMode, type CheatKind } from './cheat.js';
import { seededRng } from './cheatGroup.js';

const config: SiteConfig = { ...DEFAULT_SITE_CONFIG, site: 'meadow' };
type Update = PeerMessage & { type: 'update' };

function cheater(kinds: CheatKind[], peers = ['s1', 's2']) {
  const secretKey = toHex(new Uint8Array(32).fill(7));
  return createCheater(
    kinds,
    {
      id: 's0',
      secretKey,
      crypto: ed25519Scheme,
      config,
      rng: seededRng('test'),
      after: () => undefined,
      elapsed: () => 0,
      membership: () => null,
      peers: () => peers,
      users: () => ['ann', 'bob'],
      now: () => 1000,
    },
    { withholdFromAll: true },
  );
}

/** What the cheater lets out for `msgs` sent to `to`. */
function through(c: ReturnType<typeof cheater>, to: string, msgs: PeerMessage[]): PeerMessage[] {
  const out: PeerMessage[] = [];
  for (const m of msgs) c.outgoing(to, m, (_t, x) => out.push(x));
  return out;
}

function update(events: Update['events'] = []): Update {
  const body = { site: 'meadow', seq: 4, prev: ZERO_HASH, window: 1000, applied: [] as Array<[string, number]>, events, stateHash: hashOf('state') };
  return { type: 'update', ...body, hash: updateHash(body) };
}

const selfConsistent = (u: Update): boolean => {
  const { type: _t, hash, ...body } = u;
  return updateHash(body) === hash;
};

describe('cheat modes', () => {
  it('names the modes a tab or a bot may run, and nothing else', () => {
    for (const m of CHEAT_MODES) expect(parseCheatMode(m)).toBe(m);
    for (const bad of ['', 'stale', 'TAMPER', 'tamper ', 'forge']) expect(parseCheatMode(bad)).toBeNull();
  });

  it('seeds hosts from a label: colluders deriving it from the site draw the same', () => {
    const draw = (l: string): number[] => Array.from({ length: 5 }, () => seededRng(l).fork('x').int(1000));
    expect(draw('meadow')).toEqual(draw('meadow'));
    const a = seededRng('meadow');
    const b = seededRng('lake');
    expect(Array.from({ length: 5 }, () => a.int(1e9))).not.toEqual(Array.from({ length: 5 }, () => b.int(1e9)));
  });

  it('tamper: a forged update whose hash matches its forged content; hashes forged too', () => {
    const honest = update();
    const [forged] = through(cheater(['tamper']), 'ann', [honest]) as Update[];
    expect(forged?.hash).not.toBe(honest.hash);
    expect(selfConsistent(forged!)).toBe(true);
    expect(forged?.events).toContainEqual({ kind: 'said', user: 'ann', text: 'forged' });
    const [h] = through(cheater(['tamper']), 'ann', [{ type: 'updateHash', site: 'meadow', seq: 4, hash: honest.hash }]);
    expect(h).toMatchObject({ type: 'updateHash', seq: 4 });
    expect((h as { hash: string }).hash).not.toBe(honest.hash);
  });

  it('forge-state: a leaver gains an item in what the admin gets, and the hash it is told for that seq agrees', () => {
    const leaving = update([{ kind: 'left', user: newUser('bob', 'forest'), via: 'portal' }]);
    const c = cheater(['forge-state']);
    const [toAdmin] = through(c, ADMIN_ID, [leaving]) as Update[];
    const left = toAdmin?.events.find((e) => e.kind === 'left');
    expect(left?.kind === 'left' && left.user.inventory.map((i) => i.id)).toEqual(['forged-4']);
    expect(selfConsistent(toAdmin!)).toBe(true);
    expect(through(c, ADMIN_ID, [{ type: 'updateHash', site: 'meadow', seq: 4, hash: leaving.hash }])).toEqual([
      { type: 'updateHash', site: 'meadow', seq: 4, hash: toAdmin?.hash },
    ]);
    // Users get the honest update: only the admin is lied to.
    expect(through(c, 'ann', [leaving])).toEqual([leaving]);
  });

  it('forge-state: a state fetched by the admin comes back forged yet self-consistent', () => {
    const snapshot = createSite('meadow');
    snapshot.users = [newUser('ann', 'meadow')];
    const state = { site: 'meadow', window: 1000, snapshot, applied: [], pending: [] };
    const body = { site: 'meadow', seq: 4, prev: ZERO_HASH, window: 1000, applied: [], events: [], stateHash: hashOf(state) };
    const payload: TransferPayload = { update: { ...body, hash: updateHash(body) }, state, hints: { chains: [], marks: [] } };
    const bytes = encodeTransfer(payload);
    const half = Math.ceil(bytes.byteLength / 2);
    const chunk = (index: number): PeerMessage => ({ type: 'stateChunk', site: 'meadow', seq: 4, hash: payload.update.hash, index, count: 2, data: bytes.slice(index * half, (index + 1) * half) });
    const out = through(cheater(['forge-state']), ADMIN_ID, [chunk(0), chunk(1)]) as Array<PeerMessage & { type: 'stateChunk' }>;
    const joined = new Uint8Array(out.reduce((n, c) => n + c.data.byteLength, 0));
    out.reduce((at, c) => (joined.set(c.data, at), at + c.data.byteLength), 0);
    const p = decodeTransfer(joined);
    if (!p.ok) throw new Error(p.message);
    expect(p.value.state.snapshot.users[0]?.inventory.map((i) => i.id)).toEqual(['forged-4']);
    expect(hashOf(p.value.state)).toBe(p.value.update.stateHash);
    const { hash, ...rest } = p.value.update;
    expect(updateHash(rest)).toBe(hash);
    expect(out.every((c) => c.hash === hash && c.count === out.length)).toBe(true);
    expect(hash).not.toBe(payload.update.hash);
  });

  it('withhold: a host withholds its Timeslots from every other server', () => {
    const c = cheater(['withhold'], ['s1', 's2']);
    const ts: PeerMessage = { type: 'timeslot', site: 'meadow', server: 's0', seq: 1, epoch: 0, prevHash: ZERO_HASH, stamp: 100, entries: [], heads: [], sig: '0'.repeat(128) } as unknown as PeerMessage;
    expect(through(c, 's1', [ts])).toEqual([]);
    expect(through(c, 's2', [ts])).toEqual([]);
    expect(through(c, 'ann', [ts])).toEqual([ts]);
  });
});
