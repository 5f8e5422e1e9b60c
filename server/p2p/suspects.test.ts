/**
 * Detection and response at the admin (issue 17): a user's flag report is a claim the admin checks
 * with its own tally of the servers' hashes; a server that tally puts in the minority is convicted
 * (recorded, replaced, its player not chosen again); the record of suspects stays bounded.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ed25519Scheme } from '../../src/protocol/crypto.js';
import { keyProofBytes } from '../../src/protocol/keys.js';
import { ADMIN_ID, type Evidence } from '../../src/protocol/messages.js';
import { PeerRegistry } from './peers.js';
import { harness } from './siteHarness.js';
import { convict, MAX_ENTRIES, MAX_SUSPECTS, SuspectBook } from './suspects.js';

const h32 = (n: number): string => n.toString(16).padStart(32, '0');
const evidence = (seq: number): Evidence => ({
  seq,
  majority: { hash: h32(1), servers: ['s0', 's2'] },
  minority: [['s1', h32(2)]],
  window: 100,
  actions: [['alice', 1]],
  actionCount: 1,
});

describe('P2PSite: a user report is checked by the admin, never taken as a verdict', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  async function playing(): Promise<ReturnType<typeof harness>> {
    const h = harness();
    await h.start();
    for (let i = 0; i < 5; i++) {
      h.act('alice', { kind: 'move', dir: i % 2 ? 'left' : 'right' });
      await h.run(200);
    }
    return h;
  }

  it('a report about an honest server: the admin asks every server for that update hash, and nobody is convicted', async () => {
    const h = await playing();
    const seq = h.servers.get('s0')?.appliedLog().at(-1)?.seq ?? 0;
    expect(seq).toBeGreaterThan(1);
    h.site.receive('alice', { type: 'flagReport', site: 'meadow', server: 's2', seq, reason: 'differs', evidence: evidence(seq) });
    await h.run(300);
    expect(h.fromAdmin('hashRequest').map((m) => m.to).sort()).toEqual(['s0', 's1', 's2']);
    expect(h.site.flags.get('s2')).toEqual(new Set(['alice']));
    expect(h.minority).toEqual([]);
  });

  it('a report about a server whose copy differs: the admin\'s own tally of the answers convicts it', async () => {
    const h = await playing();
    const rewrite = h.net.rewrite;
    // s1 answers hash requests with its own (tampered) hash, as a consistent cheater would.
    h.net.rewrite = (from, to, msg) => {
      const m = rewrite(from, to, msg);
      return m && from === 's1' && to === ADMIN_ID && m.type === 'updateHash' ? { ...m, hash: 'f'.repeat(32) } : m;
    };
    const seq = h.servers.get('s0')?.appliedLog().at(-1)?.seq ?? 0;
    h.site.receive('bob', { type: 'flagReport', site: 'meadow', server: 's1', seq, reason: 'differs', evidence: evidence(seq) });
    await h.run(300);
    expect(h.minority).toEqual(['s1']);
    expect(h.site.flags.get('s1')).toEqual(new Set(['bob', 'admin']));
  });
});

describe('convict', () => {
  it('records the verdict, bars the player and replaces the server', async () => {
    const registry = new PeerRegistry(ed25519Scheme, { maxServerRttMs: 400, maxLinkFailures: 3 }, () => 0);
    const challenge = registry.open('mallory', { send: () => undefined });
    const secret = '11'.repeat(32);
    const key = ed25519Scheme.publicKeyOf(secret);
    registry.registerKey('mallory', key, ed25519Scheme.sign(secret, keyProofBytes(challenge, 'mallory', key)));
    const p = registry.get('mallory');
    if (!p?.serverId) throw new Error('no server id');
    p.rtt = 10;
    const suspects = new SuspectBook();
    const evicted: string[] = [];
    convict({ suspects, registry, now: 5, evict: (id) => void evicted.push(id) }, 'meadow', p.serverId, 'update 7');
    await Promise.resolve();
    expect(evicted).toEqual([p.serverId]);
    expect(registry.whyNot(p, 'town', () => null)).toBe('caught in the minority');
    expect(suspects.get(p.serverId)).toMatchObject({ site: 'meadow', user: 'mallory', verdict: { at: 5, what: 'update 7' } });
  });
});

describe('SuspectBook', () => {
  it('keeps the first parting, lists convicted servers first, and stays bounded', () => {
    const b = new SuspectBook();
    for (let seq = 20; seq > 10; seq--) b.flag('meadow', 's1', 'mallory', { at: 30 - seq, by: `u${seq}`, seq, kind: 'differs', evidence: evidence(seq) });
    b.flag('meadow', 's1', null, { at: 40, by: 'x', seq: 99, kind: 'differs', evidence: evidence(99) });
    const s = b.get('s1');
    expect(s?.firstSeq).toBe(11);
    expect(s?.entries).toHaveLength(MAX_ENTRIES);
    expect(s?.entries.some((e) => e.seq === 11)).toBe(true);
    b.flag('town', 's9', null, { at: 50, by: 'y', seq: 3, kind: 'differs', evidence: null });
    b.convict('meadow', 's1', 'mallory', 'update 11', 41);
    expect(b.list().map((x) => x.server)).toEqual(['s1', 's9']);
    for (let i = 0; i < 2 * MAX_SUSPECTS; i++) b.flag('town', `x${i}`, null, { at: 100 + i, by: 'z', seq: 1, kind: 'differs', evidence: null });
    expect(b.list()).toHaveLength(MAX_SUSPECTS);
    // The convicted one outlives the unconvicted flood.
    expect(b.get('s1')?.verdict).not.toBeNull();
  });
});
