/**
 * Test harness of the session layer (connection.test.ts, detach.test.ts): a GameConnection on a
 * fake admin socket and a hand-driven clock, and for P2P a node on in-memory links with three
 * Site Servers (one mesh holding their three ends) that record the actions reaching them and can
 * send the user updates. The harness relays signaling between the socket and their mesh, as the
 * admin would. `reconnect()` starts the next session on the same store, as reconnect.ts does.
 */
import { expect } from 'vitest';
import { applyAction, createSite, newUser, viewOf } from '../game/index.js';
import type { GameEvent, PlayerAction } from '../game/types.js';
import { insecureFastScheme } from '../protocol/crypto.js';
import {
  decodePeerMessage,
  encodePeerMessage,
  PROTOCOL_VERSION,
  type ActionMessage,
  type ServerMessage,
} from '../protocol/messages.js';
import { updateHash } from '../protocol/signed.js';
import { GameConnection, type Carried, type ConnectionOptions, type SessionEnd } from './connection.js';
import { FakeSocket } from './fakeSocket.js';
import { initialState, type GameState, type StateBox } from './state.js';
import { MemoryHub } from './p2p/memoryLink.js';
import { Mesh } from './p2p/mesh.js';
import { CLOCK_PING_BASE } from './p2p/node.js';

export const SERVERS = ['srv0~aaaa', 'srv1~bbbb', 'srv2~cccc'];
export const HASH = '0f'.repeat(16);
export const ADMIN_KEY = 'ab'.repeat(32);
export const move = (dir: 'up' | 'down' | 'left' | 'right'): PlayerAction => ({ kind: 'move', dir });

/** A plain state box (the browser's is a zustand store, with the same merge). */
export function plainBox(): StateBox {
  let state: GameState = initialState();
  return {
    getState: () => state,
    setState: (patch) => void (state = { ...state, ...(typeof patch === 'function' ? patch(state) : patch) }),
  };
}

export function setup(extra: Partial<ConnectionOptions> = {}) {
  let clock = 1000;
  const ends: SessionEnd[] = [];
  let sock: FakeSocket | null = null;
  const store = plainBox();
  const open = (carried: Carried | null): GameConnection => {
    const c = new GameConnection({
      store,
      url: 'ws://test/ws',
      socketFactory: (url) => (sock = new FakeSocket(url)),
      now: () => clock,
      wallNow: () => 5_000_000 + clock,
      onEnd: (e) => ends.push(e),
      ...extra,
      carried,
    });
    c.connect('tok');
    return c;
  };
  let conn = open(null);
  return {
    store,
    /** The current session. */
    get conn(): GameConnection {
      return conn;
    },
    ends,
    /** The current session's socket. */
    sock: () => sock!,
    advance: (ms: number) => (clock += ms),
    /** The next session, with what the current (detached) one hands off. */
    reconnect(): GameConnection {
      conn = open(conn.handOff());
      return conn;
    },
  };
}

export type Setup = ReturnType<typeof setup>;

export function welcome(t: Setup, challenge = 'cd'.repeat(32)): void {
  t.sock().open();
  t.sock().deliver({
    type: 'welcome',
    v: PROTOCOL_VERSION,
    user: 'alice',
    guest: false,
    serverTime: 1,
    adminKey: ADMIN_KEY,
    challenge,
    p2p: { config: {}, transferThreshold: 3, linkTimeoutMs: 10_000 },
    iceServers: [],
  });
}

export function welcomeAndEnter(t: Setup, lastActionNo = 0) {
  let snap = createSite('meadow');
  snap = applyAction(snap, 'alice', { kind: 'join', user: newUser('alice', 'meadow') }).snapshot;
  welcome(t);
  t.sock().deliver({ type: 'enter', site: 'meadow', mode: 'cs', seq: 4, view: viewOf(snap), hash: null, lastActionNo, servers: [] });
  return snap;
}

export function p2pSetup(extra: Partial<ConnectionOptions> = {}) {
  const hub = new MemoryHub({ manual: true });
  let wake: (() => void) | null = null;
  let random = 0;
  const t = setup({
    ...extra,
    p2p: {
      links: () => hub.factory(),
      wakeup: { set: (_ms, cb) => (wake = cb), clear: () => (wake = null) },
      // Distinct bytes per call: a key made anew would show.
      randomBytes: (n) => new Uint8Array(n).fill(++random),
      crypto: insecureFastScheme,
    },
  });
  const got = new Map<string, Array<Pick<ActionMessage, 'actionNo' | 'action'>>>(SERVERS.map((id) => [id, []]));
  const toTab: ServerMessage[] = [];
  const servers = new Mesh({
    factory: hub.factory(),
    sendSignal: (from, to, data) => toTab.push({ type: 'signal', from, to, data }),
    reportFailure: () => undefined,
    now: () => Date.now(),
  });
  for (const id of SERVERS) {
    servers.listen(id, (_remote, bytes) => {
      const m = decodePeerMessage(bytes);
      if (m.ok && m.value.type === 'action') got.get(id)?.push({ actionNo: m.value.actionNo, action: m.value.action });
    });
  }
  let relayed = 0;
  let relayedSock = t.sock();
  /** Relays signaling both ways and runs the links until nothing moves. */
  const pump = (): void => {
    if (t.sock() !== relayedSock) [relayedSock, relayed] = [t.sock(), 0];
    for (let round = 0; round < 100; round++) {
      const sent = t.sock().sent;
      const out = sent.slice(relayed);
      relayed = sent.length;
      for (const m of out) if (m.type === 'signal') servers.signal(m.from, m.to, m.data);
      const back = toTab.splice(0);
      for (const m of back) t.sock().deliver(m);
      hub.flush();
      if (out.length === 0 && back.length === 0 && t.sock().sent.length === relayed && toTab.length === 0) return;
    }
    throw new Error('signaling does not settle');
  };
  /** What each server received; they all must have received the same. */
  const atServers = (): Array<Pick<ActionMessage, 'actionNo' | 'action'>> => {
    const lists = SERVERS.map((id) => got.get(id) ?? []);
    for (const l of lists) expect(l).toEqual(lists[0]);
    return lists[0] ?? [];
  };
  const toAdmin = (): Array<{ actionNo: number; action: PlayerAction }> =>
    t.sock().sent.flatMap((m) => (m.type === 'action' ? [{ actionNo: m.actionNo, action: m.action }] : []));
  const handOver = (lastActionNo: number, seq = 4): void => {
    t.sock().deliver({ type: 'handOver', site: 'meadow', servers: SERVERS, seq, hash: HASH, lastActionNo });
    t.sock().deliver({ type: 'siteStatus', site: 'meadow', mode: 'p2p', blocked: null, closing: false });
    pump();
  };
  /** The admin takes the site back (or the user walks to `site`): a client-server `enter`. */
  const enterCs = (lastActionNo: number, site = 'meadow', seq = 9): void => {
    let snap = createSite(site);
    snap = applyAction(snap, 'alice', { kind: 'join', user: newUser('alice', site) }).snapshot;
    t.sock().deliver({ type: 'enter', site, mode: 'cs', seq, view: viewOf(snap), hash: null, lastActionNo, servers: [] });
    pump();
  };
  /** Every server sends the user update `seq` (after `prev`) over the data channels. */
  const serversUpdate = (seq: number, prev: string, applied: Array<[string, number]>, events: GameEvent[]): string => {
    const body = { site: 'meadow', seq, prev, window: 1000 * seq, applied, events, stateHash: '11'.repeat(16) };
    const hash = updateHash(body);
    for (const id of SERVERS) servers.send(id, 'alice', encodePeerMessage({ type: 'update', ...body, hash }));
    pump();
    return hash;
  };
  /** Runs the node's driver once (its clock's samples, its hosts' ticks). */
  const runDriver = (): void => {
    const w = wake as (() => void) | null;
    wake = null;
    w?.();
  };
  /** The clock's first round answered: the node has an offset (and sends its key). */
  const syncClock = (): void => {
    runDriver();
    const ping = t.sock().of('ping').at(-1);
    if (!ping || ping.id < CLOCK_PING_BASE) throw new Error('no clock sample sent');
    t.sock().deliver({ type: 'pong', id: ping.id, t: ping.t, serverTime: 1_796_000_000_000 });
  };
  return Object.assign(t, { hub, servers, pump, atServers, toAdmin, handOver, enterCs, serversUpdate, runDriver, syncClock });
}
