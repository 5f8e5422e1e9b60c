import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SignalData } from '../../protocol/messages.js';
import { isBundle, unpackBundle } from '../../protocol/peerCodec.js';
import { MemoryHub } from './memoryLink.js';
import { Mesh, offers } from './mesh.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Signal {
  from: string;
  to: string;
  data: SignalData;
}

/**
 * Tabs on one in-memory hub, with the test as the admin relaying signaling between them (later
 * than the send, like a WebSocket). `pass` decides which signals get through.
 */
function world() {
  const hub = new MemoryHub({ manual: true });
  const owner = new Map<string, Mesh>();
  const meshes: Mesh[] = [];
  const signals: Signal[] = [];
  const failures: Array<[string, string]> = [];
  const logs: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const got = new Map<string, Array<[string, string]>>();
  const w = {
    hub,
    signals,
    failures,
    logs,
    pass: (_s: Signal): boolean => true,
    /** Ends whose next links fail before they open (ICE failing), as many times as listed. */
    failNext: new Map<string, number>(),
    /** A tab owning `ends` (a user name and/or a server id). */
    tab(...ends: string[]): Mesh {
      const base = hub.factory();
      const mesh = new Mesh({
        factory: (o) => {
          const link = base(o);
          const n = w.failNext.get(o.local) ?? 0;
          if (n > 0) {
            w.failNext.set(o.local, n - 1);
            hub.later(() => (link as unknown as { finish(why: string): void }).finish('failed'));
          }
          return link;
        },
        sendSignal: (from, to, data) => {
          const s = { from, to, data };
          signals.push(s);
          if (w.pass(s)) hub.later(() => owner.get(to)?.signal(from, to, data));
        },
        reportFailure: (local, remote) => failures.push([local, remote]),
        now: () => Date.now(),
        log: (event, fields) => logs.push({ event, fields }),
      });
      meshes.push(mesh);
      for (const end of ends) {
        owner.set(end, mesh);
        got.set(end, []);
        mesh.listen(end, (remote, bytes) => got.get(end)?.push([remote, dec.decode(bytes)]));
      }
      return mesh;
    },
    /** Frames an end received, as [remote, text]. */
    got: (end: string): Array<[string, string]> => got.get(end) ?? [],
    offersSent: (from: string, to: string): number => signals.filter((s) => s.from === from && s.to === to && s.data.type === 'offer').length,
    close: (): void => meshes.forEach((m) => m.close()),
  };
  return w;
}

let w: ReturnType<typeof world>;
beforeEach(() => {
  vi.useFakeTimers();
  w = world();
});
afterEach(() => {
  w.close();
  vi.useRealTimers();
});

/** The frames of one link frame (the queue leaves as a bundle). */
const framesOf = (b: Uint8Array): Uint8Array[] => {
  if (!isBundle(b)) return [b];
  const u = unpackBundle(b);
  return u.ok ? u.frames : [];
};

const send = (m: Mesh, local: string, remote: string, text: string): void => m.send(local, remote, enc.encode(text));

describe('offers', () => {
  it('a user end always offers; between two servers the smaller id does', () => {
    expect(offers('alice', 'bob~bb22')).toBe(true);
    expect(offers('bob~bb22', 'alice')).toBe(false);
    expect(offers('zed', 'amy~0001')).toBe(true);
    expect(offers('amy~0001', 'zed~0002')).toBe(true);
    expect(offers('zed~0002', 'amy~0001')).toBe(false);
  });

  it('the end that does not offer makes no link until the offer comes', () => {
    const server = w.tab('bob~bb22');
    const user = w.tab('alice');
    server.ensure('bob~bb22', 'alice');
    w.hub.flush();
    expect(w.signals).toEqual([]);
    user.ensure('alice', 'bob~bb22');
    w.hub.flush();
    expect(w.offersSent('alice', 'bob~bb22')).toBe(1);
    expect(w.offersSent('bob~bb22', 'alice')).toBe(0);
    expect(server.isOpen('bob~bb22', 'alice')).toBe(true);
    expect(user.isOpen('alice', 'bob~bb22')).toBe(true);
    expect(w.hub.openLinks).toBe(1);
  });
});

describe('Mesh frames', () => {
  it('queues frames until the link opens and delivers them in order, from either side', () => {
    const user = w.tab('alice');
    const server = w.tab('bob~bb22');
    // The server end speaks first: its frames wait for the user's offer.
    send(server, 'bob~bb22', 'alice', 's1');
    send(server, 'bob~bb22', 'alice', 's2');
    w.hub.flush();
    expect(w.got('alice')).toEqual([]);
    for (const t of ['u1', 'u2', 'u3']) send(user, 'alice', 'bob~bb22', t);
    expect(user.isOpen('alice', 'bob~bb22')).toBe(false);
    w.hub.flush();
    expect(w.got('bob~bb22')).toEqual([['alice', 'u1'], ['alice', 'u2'], ['alice', 'u3']]);
    expect(w.got('alice')).toEqual([['bob~bb22', 's1'], ['bob~bb22', 's2']]);
    // Once open, frames go straight through.
    send(user, 'alice', 'bob~bb22', 'u4');
    w.hub.flush();
    expect(w.got('bob~bb22').at(-1)).toEqual(['alice', 'u4']);
  });

  it('a frame sent when the link reports open, before its open callback ran, goes after the queued ones', () => {
    // node-datachannel: isOpen() is true before the (deferred) open callback drains the queue.
    const sent: string[] = [];
    const opened: Array<() => void> = [];
    const link = {
      open: false,
      buffered: 0,
      send: (b: Uint8Array): boolean => (link.open ? (sent.push(...framesOf(b).map((f) => dec.decode(f))), true) : false),
      onOpen: (cb: () => void): void => void opened.push(cb),
      onMessage: (): void => undefined,
      onClose: (): void => undefined,
      close: (): void => undefined,
      signal: (): void => undefined,
    };
    const mesh = new Mesh({ factory: () => link, sendSignal: () => undefined, reportFailure: () => undefined, now: () => 0 });
    send(mesh, 'alice', 'bob~bb22', 'u1');
    send(mesh, 'alice', 'bob~bb22', 'u2');
    link.open = true;
    send(mesh, 'alice', 'bob~bb22', 'u3');
    for (const cb of opened) cb();
    send(mesh, 'alice', 'bob~bb22', 'u4');
    expect(sent).toEqual(['u1', 'u2', 'u3', 'u4']);
    mesh.close();
  });

  it('a link that fails before it opens is started again, and nothing queued on either side is lost', () => {
    const user = w.tab('alice');
    const server = w.tab('bob~bb22');
    w.failNext.set('alice', 1);
    w.failNext.set('bob~bb22', 1);
    send(server, 'bob~bb22', 'alice', 's1');
    for (const t of ['u1', 'u2']) send(user, 'alice', 'bob~bb22', t);
    w.hub.flush();
    send(user, 'alice', 'bob~bb22', 'u3');
    w.hub.flush();
    expect(w.logs.filter((l) => l.event === 'mesh.retry').length).toBeGreaterThan(0);
    expect(w.got('bob~bb22')).toEqual([['alice', 'u1'], ['alice', 'u2'], ['alice', 'u3']]);
    expect(w.got('alice')).toEqual([['bob~bb22', 's1']]);
  });

  it('a link that keeps failing while it opens is given up after three attempts', () => {
    const user = w.tab('alice');
    w.tab('bob~bb22');
    w.failNext.set('alice', 10);
    send(user, 'alice', 'bob~bb22', 'u1');
    w.hub.flush();
    expect(w.offersSent('alice', 'bob~bb22')).toBe(3);
    expect(user.isOpen('alice', 'bob~bb22')).toBe(false);
  });

  it('keeps the latest 512 frames while a link opens', () => {
    const user = w.tab('alice');
    w.tab('bob~bb22');
    for (let i = 0; i < 600; i++) send(user, 'alice', 'bob~bb22', String(i));
    w.hub.flush();
    expect(w.got('bob~bb22').map(([, t]) => Number(t))).toEqual(Array.from({ length: 512 }, (_, i) => 88 + i));
  });

  it('gives the frames of one tab\'s two ends (user and server) each to its own handler', () => {
    const a = w.tab('alice', 'alice~aa11');
    const b = w.tab('bob~bb22');
    send(a, 'alice', 'bob~bb22', 'as user');
    send(a, 'alice~aa11', 'bob~bb22', 'as server');
    w.hub.flush();
    expect(w.hub.openLinks).toBe(2);
    expect(w.got('bob~bb22')).toEqual([['alice', 'as user'], ['alice~aa11', 'as server']]);
    send(b, 'bob~bb22', 'alice', 'to user');
    send(b, 'bob~bb22', 'alice~aa11', 'to server');
    w.hub.flush();
    expect(w.got('alice')).toEqual([['bob~bb22', 'to user']]);
    expect(w.got('alice~aa11')).toEqual([['bob~bb22', 'to server']]);
  });

  it('replaces an answered link when a second offer comes for it (the remote reloaded)', () => {
    const old = w.tab('alice');
    const server = w.tab('bob~bb22');
    send(old, 'alice', 'bob~bb22', 'hello');
    w.hub.flush();
    expect(server.isOpen('bob~bb22', 'alice')).toBe(true);
    // Alice's page reloads: a new tab with the same end offers anew; the old one just goes quiet.
    const fresh = w.tab('alice');
    const freshGot: string[] = [];
    fresh.listen('alice', (_r, bytes) => freshGot.push(dec.decode(bytes)));
    send(fresh, 'alice', 'bob~bb22', 'hello again');
    w.hub.flush();
    expect(w.got('bob~bb22').map(([, t]) => t)).toEqual(['hello', 'hello again']);
    expect(old.isOpen('alice', 'bob~bb22')).toBe(false);
    expect(w.logs).toContainEqual({ event: 'mesh.removed', fields: { local: 'bob~bb22', remote: 'alice', why: 'superseded' } });
    send(server, 'bob~bb22', 'alice', 'welcome back');
    w.hub.flush();
    expect(freshGot).toEqual(['welcome back']);
    expect(w.got('alice')).toEqual([]); // the old tab's handler
    expect(w.hub.openLinks).toBe(1);
  });
});

describe('Mesh failures', () => {
  it('reports a link that does not open in 10 s once, and tries again only after a 2 s pause', () => {
    const user = w.tab('alice');
    w.tab('bob~bb22');
    w.pass = () => false; // the remote never answers
    send(user, 'alice', 'bob~bb22', 'lost');
    w.hub.flush();
    expect(w.offersSent('alice', 'bob~bb22')).toBe(1);
    vi.advanceTimersByTime(9_999);
    expect(w.failures).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(w.failures).toEqual([['alice', 'bob~bb22']]);
    // Paused: sends make no new attempt for 2 s.
    vi.advanceTimersByTime(1_999);
    send(user, 'alice', 'bob~bb22', 'still paused');
    w.hub.flush();
    expect(w.offersSent('alice', 'bob~bb22')).toBe(1);
    vi.advanceTimersByTime(1);
    w.pass = () => true;
    send(user, 'alice', 'bob~bb22', 'again');
    w.hub.flush();
    expect(w.offersSent('alice', 'bob~bb22')).toBe(2);
    expect(w.got('bob~bb22')).toEqual([['alice', 'again']]);
    vi.advanceTimersByTime(60_000);
    expect(w.failures).toEqual([['alice', 'bob~bb22']]);
  });

  it('an end waiting for an offer is reported only when it has frames to send', () => {
    const server = w.tab('bob~bb22', 'cat~cc33');
    w.tab('alice');
    server.ensure('bob~bb22', 'alice');
    send(server, 'cat~cc33', 'alice', 'nobody called');
    vi.advanceTimersByTime(30_000);
    expect(w.failures).toEqual([['cat~cc33', 'alice']]);
  });
});

describe('Mesh prune and drop', () => {
  it('prune closes the links of an end to peers not kept; drop closes all of them and forgets the end', () => {
    const user = w.tab('alice');
    const s1 = w.tab('s1~0001');
    const s2 = w.tab('s2~0002');
    send(user, 'alice', 's1~0001', 'a');
    send(user, 'alice', 's2~0002', 'a');
    w.hub.flush();
    expect(user.openCount('alice')).toBe(2);
    user.prune('alice', new Set(['s1~0001']));
    w.hub.flush();
    expect(user.openCount('alice')).toBe(1);
    expect(s2.isOpen('s2~0002', 'alice')).toBe(false);
    expect(s1.isOpen('s1~0001', 'alice')).toBe(true);
    user.drop('alice');
    w.hub.flush();
    expect(user.openCount()).toBe(0);
    expect(s1.isOpen('s1~0001', 'alice')).toBe(false);
    expect(w.hub.openLinks).toBe(0);
    // Signaling for a dropped end is ignored: no link comes back.
    send(s1, 's1~0001', 'alice', 'anyone?');
    user.signal('s1~0001', 'alice', { type: 'offer', sdp: 'memory:999' });
    w.hub.flush();
    expect(user.openCount()).toBe(0);
    expect(w.logs.some((l) => l.event === 'mesh.signal_for_unknown_end')).toBe(true);
  });
});
