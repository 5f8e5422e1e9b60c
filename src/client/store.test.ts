import { describe, expect, it } from 'vitest';
import {
  createSite,
  applyAction,
  newUser,
  pathTo,
  viewOf,
  type SiteSnapshot,
  type SiteAction,
} from '../game/index.js';
import type { SiteUpdate } from '../protocol/messages.js';
import {
  BUBBLE_MS,
  createGameStore,
  enterSite,
  expire,
  initialState,
  receiveUpdate,
  snapshotOf,
  takeActionNo,
  type GameState,
  type GameStore,
} from './store.js';

/** A little admin: applies actions to a real site and produces the updates it would send. */
function fakeSite(users: string[]): {
  snapshot: () => SiteSnapshot;
  step: (user: string, actionNo: number, action: SiteAction) => SiteUpdate;
} {
  let snap = createSite('meadow');
  for (const u of users) snap = applyAction(snap, u, { kind: 'join', user: newUser(u, 'meadow') }).snapshot;
  let seq = 10;
  return {
    snapshot: () => snap,
    step(user, actionNo, action) {
      const r = applyAction(snap, user, action);
      snap = r.snapshot;
      seq++;
      return { site: 'meadow', seq, applied: [{ user, actionNo }], events: r.events };
    },
  };
}

function loggedIn(user = 'alice'): GameStore {
  const store = createGameStore();
  store.setState({ session: { user, guest: false }, status: 'online' });
  return store;
}

function enter(store: GameStore, snap: SiteSnapshot, seq = 10, lastActionNo = 0, now = 0): void {
  store.setState((s) =>
    enterSite(s, { site: 'meadow', mode: 'cs', seq, view: viewOf(snap), lastActionNo, servers: [] }, now),
  );
}

const recv = (store: GameStore, u: SiteUpdate, now = 0): void =>
  store.setState((s) => receiveUpdate(s, u, now));

describe('store: update acceptance', () => {
  it('applies updates in order and tracks acceptedSeq', () => {
    const site = fakeSite(['alice', 'bob']);
    const store = loggedIn();
    enter(store, site.snapshot());
    const u1 = site.step('alice', 1, { kind: 'move', dir: 'right' });
    const u2 = site.step('bob', 1, { kind: 'move', dir: 'down' });
    recv(store, u1);
    recv(store, u2);
    const s = store.getState();
    expect(s.acceptedSeq).toBe(12);
    expect(s.view).toEqual(viewOf(site.snapshot()));
    expect(s.buffered).toEqual([]);
  });

  it('ignores duplicates and old updates', () => {
    const site = fakeSite(['alice']);
    const store = loggedIn();
    enter(store, site.snapshot());
    const u1 = site.step('alice', 1, { kind: 'move', dir: 'right' });
    recv(store, u1);
    const after = store.getState();
    recv(store, u1);
    recv(store, { ...u1, seq: 5 });
    expect(store.getState().view).toBe(after.view);
    expect(store.getState().acceptedSeq).toBe(11);
    const me = store.getState().view!.users.find((u) => u.name === 'alice')!;
    expect(me.x).toBe(6); // moved once, not twice
  });

  it('buffers out-of-order updates until the gap closes', () => {
    const site = fakeSite(['alice']);
    const store = loggedIn();
    enter(store, site.snapshot());
    const u1 = site.step('alice', 1, { kind: 'move', dir: 'right' });
    const u2 = site.step('alice', 2, { kind: 'move', dir: 'right' });
    const u3 = site.step('alice', 3, { kind: 'move', dir: 'down' });
    recv(store, u3);
    recv(store, u2);
    recv(store, u2); // duplicate while buffered
    expect(store.getState().acceptedSeq).toBe(10);
    expect(store.getState().buffered.map((u) => u.seq)).toEqual([12, 13]);
    recv(store, u1);
    expect(store.getState().acceptedSeq).toBe(13);
    expect(store.getState().buffered).toEqual([]);
    expect(store.getState().view).toEqual(viewOf(site.snapshot()));
  });

  it('drops updates of another site and before the first enter', () => {
    const site = fakeSite(['alice']);
    const store = loggedIn();
    const u1 = site.step('alice', 1, { kind: 'move', dir: 'right' });
    recv(store, u1);
    expect(store.getState().buffered).toEqual([]);
    enter(store, site.snapshot(), 11);
    recv(store, { ...site.step('alice', 2, { kind: 'move', dir: 'up' }), site: 'town' });
    expect(store.getState().acceptedSeq).toBe(11);
    expect(store.getState().buffered).toEqual([]);
  });

  it('enter keeps buffered updates of the new site beyond its seq and drains them', () => {
    const site = fakeSite(['alice']);
    const store = loggedIn();
    enter(store, site.snapshot());
    const base = site.snapshot();
    const u1 = site.step('alice', 1, { kind: 'move', dir: 'right' });
    const u2 = site.step('alice', 2, { kind: 'move', dir: 'right' });
    // u2 arrives ahead of a gap, then a fresh enter at seq 11 (as of after u1).
    recv(store, u2);
    const afterU1 = applyAction(base, 'alice', { kind: 'move', dir: 'right' }).snapshot;
    enter(store, afterU1, u1.seq, 1);
    expect(store.getState().acceptedSeq).toBe(12);
    expect(store.getState().view).toEqual(viewOf(site.snapshot()));
  });

  it('continues action numbers after lastActionNo of enter and never goes back', () => {
    const site = fakeSite(['alice']);
    const store = loggedIn();
    enter(store, site.snapshot(), 10, 7);
    expect(store.getState().nextActionNo).toBe(8);
    const { actionNo, patch } = takeActionNo(store.getState(), 0);
    expect(actionNo).toBe(8);
    store.setState(patch);
    enter(store, site.snapshot(), 10, 3);
    expect(store.getState().nextActionNo).toBe(9);
  });
});

describe('store: action delay', () => {
  it('measures send-to-accept time of my own action', () => {
    const site = fakeSite(['alice', 'bob']);
    const store = loggedIn();
    enter(store, site.snapshot(), 10, 0);
    const t = takeActionNo(store.getState(), 1000);
    store.setState(t.patch);
    expect(store.getState().inflight).toEqual({ 1: 1000 });
    // Someone else's update does not count.
    recv(store, site.step('bob', 1, { kind: 'move', dir: 'down' }), 1020);
    expect(store.getState().lastActionDelay).toBeNull();
    recv(store, site.step('alice', t.actionNo, { kind: 'move', dir: 'right' }), 1042);
    expect(store.getState().lastActionDelay).toBe(42);
    expect(store.getState().inflight).toEqual({});
  });

  it('measures at acceptance, not arrival, when the update was buffered', () => {
    const site = fakeSite(['alice', 'bob']);
    const store = loggedIn();
    enter(store, site.snapshot());
    store.setState(takeActionNo(store.getState(), 0).patch);
    const ub = site.step('bob', 1, { kind: 'move', dir: 'down' });
    const ua = site.step('alice', 1, { kind: 'pickup' });
    recv(store, ua, 30);
    expect(store.getState().lastActionDelay).toBeNull();
    recv(store, ub, 55);
    expect(store.getState().lastActionDelay).toBe(55);
  });

  it('settles older in-flight actions once a later one is applied', () => {
    const site = fakeSite(['alice']);
    const store = loggedIn();
    enter(store, site.snapshot());
    for (const t of [0, 10, 20]) store.setState(takeActionNo(store.getState(), t).patch);
    recv(store, site.step('alice', 2, { kind: 'move', dir: 'up' }), 50);
    expect(store.getState().lastActionDelay).toBe(40);
    expect(Object.keys(store.getState().inflight)).toEqual(['3']);
  });
});

describe('store: chat', () => {
  it('makes a bubble per speaker that expires', () => {
    const site = fakeSite(['alice', 'bob']);
    const store = loggedIn();
    enter(store, site.snapshot());
    recv(store, site.step('bob', 1, { kind: 'say', text: 'hi  there' }), 100);
    recv(store, site.step('bob', 2, { kind: 'say', text: 'again' }), 200);
    const s = store.getState();
    expect(s.bubbles).toHaveLength(1);
    expect(s.bubbles[0]).toMatchObject({ speaker: 'bob', text: 'again', expiresAt: 200 + BUBBLE_MS });
    expect(s.chatLog.map((l) => l.text)).toEqual(['hi there', 'again']);
    expect(expire(s, 200 + BUBBLE_MS - 1)).toEqual({});
    expect(expire(s, 200 + BUBBLE_MS).bubbles).toEqual([]);
  });

  it('turns my rejected actions into a notice', () => {
    const site = fakeSite(['alice']);
    const store = loggedIn();
    enter(store, site.snapshot());
    recv(store, site.step('alice', 1, { kind: 'portal' }), 0);
    expect(store.getState().notice?.text).toMatch(/portal/i);
  });
});

describe('snapshot()', () => {
  it('shows what other players carry once their pick-up is accepted', () => {
    const site = fakeSite(['alice', 'bob']);
    const store = loggedIn();
    enter(store, site.snapshot());
    const bob = site.snapshot().users.find((u) => u.name === 'bob')!;
    const item = site.snapshot().site.items[0]!;
    let no = 1;
    for (const dir of pathTo('meadow', bob, item)) recv(store, site.step('bob', no++, { kind: 'move', dir }));
    recv(store, site.step('bob', no, { kind: 'pickup' }));
    const snap = snapshotOf(store.getState(), 0);
    expect(snap.players.find((p) => p.name === 'bob')?.inventory).toEqual([{ id: item.id, kind: item.kind }]);
    expect(snap.me?.inventory).toEqual([]);
    expect(snap.items.map((i) => i.id)).not.toContain(item.id);
  });

  it('is empty before login', () => {
    const snap = snapshotOf(initialState(), 0);
    expect(snap).toMatchObject({
      user: null,
      site: null,
      me: null,
      players: [],
      items: [],
      servers: [],
      serving: null,
      acceptedSeq: 0,
    });
  });

  it('has the accepted view, as a deep copy', () => {
    const site = fakeSite(['alice', 'bob']);
    const store = loggedIn();
    enter(store, site.snapshot());
    recv(store, site.step('alice', 1, { kind: 'move', dir: 'right' }));
    const state: GameState = store.getState();
    const snap = snapshotOf(state, 0);
    expect(Object.keys(snap)).toEqual(
      expect.arrayContaining([
        'user',
        'site',
        'mode',
        'me',
        'players',
        'items',
        'servers',
        'serving',
        'acceptedSeq',
      ]),
    );
    expect(snap.user).toBe('alice');
    expect(snap.site).toBe('meadow');
    expect(snap.mode).toBe('cs');
    expect(snap.me).toEqual({ x: 6, y: 7, inventory: [] });
    expect(snap.players).toEqual([
      { name: 'alice', x: 6, y: 7, inventory: [] },
      { name: 'bob', x: 5, y: 7, inventory: [] },
    ]);
    expect(snap.items.length).toBe(site.snapshot().site.items.length);
    for (const i of snap.items) expect(Object.keys(i).sort()).toEqual(['id', 'kind', 'x', 'y']);
    expect(snap.servers).toEqual([]);
    expect(snap.serving).toBeNull();
    expect(snap.acceptedSeq).toBe(11);
    // Mutating the copy leaves the store alone.
    snap.me!.inventory.push({ id: 'x', kind: 'coin' });
    snap.players[0]!.x = 99;
    snap.players[1]!.inventory.push({ id: 'x', kind: 'coin' });
    snap.items.pop();
    const again = snapshotOf(store.getState(), 0);
    expect(again.me!.inventory).toEqual([]);
    expect(again.players[0]!.x).toBe(6);
    expect(again.players[1]!.inventory).toEqual([]);
    expect(again.items.length).toBe(site.snapshot().site.items.length);
    expect(JSON.parse(JSON.stringify(again))).toEqual(again);
  });
});
