import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSite, applyAction, newUser, viewOf } from '../game/index.js';
import { PROTOCOL_VERSION, type ClientMessage, type ServerMessage } from '../protocol/messages.js';
import { createGameStore } from '../client/store.js';
import { parseServerMessage, type SocketLike } from './adminSocket.js';
import { GameConnection, MAX_INFLIGHT, PING_INTERVAL_MS, type SessionEnd } from './connection.js';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: ClientMessage[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientMessage);
  }
  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  deliver(m: ServerMessage | string): void {
    this.onmessage?.({ data: typeof m === 'string' ? m : JSON.stringify(m) });
  }
}

function setup() {
  let clock = 1000;
  const ends: SessionEnd[] = [];
  let sock: FakeSocket | null = null;
  const store = createGameStore();
  const conn = new GameConnection({
    store,
    url: 'ws://test/ws',
    socketFactory: (url) => (sock = new FakeSocket(url)),
    now: () => clock,
    wallNow: () => 5_000_000 + clock,
    onEnd: (e) => ends.push(e),
  });
  conn.connect('tok');
  return {
    store,
    conn,
    ends,
    sock: () => sock!,
    advance: (ms: number) => (clock += ms),
  };
}

function welcomeAndEnter(t: ReturnType<typeof setup>, lastActionNo = 0) {
  let snap = createSite('meadow');
  snap = applyAction(snap, 'alice', { kind: 'join', user: newUser('alice', 'meadow') }).snapshot;
  t.sock().open();
  t.sock().deliver({
    type: 'welcome',
    v: PROTOCOL_VERSION,
    user: 'alice',
    guest: false,
    serverTime: 1,
    adminKey: 'ab'.repeat(32),
    challenge: 'cd'.repeat(32),
    p2p: { config: {}, transferThreshold: 3, linkTimeoutMs: 10_000 },
    iceServers: [],
  });
  t.sock().deliver({
    type: 'enter',
    site: 'meadow',
    mode: 'cs',
    seq: 4,
    view: viewOf(snap),
    hash: null,
    lastActionNo,
    servers: [],
  });
  return snap;
}

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

  it('pings every 2 s and measures the round trip', () => {
    const t = setup();
    welcomeAndEnter(t);
    const ping = t.sock().sent.find((m) => m.type === 'ping');
    expect(ping).toMatchObject({ type: 'ping', id: 0 });
    t.advance(24);
    t.sock().deliver({ type: 'pong', id: 0, t: (ping as { t: number }).t, serverTime: 5_001_012 + 100 });
    expect(t.store.getState().rtt).toBe(24);
    expect(t.store.getState().clockOffset).toBe(100);
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    expect(t.sock().sent.filter((m) => m.type === 'ping')).toHaveLength(2);
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
