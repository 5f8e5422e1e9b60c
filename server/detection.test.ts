/**
 * Detection and response with the real admin and bots (issue 17): a server whose word on an
 * update differs from the others' is reported by a player; the admin checks the report with its
 * own hash requests, convicts the server, replaces it with a spare and does not choose its player
 * again. A report about an honest server changes nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Bot } from '../src/bots/bot.js';
import type { PeerMessage, PeerRole } from '../src/protocol/messages.js';
import { startServer } from './testkit.js';
import { bot, crowd, FAST, operator, until } from './p2pKit.js';

/** The tab's own peer envelope to the admin (what its host sends; reached past `private` for the test). */
function toAdmin(b: Bot, as: PeerRole, msg: PeerMessage): void {
  const node = b.conn?.node as unknown as { toAdminPeer(as: PeerRole, site: string, msg: PeerMessage): void } | undefined;
  if (!node) throw new Error('no node');
  node.toAdminPeer(as, 'meadow', msg);
}

describe('detection and response at the admin', () => {
  it('convicts a server the admin finds in the minority after a report, replaces it and does not choose its player again', async () => {
    const s = await startServer({ p2p: FAST });
    const { servers, a, b } = await crowd(s);
    await until('P2P', () => a.state.mode === 'p2p' && a.state.view !== null && b.state.view !== null);
    const spare = await bot(s, 'lake');
    await until('spare key', () => spare.conn?.node?.serverId);
    a.act({ kind: 'say', text: 'one' });
    await until('applied', () => Object.keys(a.state.inflight).length === 0);
    const seq = a.conn?.node?.userHost?.core.lastAccepted().seq ?? 0;
    expect(seq).toBeGreaterThan(0);
    const liar = servers.find((x) => a.state.servers.some((v) => v.id === x.conn?.node?.serverId));
    const liarId = liar?.conn?.node?.serverId ?? '';
    const honestId = a.state.servers.find((v) => v.id !== liarId)?.id ?? '';
    if (!liar) throw new Error('no server of the meadow among the volunteers');
    // Its word on `seq`, to the admin, differs from what it sent the players.
    toAdmin(liar, 'server', { type: 'updateHash', site: 'meadow', seq, hash: 'f'.repeat(32) });
    // A report about an honest server: checked, and nothing happens to it.
    toAdmin(b, 'user', { type: 'flagReport', site: 'meadow', server: honestId, seq, reason: 'differs' });
    // The report about the liar: the admin asks every server, and its own tally convicts.
    toAdmin(a, 'user', { type: 'flagReport', site: 'meadow', server: liarId, seq, reason: 'differs' });
    await until('liar replaced', () => a.state.servers.some((v) => v.id === liarId && v.state === 'replaced'), 20_000);
    const view = await operator(s);
    const suspect = view.suspects.find((x) => x.server === liarId);
    expect(suspect?.verdict?.what).toBe(`update ${seq}`);
    expect(suspect?.reporters).toContain(a.name);
    expect(suspect?.entries.some((e) => e.by === 'admin' && e.evidence?.minority.some(([id]) => id === liarId))).toBe(true);
    expect(view.suspects.find((x) => x.server === honestId)?.verdict ?? null).toBeNull();
    expect(a.state.servers.find((v) => v.id === honestId)?.state).not.toBe('replaced');
    expect(view.peers.find((p) => p.user === liar.name)?.why).toBe('caught in the minority');
    // The site plays on with the spare.
    await until('spare serves', () => a.state.servers.some((v) => v.id === spare.conn?.node?.serverId));
    a.act({ kind: 'say', text: 'two' });
    await until('applied again', () => Object.keys(a.state.inflight).length === 0);
  }, 45_000);
});
