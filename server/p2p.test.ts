/**
 * P2P hosting end to end in Node: the real Administration Server, and bots that run the same
 * session and P2P code as a browser tab over real WebRTC data channels (simple-peer on node-datachannel).
 */
import { describe, expect, it } from 'vitest';
import { Bot, nodeP2P } from '../src/bots/bot.js';
import type { P2PEnvironment } from '../src/net/connection.js';
import type { PeerLink } from '../src/net/p2p/link.js';
import type { GameEvent, PlayerAction } from '../src/game/types.js';
import { pathTo } from '../src/game/path.js';
import { getSite } from '../src/game/world.js';
import { SqliteStorage } from './storage/sqlite.js';
import { startServer } from './testkit.js';
import { bot, crowd, FAST, operator, until, volunteers } from './p2pKit.js';

function said(events: GameEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'said' ? [e.text] : []));
}

describe('P2P hosting with Node peers', () => {
  it('hands a busy site to three peers not on it; servers and players agree on every update', async () => {
    const s = await startServer({ p2p: FAST });
    const { servers, a, b } = await crowd(s);
    await until('meadow P2P at both players', () => a.state.mode === 'p2p' && b.state.mode === 'p2p');
    const serving = await until('three servers', () => (servers.every((x) => x.state.serving === 'meadow') ? servers : null));
    for (let i = 0; i < 6; i++) {
      a.act({ kind: 'say', text: `a${i}` });
      b.act({ kind: 'move', dir: i % 2 ? 'left' : 'right' });
      await until('in flight drained', () => Object.keys(a.state.inflight).length === 0 && Object.keys(b.state.inflight).length === 0);
    }
    // Same view at both players, same accepted history, and every server's log agrees.
    await until('same seq', () => a.state.acceptedSeq === b.state.acceptedSeq && a.state.acceptedSeq > 0);
    expect(a.state.view).toEqual(b.state.view);
    const acc = (x: Bot): string[] => x.conn?.node?.userHost?.core.acceptedLog().map((u) => `${u.seq}:${u.hash}`) ?? [];
    expect(acc(a)).toEqual(acc(b));
    // A majority accepted them: the last server may apply the last one a moment later.
    const applied = (x: Bot): string[] => x.conn?.node?.server?.core.appliedLog().map((u) => `${u.seq}:${u.hash}`) ?? [];
    await until('every server applied them', () => serving.every((x) => applied(x).length >= acc(a).length));
    for (const x of serving) expect(applied(x).slice(0, acc(a).length)).toEqual(acc(a));
    // Actions went over data channels, not the admin.
    expect(a.state.traffic.peerActions).toBe(6);
    expect(a.state.traffic.adminActions).toBe(0);
    const view = await operator(s);
    const meadow = view.sites.find((x) => x.id === 'meadow');
    expect(meadow?.mode).toBe('p2p');
    expect(meadow?.servers.map((x) => x.user).sort()).toEqual(servers.map((x) => x.name).sort());
  }, 40_000);

  it('two busy sites waiting for peers get disjoint servers when the peers come in one check', async () => {
    const s = await startServer({ p2p: FAST });
    const players = await Promise.all(['meadow', 'meadow', 'lake', 'lake'].map((site) => bot(s, site, { serve: false })));
    await until('both blocked', async () => (await operator(s)).sites.filter((x) => x.blocked !== null).length === 2);
    const servers = await Promise.all(Array.from({ length: 6 }, () => bot(s, 'town')));
    await until('both P2P', () => players.every((p) => p.state.mode === 'p2p' && p.state.view !== null));
    const meadow = players[0]!.state.servers.map((x) => x.id);
    const lake = players[2]!.state.servers.map((x) => x.id);
    expect(meadow).toHaveLength(3);
    expect(lake).toHaveLength(3);
    expect(meadow.filter((id) => lake.includes(id))).toEqual([]);
    // Every tab serves the one site it was given.
    await until('each serves its site', () =>
      servers.every((b) => {
        const id = b.conn?.node?.serverId ?? '';
        return b.state.serving === (meadow.includes(id) ? 'meadow' : lake.includes(id) ? 'lake' : null);
      }),
    );
  });

  it('what the admin stores while a site is P2P never holds an item twice: one carried off to a client-server site, then a restart', async () => {
    const s = await startServer({ p2p: FAST });
    await volunteers(s);
    const a = await bot(s, 'meadow', { serve: false });
    await bot(s, 'meadow', { serve: false });
    await until('P2P', () => a.state.mode === 'p2p' && a.state.view !== null);
    const me = a.state.view!.users.find((u) => u.name === a.name)!;
    const item = a.state.view!.items[0]!;
    const step = async (action: PlayerAction): Promise<void> => {
      await until('sent', () => a.act(action));
      await until('applied', () => Object.keys(a.state.inflight).length === 0);
    };
    for (const dir of pathTo('meadow', me, item)) await step({ kind: 'move', dir });
    await step({ kind: 'pickup' });
    await until('picked', () => a.state.view?.users.find((u) => u.name === a.name)?.inventory.some((i) => i.id === item.id));
    const portal = getSite('meadow').portals.find((p) => p.to === 'forest')!;
    const at = a.state.view!.users.find((u) => u.name === a.name)!;
    for (const dir of pathTo('meadow', at, portal)) await step({ kind: 'move', dir });
    await until('sent', () => a.act({ kind: 'portal' }));
    await until('in the forest', () => a.state.site === 'forest' && a.state.view !== null, 20_000);
    await s.close();
    // The next start finds the item in a's inventory and not on the meadow.
    // Its servers never come back (they were on the old port): the meadow is resumed, and lost
    // at once when waiting for them ends.
    const s2 = await startServer({ dbFile: s.dbFile, p2p: { ...FAST, transferThreshold: 50 }, resumeGraceMs: 300 });
    const look = await bot(s2, 'meadow', { serve: false });
    expect(look.state.view!.items.map((i) => i.id)).not.toContain(item.id);
    const stored = new SqliteStorage(s.dbFile);
    try {
      expect(stored.getUser(a.name)?.state.inventory.map((i) => i.id)).toContain(item.id);
    } finally {
      stored.close();
    }
  }, 45_000);

  it('applies every action exactly once across client-server -> P2P -> client-server', async () => {
    // Three players make meadow busy; when two leave, 1 < 3 / 2 and it goes back after 300 ms.
    const s = await startServer({ p2p: { ...FAST, transferThreshold: 3, handBackAfterMs: 300 } });
    await volunteers(s);
    const seen: string[] = [];
    const a = await bot(s, 'meadow', { serve: false, onUpdate: (u) => seen.push(...said(u.events)) });
    const sent: string[] = [];
    let n = 0;
    const say = (): void => {
      const text = `m${n++}`;
      if (a.act({ kind: 'say', text })) sent.push(text);
      else n--;
    };
    // Keep saying things while the site goes to peers (b arrives) and back (b leaves).
    const pump = setInterval(say, 15);
    try {
      await until('some CS actions', () => sent.length >= 5);
      const b = await bot(s, 'meadow', { serve: false });
      const c = await bot(s, 'meadow', { serve: false });
      await until('P2P', () => a.state.mode === 'p2p');
      await until('P2P actions', () => a.state.traffic.peerActions >= 10);
      b.close();
      c.close();
      await until('back to CS', () => a.state.mode === 'cs' && a.state.traffic.adminActions > 5 + 10, 20_000);
      await until('more CS actions', () => sent.length > 60);
    } finally {
      clearInterval(pump);
    }
    await until('all applied', () => Object.keys(a.state.inflight).length === 0 && seen.length >= sent.length, 10_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: sent ${sent.length}, seen ${seen.length}, missing ${sent.filter((x) => !seen.includes(x)).join(' ')}, inflight ${Object.keys(a.state.inflight).join(' ')}`);
    });
    expect(seen).toEqual(sent);
    expect(a.state.traffic.peerActions).toBeGreaterThan(0);
  }, 60_000);

  it('keeps playing when a serving tab closes, and a fresh peer replaces it', async () => {
    const s = await startServer({ p2p: FAST });
    const { servers, a, b } = await crowd(s);
    await until('P2P', () => a.state.mode === 'p2p' && b.state.mode === 'p2p' && a.state.view !== null);
    await until('served', () => servers.every((x) => x.state.serving === 'meadow'));
    const spare = await bot(s, 'lake');
    await until('spare key', () => spare.conn?.node?.serverId);
    const gone = servers[0]!;
    const goneId = gone.conn?.node?.serverId;
    gone.close();
    // Play on throughout: every action is applied while the site loses a server and gets a new one.
    let moves = 0;
    const deadline = Date.now() + 20_000;
    while (spare.state.serving !== 'meadow' || !a.state.servers.some((x) => x.id === spare.conn?.node?.serverId)) {
      if (Date.now() > deadline) throw new Error(`no replacement: ${JSON.stringify(a.state.servers)}`);
      a.act({ kind: 'say', text: `still here ${moves++}` });
      await until('applied', () => Object.keys(a.state.inflight).length === 0, 5000);
    }
    expect(a.state.servers.find((x) => x.id === goneId)?.state).toBe('replaced');
    // The newcomer took the state from the majority and applies what the others apply.
    const newId = spare.conn?.node?.serverId ?? '';
    await until('newcomer running', () => spare.conn?.node?.server?.core.status() === 'running');
    a.act({ kind: 'say', text: 'after' });
    await until('after applied', () => Object.keys(a.state.inflight).length === 0);
    const last = a.conn?.node?.userHost?.core.lastAccepted();
    await until('newcomer has it', () => spare.conn?.node?.server?.core.appliedLog().some((u) => u.seq === last?.seq && u.hash === last?.hash));
    expect((await operator(s)).sites.find((x) => x.id === 'meadow')?.servers.find((x) => x.id === newId)?.state).toBe('active');
  }, 45_000);

  /** A P2P environment whose links to `victim` never open (think of a NAT in between). */
  const cutOff = (victim: { id: string }): P2PEnvironment => {
    const env = nodeP2P();
    return {
      ...env,
      links: (ice) => {
        const make = env.links(ice);
        return (o) => (o.remote === victim.id ? deadLink() : make(o));
      },
    };
  };

  it("does not evict a server on its players' reports alone while its fellow servers and the admin hear it (issue 17, finding 2)", async () => {
    const s = await startServer({ p2p: { ...FAST, linkTimeoutMs: 1500 } });
    const servers = await volunteers(s);
    const victim = { id: servers[1]!.conn?.node?.serverId ?? '' };
    const a = await bot(s, 'meadow', { serve: false, p2p: cutOff(victim) });
    const b = await bot(s, 'meadow', { serve: false, p2p: cutOff(victim) });
    await until('P2P', () => a.state.mode === 'p2p' && b.state.mode === 'p2p' && a.state.view !== null);
    expect(a.state.servers.map((x) => x.id)).toContain(victim.id);
    const spare = await bot(s, 'lake');
    await until('spare key', () => spare.conn?.node?.serverId);
    // Both players report it; the admin weighs the reports and keeps it (the others reach it).
    await until('reports weighed', () => s.logs.some((l) => l.includes('p2p.unreachable_weighed') && l.includes(victim.id) && l.includes(a.name) && l.includes(b.name)), 20_000);
    a.act({ kind: 'say', text: 'two servers are enough' });
    await until('applied', () => Object.keys(a.state.inflight).length === 0);
    expect(s.logs.some((l) => l.includes('p2p.evict') && l.includes('unreachable by'))).toBe(false);
    expect(a.state.servers.find((x) => x.id === victim.id)?.state).not.toBe('replaced');
  }, 45_000);

  it('replaces a server that neither its players nor its fellow servers can reach', async () => {
    const s = await startServer({ p2p: { ...FAST, linkTimeoutMs: 1500 } });
    const victim = { id: '' };
    const servers = [await bot(s, 'town', { p2p: cutOff(victim) }), await bot(s, 'town', { p2p: cutOff(victim) }), await bot(s, 'town', { p2p: cutOff(victim) })];
    await until('keys registered', () => servers.every((x) => x.conn?.node?.serverId));
    victim.id = servers[1]!.conn?.node?.serverId ?? '';
    const a = await bot(s, 'meadow', { serve: false, p2p: cutOff(victim) });
    const b = await bot(s, 'meadow', { serve: false, p2p: cutOff(victim) });
    await until('P2P', () => a.state.mode === 'p2p' && b.state.mode === 'p2p' && a.state.view !== null);
    expect(a.state.servers.map((x) => x.id)).toContain(victim.id);
    const spare = await bot(s, 'lake');
    await until('spare key', () => spare.conn?.node?.serverId);
    await until('victim replaced', () => a.state.servers.some((x) => x.id === victim.id && x.state === 'replaced'), 20_000);
    a.act({ kind: 'say', text: 'reachable again' });
    await until('applied', () => Object.keys(a.state.inflight).length === 0);
  }, 45_000);

  it('a frozen serving tab is ignored, then replaced; the players play on', async () => {
    const s = await startServer({ p2p: FAST });
    // One server's tab can freeze: its timers stop and its channels go quiet, its admin socket stays.
    const frozen = { on: false };
    const freezable = (): P2PEnvironment => freezableP2P(frozen, 'drop');
    const servers = [await bot(s, 'town', { p2p: freezable() }), await bot(s, 'town'), await bot(s, 'town')];
    await until('keys registered', () => servers.every((b) => b.conn?.node?.serverId));
    const a = await bot(s, 'meadow', { serve: false });
    const b = await bot(s, 'meadow', { serve: false });
    await until('P2P', () => a.state.mode === 'p2p' && a.state.view !== null && b.state.view !== null);
    const spare = await bot(s, 'lake');
    await until('spare key', () => spare.conn?.node?.serverId);
    const frozenId = servers[0]!.conn?.node?.serverId ?? '';
    frozen.on = true;
    let i = 0;
    while (!a.state.servers.some((x) => x.id === frozenId && x.state === 'replaced')) {
      a.act({ kind: 'say', text: `on ${i++}` });
      await until('applied while one server is frozen', () => Object.keys(a.state.inflight).length === 0, 5000);
      if (i > 400) throw new Error(`not replaced: ${JSON.stringify(a.state.servers)}`);
    }
    // It went through the protocol: ignored first (TRM, ignore requests), replaced T_ignore later.
    expect(s.logs.some((l) => l.includes('"change":"ignore"') && l.includes(frozenId))).toBe(true);
    expect(a.state.servers.some((x) => x.id === spare.conn?.node?.serverId)).toBe(true);
  }, 45_000);

  it('a server that walks into the site it serves stops serving it and plays there; the site runs on', async () => {
    const s = await startServer({ p2p: FAST });
    const { servers, a, b } = await crowd(s);
    await until('P2P', () => a.state.mode === 'p2p' && a.state.view !== null && b.state.view !== null);
    const spareLog: unknown[][] = [];
    const spare = await bot(s, 'lake', { log: (...a) => void spareLog.push(a) });
    await until('spare key', () => spare.conn?.node?.serverId);
    const walker = servers[0]!;
    const walkerId = walker.conn?.node?.serverId ?? '';
    await until('walker serves meadow', () => walker.state.serving === 'meadow');
    // Its core running, not still waiting for its links (a host that never started has no copy to hand over).
    await until('walker runs', () => walker.conn?.node?.server?.stats().status === 'running');
    // From the town's spawn to its portal to the meadow, then through it.
    const me = walker.state.view!.users.find((u) => u.name === walker.name)!;
    for (const dir of pathTo('town', me, { x: 1, y: 6 })) {
      walker.act({ kind: 'move', dir });
      await until('step applied', () => Object.keys(walker.state.inflight).length === 0);
    }
    walker.act({ kind: 'portal' });
    await until('walker plays on the meadow', () => walker.state.site === 'meadow' && walker.state.mode === 'p2p' && walker.state.view !== null, 20_000);
    expect(walker.state.serving).toBeNull();
    await until('a fresh server in its slot', () => a.state.servers.some((x) => x.id === walkerId && x.state === 'replaced'));
    expect(a.state.servers.filter((x) => x.state !== 'replaced').map((x) => x.id)).toContain(spare.conn?.node?.serverId);
    // The newcomer is told to take the walker's copy first and adopts a state the others vouch
    // for: the walker's, or another server's when the walker's copy is late (a loaded machine).
    // That the copy asked first is the walker's is src/protocol/handoff.test.ts.
    expect(spareLog.some(([event, f]) => event === 'p2p.serve' && (f as { stateFrom?: string }).stateFrom === walkerId)).toBe(true);
    await until('the spare adopted a state', () =>
      spareLog.some(([event, f]) => event === 'p2p.server' && (f as { kind?: string }).kind === 'resynced'),
    );
    // The three servers of the site are in step again, as the players see them. A player judges a
    // server by its copies of updates, so it keeps playing: with no update a server whose last copy
    // came late (a loaded machine) would stay 'late' in its view for good.
    let said = 0;
    const inStep = (): boolean => a.state.servers.filter((x) => x.state === 'in-step').length === 3;
    await (async () => {
      while (!inStep()) {
        if (said >= 30) throw new Error('timed out waiting for three in step');
        a.act({ kind: 'say', text: `still here ${said++}` });
        await until('applied', () => Object.keys(a.state.inflight).length === 0, 5000);
      }
    })().catch((e: unknown) => {
      const sp = spare.conn?.node?.server?.core;
      throw new Error(`${(e as Error).message}: ${JSON.stringify(a.state.servers)} ${JSON.stringify(spare.conn?.node?.server?.stats())} a.last=${JSON.stringify(a.conn?.node?.userHost?.core.lastAccepted())} spare.last=${JSON.stringify(sp?.lastUpdate())} spare.slot=${JSON.stringify(sp?.membership()?.members.map((m) => [m.id.slice(0, 8), m.slot, m.stints]))} spare.users=${JSON.stringify(sp?.snapshot()?.users.map((u) => u.name))} a=${a.name}`);
    });
    // Everyone sees the newcomer, and it plays like anyone.
    await until('a sees the walker', () => a.state.view?.users.some((u) => u.name === walker.name));
    walker.act({ kind: 'say', text: 'hello meadow' });
    await until('walker action applied', () => Object.keys(walker.state.inflight).length === 0);
    await until('same view', () => JSON.stringify(a.state.view) === JSON.stringify(walker.state.view));
  }, 45_000);

  it('does not evict servers for a player who can reach none of them (its own link is the trouble)', async () => {
    const s = await startServer({ p2p: { ...FAST, linkTimeoutMs: 2000 } });
    await volunteers(s);
    const isolated = (): P2PEnvironment => ({ ...nodeP2P(), links: () => () => deadLink() });
    const a = await bot(s, 'meadow', { serve: false, p2p: isolated() });
    await bot(s, 'meadow', { serve: false, p2p: isolated() });
    await until('P2P', () => a.state.mode === 'p2p');
    // Both players report every server; the admin weighs the reports a moment later.
    await until('reports', () => s.logs.filter((l) => l.includes('p2p.link_failed')).length >= 6, 20_000);
    const weighed = (): string[] => s.logs.filter((l) => l.includes('p2p.unreachable_weighed'));
    await until('weighed with every report', () => weighed().some((l) => (l.match(/guest-/g) ?? []).length >= 3 * 3), 10_000);
    expect(s.logs.some((l) => l.includes('"event":"p2p.evict"'))).toBe(false);
  }, 40_000);

  it('a server frozen for a moment is ignored, readmitted when it is back, and counts again', async () => {
    const s = await startServer({ p2p: { ...FAST, T_ignore: 60_000 } });
    const frozen = { on: false };
    const freezable = (): P2PEnvironment => freezableP2P(frozen, 'later');
    const servers = [await bot(s, 'town', { p2p: freezable() }), await bot(s, 'town'), await bot(s, 'town')];
    await until('keys registered', () => servers.every((b) => b.conn?.node?.serverId));
    const a = await bot(s, 'meadow', { serve: false });
    await bot(s, 'meadow', { serve: false });
    await until('P2P', () => a.state.mode === 'p2p' && a.state.view !== null);
    const id = servers[0]!.conn?.node?.serverId ?? '';
    frozen.on = true;
    let i = 0;
    const say = async (): Promise<void> => {
      a.act({ kind: 'say', text: `n${i++}` });
      await until('applied', () => Object.keys(a.state.inflight).length === 0, 5000);
    };
    while (!a.state.servers.some((x) => x.id === id && x.state === 'ignored')) await say();
    frozen.on = false;
    // Back: readmitted (a new stint), and its votes count again.
    while (a.state.servers.find((x) => x.id === id)?.state !== 'in-step' || !s.logs.some((l) => l.includes('"change":"admit"'))) {
      await say();
      if (i > 500) throw new Error(`not back: ${JSON.stringify(a.state.servers)} ${JSON.stringify(servers[0]!.conn?.node?.server?.stats())}`);
    }
    for (let k = 0; k < 5; k++) await say();
    expect(a.state.servers.find((x) => x.id === id)?.state).toBe('in-step');
  }, 60_000);
});

/** A link whose frames are dropped both ways while `quiet()` (a frozen tab). */
/**
 * Node P2P whose tab freezes while `frozen.on`: timers stop (their callbacks are dropped, or run
 * once it is back with 'later') and channels go quiet; its admin socket stays.
 */
function freezableP2P(frozen: { on: boolean }, timers: 'drop' | 'later'): P2PEnvironment {
  const env = nodeP2P();
  const fire = (cb: () => void): void => {
    if (!frozen.on) cb();
    else if (timers === 'later') env.wakeup.set(20, () => fire(cb));
  };
  return {
    ...env,
    wakeup: { set: (ms, cb) => env.wakeup.set(ms, () => fire(cb)), clear: () => env.wakeup.clear() },
    links: (ice) => {
      const make = env.links(ice);
      return (o) => muted(make(o), () => frozen.on);
    },
  };
}

function muted(link: PeerLink, quiet: () => boolean): PeerLink {
  return {
    get open() {
      return link.open;
    },
    get buffered() {
      return link.buffered;
    },
    send: (b) => (quiet() ? true : link.send(b)),
    onOpen: (cb) => link.onOpen(cb),
    onMessage: (cb) => link.onMessage((bytes) => (quiet() ? undefined : cb(bytes))),
    onClose: (cb) => link.onClose(cb),
    close: () => link.close(),
    signal: (d) => link.signal(d),
  };
}

/** A link that never opens. */
function deadLink(): PeerLink {
  return {
    open: false,
    buffered: 0,
    send: () => false,
    onOpen: () => undefined,
    onMessage: () => undefined,
    onClose: () => undefined,
    close: () => undefined,
    signal: () => undefined,
  };
}
