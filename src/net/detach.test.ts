/**
 * A P2P session whose admin socket drops: the node keeps the P2P site playing, the next session
 * takes it over (same key, same links, same hosts unless the admin says otherwise).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { applyAction, viewOf } from '../game/index.js';
import { insecureFastScheme } from '../protocol/crypto.js';
import { keyProofBytes } from '../protocol/keys.js';
import type { ServerMessage } from '../protocol/messages.js';
import { HASH, move, p2pSetup, SERVERS, welcome, welcomeAndEnter } from './connectionHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const ME = 'alice~1111';
const enterP2P = (resumed?: boolean): ServerMessage => ({
  type: 'enter',
  site: 'meadow',
  mode: 'p2p',
  seq: 4,
  view: null,
  hash: HASH,
  lastActionNo: 0,
  servers: SERVERS,
  ...(resumed === undefined ? {} : { resumed }),
});

/** On the P2P site meadow, key registered as ME (and serving `serve` when given). */
function playing(o: { serve?: string } = {}) {
  const logs: Array<[string, Record<string, unknown>]> = [];
  const t = p2pSetup({ log: (e, f) => logs.push([e as string, f as Record<string, unknown>]) });
  const snap = welcomeAndEnter(t);
  t.handOver(0);
  t.syncClock();
  t.sock().deliver({ type: 'keyOk', serverId: ME });
  if (o.serve) t.sock().deliver({ type: 'serve', site: o.serve, serverId: ME });
  const node = t.conn.node!;
  return Object.assign(t, { snap, node, logs });
}

describe('a P2P session whose admin socket drops', () => {
  it('keeps its node running: the site still plays by majority and actions still go to the Site Servers', () => {
    const t = playing();
    const host = t.node.userHost;
    t.sock().close(1006, '');
    expect(t.ends).toEqual([{ error: { code: 'ERR_CLOSED', message: 'connection closed' }, dropToken: false }]);
    expect(t.conn.detached).toBe(true);
    expect(t.node.isClosed).toBe(false);
    expect(t.node.userHost).toBe(host);
    expect(t.conn.sendAction(move('right'))).toBe(true);
    t.pump();
    expect(t.atServers()).toEqual([{ actionNo: 1, action: move('right') }]);
    const r = applyAction(t.snap, 'alice', move('right'));
    t.serversUpdate(5, HASH, [['alice', 1]], r.events);
    const s = t.store.getState();
    expect(s.acceptedSeq).toBe(5);
    expect(s.view).toEqual(viewOf(r.snapshot));
    expect(s.inflight).toEqual({});
  });

  it('closes its node when the session ends otherwise (logged in elsewhere, closed by us)', () => {
    const a = playing();
    a.sock().deliver({ type: 'bye', reason: 'ERR_LOGGED_IN_ELSEWHERE' });
    expect(a.node.isClosed).toBe(true);
    expect(a.conn.detached).toBe(false);
    const b = playing();
    b.conn.close();
    expect(b.node.isClosed).toBe(true);
    expect(b.conn.sendAction(move('up'))).toBe(false);
  });

  it('a client-server site takes no actions while the admin is away', () => {
    const t = p2pSetup();
    welcomeAndEnter(t);
    t.sock().close(1006, '');
    expect(t.conn.sendAction(move('up'))).toBe(false);
  });

  it('the next session takes the node over and registers the same key with its new challenge, over the same links', () => {
    const t = playing();
    const key1 = t.sock().of('key');
    expect(key1).toHaveLength(1);
    t.sock().close(1006, '');
    const old = t.conn;
    const next = t.reconnect();
    expect(next.node).toBe(t.node);
    expect(old.detached).toBe(false);
    // The old session no longer drives the store.
    expect(old.sendAction(move('up'))).toBe(false);
    const challenge = 'ef'.repeat(32);
    welcome(t, challenge);
    const key2 = t.sock().of('key');
    expect(key2).toHaveLength(1);
    expect(key2[0]!.key).toBe(key1[0]!.key);
    expect(insecureFastScheme.verify(key2[0]!.key, keyProofBytes(challenge, 'alice', key2[0]!.key), key2[0]!.sig)).toBe(true);
    expect(key2[0]!.sig).not.toBe(key1[0]!.sig);
    expect(next.sendAction(move('down'))).toBe(true);
    t.pump();
    expect(t.atServers().map((a) => a.actionNo)).toEqual([1]);
    expect(t.sock().of('signal')).toEqual([]);
  });

  it('keyOk with the server id it serves under keeps the server', () => {
    const t = playing({ serve: 'town' });
    const server = t.node.server;
    expect(server?.site).toBe('town');
    t.sock().close(1006, '');
    t.reconnect();
    welcome(t, 'ef'.repeat(32));
    t.sock().deliver({ type: 'keyOk', serverId: ME });
    expect(t.node.server).toBe(server);
    expect(t.store.getState().serving).toBe('town');
  });

  it('keyOk with a new server id stops serving: the admin did not resume that server', () => {
    const t = playing({ serve: 'town' });
    t.sock().close(1006, '');
    t.reconnect();
    welcome(t, 'ef'.repeat(32));
    t.sock().deliver({ type: 'keyOk', serverId: 'alice~2222' });
    expect(t.node.server).toBeNull();
    expect(t.node.serverId).toBe('alice~2222');
    expect(t.store.getState().serving).toBeNull();
    expect(t.logs).toContainEqual(['p2p.serve_end', { site: 'town', reason: 'not resumed by the admin' }]);
  });

  it('keyOk with its id and serve for the site it serves each resend what it sent the admin instead of restarting; another site starts anew', () => {
    const t = playing({ serve: 'town' });
    const server = t.node.server!;
    const resend = vi.spyOn(server, 'resendToAdmin');
    t.sock().close(1006, '');
    t.reconnect();
    welcome(t, 'ef'.repeat(32));
    // Resumed: it resends at once, as no serve may follow (its player walked in: managed seed 835).
    t.sock().deliver({ type: 'keyOk', serverId: ME });
    expect(resend).toHaveBeenCalledTimes(1);
    t.sock().deliver({ type: 'serve', site: 'town', serverId: ME });
    expect(t.node.server).toBe(server);
    expect(resend).toHaveBeenCalledTimes(2);
    t.sock().deliver({ type: 'serve', site: 'lake', serverId: ME });
    expect(t.node.server).not.toBe(server);
    expect(t.node.server?.site).toBe('lake');
    expect(resend).toHaveBeenCalledTimes(2);
  });

  it('a resumed enter keeps the view, seq, actions in flight and the resend buffer', () => {
    const t = playing();
    const r = applyAction(t.snap, 'alice', move('right'));
    t.serversUpdate(5, HASH, [], r.events);
    t.sock().deliver({ type: 'siteStatus', site: 'meadow', mode: 'p2p', blocked: 'x', closing: false });
    t.sock().close(1006, '');
    expect(t.conn.sendAction(move('up'))).toBe(true);
    t.pump();
    const host = t.node.userHost;
    const before = t.store.getState();
    t.reconnect();
    welcome(t, 'ef'.repeat(32));
    t.sock().deliver(enterP2P(true));
    const s = t.store.getState();
    expect(t.node.userHost).toBe(host);
    expect(s.view).toBe(before.view);
    expect(s.acceptedSeq).toBe(5);
    expect(Object.keys(s.inflight)).toEqual(['1']);
    expect(s.status).toBe('online');
    expect(s.blocked).toBeNull();
    // Going back to the admin later: what the servers did not apply is resent from the carried buffer.
    t.enterCs(0);
    expect(t.toAdmin()).toEqual([{ actionNo: 1, action: move('up') }]);
  });

  it('an enter that is not resumed (the admin stayed up and re-joined us) enters the site anew', () => {
    const t = playing();
    const r = applyAction(t.snap, 'alice', move('right'));
    t.serversUpdate(5, HASH, [], r.events);
    t.sock().close(1006, '');
    const host = t.node.userHost;
    t.reconnect();
    welcome(t, 'ef'.repeat(32));
    t.sock().deliver(enterP2P());
    expect(t.node.userHost).not.toBe(host);
    expect(t.node.playingP2P).toBe('meadow');
    expect(t.store.getState().view).toBeNull();
    expect(t.store.getState().acceptedSeq).toBe(4);
  });
});
