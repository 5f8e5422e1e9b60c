import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { applyAction, viewOf } from '../game/index.js';
import { PROTOCOL_VERSION, type ClientMessage } from '../protocol/messages.js';
import { parseServerMessage } from './adminSocket.js';
import { MAX_INFLIGHT, PING_INTERVAL_MS } from './connection.js';
import { insecureFastScheme } from '../protocol/crypto.js';
import { MemoryHub } from './p2p/memoryLink.js';
import { CLOCK_PING_BASE } from './p2p/node.js';
import { move, p2pSetup, setup, welcomeAndEnter } from './connectionHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('GameConnection', () => {
  it('says hello first, then enters and numbers actions from lastActionNo + 1', () => {
    const t = setup();
    expect(t.sock().url).toBe('ws://test/ws');
    const snap = welcomeAndEnter(t, 41);
    expect(t.sock().sent[0]).toEqual({ type: 'hello', v: PROTOCOL_VERSION, token: 'tok' });
    const s = t.store.getState();
    expect(s.session).toEqual({ user: 'alice', guest: false });
    expect(s.status).toBe('online');
    expect(s.site).toBe('meadow');
    expect(s.acceptedSeq).toBe(4);
    expect(t.conn.sendAction({ kind: 'move', dir: 'right' })).toBe(true);
    expect(t.conn.sendAction({ kind: 'pickup' })).toBe(true);
    const actions = t.sock().sent.filter((m) => m.type === 'action');
    expect(actions).toEqual([
      { type: 'action', actionNo: 42, action: { kind: 'move', dir: 'right' } },
      { type: 'action', actionNo: 43, action: { kind: 'pickup' } },
    ]);
    // The update carrying action 42 sets the delay.
    t.advance(37);
    const r = applyAction(snap, 'alice', { kind: 'move', dir: 'right' });
    t.sock().deliver({
      type: 'update',
      site: 'meadow',
      seq: 5,
      applied: [{ user: 'alice', actionNo: 42 }],
      events: r.events,
    });
    expect(t.store.getState().lastActionDelay).toBe(37);
    expect(t.store.getState().view).toEqual(viewOf(r.snapshot));
  });

  it('limits actions in flight', () => {
    const t = setup();
    welcomeAndEnter(t);
    for (let i = 0; i < MAX_INFLIGHT; i++) expect(t.conn.sendAction({ kind: 'pickup' })).toBe(true);
    expect(t.conn.sendAction({ kind: 'pickup' })).toBe(false);
  });

  it('does not send actions before entering a site', () => {
    const t = setup();
    t.sock().open();
    expect(t.conn.sendAction({ kind: 'pickup' })).toBe(false);
  });

  it('pings every PING_INTERVAL_MS and measures the round trip', () => {
    const t = setup();
    welcomeAndEnter(t);
    const ping = t.sock().sent.find((m) => m.type === 'ping');
    expect(ping).toMatchObject({ type: 'ping', id: 0 });
    t.advance(24);
    t.sock().deliver({ type: 'pong', id: 0, t: (ping as { t: number }).t, serverTime: 5_001_012 + 100 });
    expect(t.store.getState().rtt).toBe(24);
    expect(t.store.getState().clockOffset).toBe(100);
    vi.advanceTimersByTime(PING_INTERVAL_MS - 1);
    expect(t.sock().sent.filter((m) => m.type === 'ping')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(t.sock().sent.filter((m) => m.type === 'ping')).toHaveLength(2);
  });

  it('sends no HUD ping while on a P2P site (the admin is not on its path), and pings again back at a client-server site', () => {
    const t = p2pSetup();
    welcomeAndEnter(t);
    const hudPings = (): number => t.sock().sent.filter((m) => m.type === 'ping' && m.id < CLOCK_PING_BASE).length;
    expect(hudPings()).toBe(1);
    t.handOver(0);
    vi.advanceTimersByTime(3 * PING_INTERVAL_MS);
    expect(hudPings()).toBe(1);
    t.enterCs(0);
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    expect(hudPings()).toBe(2);
  });

  it('ends with the error of a rejected hello and drops the token', () => {
    const t = setup();
    t.sock().open();
    t.sock().deliver({ type: 'error', code: 'ERR_TOKEN_EXPIRED', message: 'expired' });
    t.sock().close(1008, 'bye');
    expect(t.ends).toEqual([{ error: { code: 'ERR_TOKEN_EXPIRED', message: 'expired' }, dropToken: true }]);
  });

  it('ends cleanly on bye after logout', () => {
    const t = setup();
    welcomeAndEnter(t);
    t.conn.logout();
    expect(t.sock().sent.at(-1)).toEqual({ type: 'logout' });
    t.sock().deliver({ type: 'bye', reason: 'logout' });
    expect(t.ends).toEqual([{ error: null, dropToken: true }]);
  });

  it('reports being logged in elsewhere', () => {
    const t = setup();
    welcomeAndEnter(t);
    t.sock().deliver({ type: 'bye', reason: 'ERR_LOGGED_IN_ELSEWHERE' });
    expect(t.ends[0]?.error?.code).toBe('ERR_LOGGED_IN_ELSEWHERE');
  });

  it('reports an unexpected close once', () => {
    const t = setup();
    welcomeAndEnter(t);
    t.sock().close(1006, '');
    t.sock().close(1006, '');
    expect(t.ends).toEqual([
      { error: { code: 'ERR_CLOSED', message: 'connection closed' }, dropToken: false },
    ]);
  });

  it('shows runtime errors as a notice without ending the session', () => {
    const t = setup();
    welcomeAndEnter(t);
    t.conn.sendAction({ kind: 'pickup' });
    t.conn.sendAction({ kind: 'pickup' });
    t.sock().deliver({ type: 'error', code: 'ERR_RATE_LIMITED', message: 'slow down', ref: '2' });
    expect(t.ends).toEqual([]);
    expect(t.store.getState().notice?.text).toContain('ERR_RATE_LIMITED');
    // The refused action no longer counts as in flight.
    expect(Object.keys(t.store.getState().inflight)).toEqual(['1']);
  });
});

describe('parseServerMessage', () => {
  it('accepts well-formed frames', () => {
    expect(parseServerMessage('{"type":"pong","id":1,"t":2,"serverTime":3}').ok).toBe(true);
    expect(parseServerMessage('{"type":"update","site":"meadow","seq":1,"applied":[],"events":[]}').ok).toBe(
      true,
    );
  });
  it('rejects junk', () => {
    for (const raw of [
      'nope',
      '[]',
      '{}',
      '{"type":"zap"}',
      '{"type":"update","site":"meadow","seq":"1","applied":[],"events":[]}',
      '{"type":"enter","site":"meadow","mode":"x","seq":1,"lastActionNo":0,"view":{}}',
      new Uint8Array(3),
    ]) {
      expect(parseServerMessage(raw).ok).toBe(false);
    }
  });
});

// P2P routing: connectionHarness.ts's node on in-memory links and three recording Site Servers.

describe('GameConnection P2P routing', () => {
  it('registers its session key (which makes it eligible to serve) only once the clock has an offset from the admin', () => {
    let wake: (() => void) | null = null;
    const t = setup({
      p2p: { links: () => new MemoryHub({ manual: true }).factory(), wakeup: { set: (_ms, cb) => (wake = cb), clear: () => (wake = null) }, randomBytes: (n) => new Uint8Array(n).fill(1), crypto: insecureFastScheme },
    });
    // No clock sample before the session is up (it would be lost on a socket not yet open).
    expect(wake).toBeNull();
    welcomeAndEnter(t);
    const sent = (type: string) => t.sock().sent.filter((m) => m.type === type);
    expect(sent('key')).toHaveLength(0);
    wake!(); // the clock's first sample goes out
    const ping = sent('ping').at(-1) as Extract<ClientMessage, { type: 'ping' }>;
    expect(ping.id).toBeGreaterThanOrEqual(CLOCK_PING_BASE);
    expect(sent('key')).toHaveLength(0);
    t.advance(4);
    t.sock().deliver({ type: 'pong', id: ping.id, t: ping.t, serverTime: 1_796_000_000_000 });
    expect(sent('key')).toHaveLength(1);
    // Later samples do not register it again.
    t.sock().deliver({ type: 'pong', id: ping.id, t: ping.t, serverTime: 1_796_000_000_000 });
    expect(sent('key')).toHaveLength(1);
  });

  it('on handOver resends to the Site Servers, in order, the actions the admin did not apply, and ignores its ERR_SITE_P2P for them', () => {
    const t = p2pSetup();
    welcomeAndEnter(t);
    for (const d of ['up', 'down', 'left'] as const) expect(t.conn.sendAction(move(d))).toBe(true);
    expect(t.toAdmin().map((a) => a.actionNo)).toEqual([1, 2, 3]);
    t.handOver(1);
    expect(t.store.getState().mode).toBe('p2p');
    expect(t.atServers()).toEqual([
      { actionNo: 2, action: move('down') },
      { actionNo: 3, action: move('left') },
    ]);
    expect(t.toAdmin()).toHaveLength(3);
    // The admin refuses the two it got after the hand-over: already on their way to the servers.
    t.sock().deliver({ type: 'error', code: 'ERR_SITE_P2P', message: 'site is P2P', ref: '2' });
    t.sock().deliver({ type: 'error', code: 'ERR_SITE_P2P', message: 'site is P2P', ref: '3' });
    expect(t.store.getState().notice).toBeNull();
    expect(Object.keys(t.store.getState().inflight)).toEqual(['2', '3']);
    // New actions go to the servers too, numbered on.
    expect(t.conn.sendAction(move('right'))).toBe(true);
    t.pump();
    expect(t.atServers().map((a) => a.actionNo)).toEqual([2, 3, 4]);
    expect(t.toAdmin()).toHaveLength(3);
  });

  it('ignores the admin\'s updates while the site is P2P', () => {
    const t = p2pSetup();
    const snap = welcomeAndEnter(t);
    t.handOver(0);
    const before = t.store.getState();
    const r = applyAction(snap, 'alice', { kind: 'move', dir: 'right' });
    t.sock().deliver({ type: 'update', site: 'meadow', seq: 5, applied: [], events: r.events });
    expect(t.store.getState().acceptedSeq).toBe(4);
    expect(t.store.getState().view).toBe(before.view);
    // A majority-accepted update is taken.
    t.conn.acceptUpdate({ site: 'meadow', seq: 5, applied: [], events: r.events });
    expect(t.store.getState().acceptedSeq).toBe(5);
  });

  it('holds actions while the site is closing and sends them to the admin after its enter', () => {
    const t = p2pSetup();
    welcomeAndEnter(t);
    t.handOver(0);
    t.conn.sendAction(move('up'));
    t.pump();
    t.sock().deliver({ type: 'siteStatus', site: 'meadow', mode: 'p2p', blocked: null, closing: true });
    expect(t.conn.sendAction(move('down'))).toBe(true);
    expect(t.conn.sendAction(move('left'))).toBe(true);
    t.pump();
    expect(t.atServers().map((a) => a.actionNo)).toEqual([1]);
    expect(t.toAdmin()).toEqual([]);
    t.enterCs(1);
    expect(t.store.getState().mode).toBe('cs');
    expect(t.toAdmin()).toEqual([
      { actionNo: 2, action: move('down') },
      { actionNo: 3, action: move('left') },
    ]);
    expect(t.atServers().map((a) => a.actionNo)).toEqual([1]);
  });

  it('after a hand-back resends to the admin, with their numbers, the actions above its lastActionNo', () => {
    const t = p2pSetup();
    welcomeAndEnter(t);
    t.handOver(0);
    for (const d of ['up', 'down', 'left', 'right'] as const) t.conn.sendAction(move(d));
    t.pump();
    expect(t.atServers().map((a) => a.actionNo)).toEqual([1, 2, 3, 4]);
    // The servers applied 1 and 2 before the cut; 3 and 4 after it (or never).
    t.enterCs(2);
    expect(t.toAdmin()).toEqual([
      { actionNo: 3, action: move('left') },
      { actionNo: 4, action: move('right') },
    ]);
    expect(t.conn.sendAction(move('up'))).toBe(true);
    expect(t.toAdmin().at(-1)?.actionNo).toBe(5);
  });

  it('resends nothing after a portal to another site', () => {
    const t = p2pSetup();
    welcomeAndEnter(t);
    t.handOver(0);
    for (const d of ['up', 'down'] as const) t.conn.sendAction(move(d));
    t.pump();
    t.enterCs(0, 'town');
    expect(t.store.getState().site).toBe('town');
    expect(t.toAdmin()).toEqual([]);
    expect(t.conn.sendAction(move('left'))).toBe(true);
    expect(t.toAdmin()).toEqual([{ actionNo: 3, action: move('left') }]);
  });

  it('counts actions sent to the admin and to the Site Servers apart', () => {
    const t = p2pSetup();
    welcomeAndEnter(t);
    t.conn.sendAction(move('up'));
    t.conn.sendAction(move('down'));
    expect(t.store.getState().traffic).toEqual({ adminActions: 2, peerActions: 0 });
    t.handOver(1);
    expect(t.store.getState().traffic).toEqual({ adminActions: 2, peerActions: 1 });
    t.conn.sendAction(move('left'));
    expect(t.store.getState().traffic).toEqual({ adminActions: 2, peerActions: 2 });
    t.enterCs(2);
    expect(t.store.getState().traffic).toEqual({ adminActions: 3, peerActions: 2 });
  });
});
