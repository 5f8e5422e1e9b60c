/**
 * kill -9 of the real admin process (docs/hosting.md "After a crash"): `server/main.ts` as
 * `npm start` runs it, a child process on a temporary database, with bots (the tab's session and
 * P2P code over real data channels) on one P2P site and one client-server site. The process is
 * killed with SIGKILL, so no shutdown hook runs, and started again on the same database and port;
 * the bots reconnect. What hosting.md promises is checked on the database the dead process left
 * and on the next process: each user once with its stored state, every item once, the P2P site
 * resumed by the same servers with what was played there, client-server play since the last
 * world save undone in storage and replayed by the player that comes back (its client resends
 * its actions above the stored number, by the rules), nobody stuck.
 *
 * The periodic world save and the P2P sites' verified saves are an hour apart here, so what the
 * dead process left is what its crossings wrote (a transfer, a portal out of the P2P site).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import type { Bot } from '../src/bots/bot.js';
import { getSite, listSites } from '../src/game/index.js';
import { pathTo } from '../src/game/path.js';
import type { OperatorView } from './operator.js';
import { SqliteStorage } from './storage/sqlite.js';
import { tempDir } from './testkit.js';
import { bot, me, step, until, walkTo } from './p2pKit.js';

const ADMIN_TOKEN = 'k'.repeat(40);
const HOUR_MS = '3600000';

interface AdminChild {
  url: string;
  port: number;
  child: ChildProcess;
  /** Resolves with how the process ended. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `server/main.ts` on `dbFile` and `port` (0: a free one) and resolves with its URL once it
 * prints it. Killed (SIGKILL) when the test ends if it still runs; its output is printed if the
 * test fails.
 */
function startAdminProcess(dbFile: string, port: number, out: string[]): Promise<AdminChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      MMO_DB: dbFile,
      MMO_ADMIN_TOKEN: ADMIN_TOKEN,
      MMO_N_SERVER: '3',
      MMO_TRANSFER_THRESHOLD: '2',
      // p2pKit's FAST settings: quick, but links still opening on a loaded machine are no dead server.
      MMO_T_TIMESLOT_MS: '50',
      MMO_T_TIMEOUT_MS: '400',
      MMO_T_REQ_TIMEOUT_MS: '300',
      MMO_T_IGNORE_MS: '1500',
      // Only crossings save the world (see the header); a site with one player stays P2P.
      MMO_SAVE_INTERVAL_MS: HOUR_MS,
      MMO_P2P_SAVE_MS: HOUR_MS,
      MMO_HAND_BACK_MS: HOUR_MS,
      MMO_GUEST_BURST: '1000',
      MMO_GUEST_RATE: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
  });
  return new Promise((resolve, reject) => {
    let text = '';
    const listening = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      out.push(chunk.toString('utf8'));
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(text);
      if (m) {
        child.stdout?.off('data', listening);
        child.stdout?.on('data', (c: Buffer) => out.push(c.toString('utf8')));
        resolve({ url: m[1]!, port: Number(m[2]), child, exit });
      }
    };
    child.stdout?.on('data', listening);
    child.stderr?.on('data', (c: Buffer) => out.push(c.toString('utf8')));
    void exit.then(({ code, signal }) =>
      reject(new Error(`admin exited (${code ?? signal}) before listening:\n${out.join('')}`)),
    );
  });
}

async function operator(a: AdminChild): Promise<OperatorView> {
  const r = await fetch(`${a.url}api/admin`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return (await r.json()) as OperatorView;
}

const carried = (b: Bot): string[] => (me(b)?.inventory ?? []).map((i) => i.id).sort();

/** Walks to the item of the bot's site nearest to it (not one of `not`) and picks it up; its id. */
async function pickNearest(b: Bot, not: readonly string[] = []): Promise<string> {
  const at = me(b)!;
  const items = b.state.view!.items.filter((i) => !not.includes(i.id));
  const item = items.sort(
    (p, q) => pathTo(b.state.site!, at, p).length - pathTo(b.state.site!, at, q).length,
  )[0]!;
  await walkTo(b, item);
  await step(b, { kind: 'pickup' });
  expect(carried(b)).toContain(item.id);
  return item.id;
}

/**
 * The world as stored in `dbFile` for `names`: each user's row, and where every item is. Fails
 * the test if an item is in two places (doubled).
 */
function storedWorld(dbFile: string, names: readonly string[]) {
  const st = new SqliteStorage(dbFile);
  try {
    const where = new Map<string, string[]>();
    const put = (id: string, place: string): void => void where.set(id, [...(where.get(id) ?? []), place]);
    const users = new Map(names.map((n) => [n, st.getUser(n)?.state ?? null]));
    const maps = new Map(listSites().map((s) => [s.id, st.getSite(s.id)?.items.map((i) => i.id) ?? null]));
    for (const [site, items] of maps) for (const id of items ?? []) put(id, `map of ${site}`);
    for (const [name, u] of users) for (const i of u?.inventory ?? []) put(i.id, `bag of ${name}`);
    const doubled = [...where].filter(([, places]) => places.length > 1);
    expect(doubled, 'items stored twice').toEqual([]);
    return { users, maps, where };
  } finally {
    st.close();
  }
}

describe('kill -9 of the admin process', () => {
  it('the next process on the same database: each user once with its state, every item once, the P2P site resumed, nobody stuck', async () => {
    const dbFile = join(tempDir(), 'mmo.db');
    const out: string[] = [];
    onTestFailed(() => void process.stderr.write(`--- admin output ---\n${out.join('')}\n`));
    const first = await startAdminProcess(dbFile, 0, out);
    const url = { url: first.url };
    // Three volunteers play on the town (client-server: nobody else can serve it) and serve the
    // meadow, which goes P2P as its second player comes.
    const servers = [await bot(url, 'town'), await bot(url, 'town'), await bot(url, 'town')];
    await until('keys registered', () => servers.every((s) => s.conn?.node?.serverId));
    const a = await bot(url, 'meadow', { serve: false });
    const b = await bot(url, 'meadow', { serve: false });
    const everyone = [...servers, a, b];
    const names = everyone.map((x) => x.name);
    await until(
      'meadow P2P',
      () => a.state.mode === 'p2p' && b.state.mode === 'p2p' && me(a) && me(b),
      30_000,
    );
    await until(
      'three servers',
      () => servers.every((x) => x.conn?.node?.server?.stats().status === 'running'),
      30_000,
    );
    const ids = servers.map((x) => x.conn!.node!.serverId!).sort();
    const t = servers[0]!;
    expect(t.state.mode).toBe('cs');

    // Client-server play, then P2P play, then a crossing: b takes what it picked to the forest.
    const townSaved = await pickNearest(t);
    const aPicked = await pickNearest(a);
    const bPicked = await pickNearest(b, [aPicked]);
    await walkTo(
      b,
      getSite('meadow').portals.find((p) => p.to === 'forest')!,
    );
    await step(b, { kind: 'portal' });
    await until('b on the forest', () => b.state.site === 'forest' && b.state.mode === 'cs' && me(b));
    // Client-server play after the last world save: a crash undoes it (t's client replays it).
    const townUndone = await pickNearest(t, [townSaved]);

    first.child.kill('SIGKILL');
    expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });
    await until('every bot lost the admin', () => everyone.every((x) => x.state.status !== 'online'));
    // Client-server views stand still until the next process's `enter`.
    const viewAtKill = new Map([...servers, b].map((x) => [x.name, x.state.view]));

    // What the dead process left: b stored where the crossing put it, with what it carries; the
    // town as of that save; nothing twice.
    const left = storedWorld(dbFile, names);
    expect(left.users.get(b.name)).toMatchObject({ site: 'forest' });
    expect(left.where.get(bPicked)).toEqual([`bag of ${b.name}`]);
    expect(left.where.get(townSaved)).toEqual([`bag of ${t.name}`]);
    expect(left.where.get(townUndone)).toEqual(['map of town']);

    // The meadow plays on over its data channels meanwhile.
    const aDown = await pickNearest(a);

    const second = await startAdminProcess(dbFile, first.port, out);
    await until('all back online', () => everyone.every((x) => x.state.status === 'online'), 30_000);
    await until('client-server players entered again', () =>
      [...servers, b].every((x) => x.state.view !== viewAtKill.get(x.name)),
    );
    // t's client resent what the dead process had applied above the stored action number.
    await until("t's resent actions applied", () => Object.keys(t.state.inflight).length === 0);
    const view = await until('meadow waits for nobody', async () => {
      const v = await operator(second);
      return v.sites.find((s) => s.id === 'meadow')?.waitingFor === null && v;
    });
    // The same servers serve on: resumed from its record, no new hand-over.
    const meadow = view.sites.find((s) => s.id === 'meadow')!;
    expect(meadow.mode).toBe('p2p');
    expect(meadow.state).not.toBe('transferring');
    expect(meadow.transitions.map((x) => x.event)).not.toContain('transfer');
    expect(
      meadow.servers
        .filter((s) => s.state === 'active')
        .map((s) => s.id)
        .sort(),
    ).toEqual(ids);
    // Each user on one site, once.
    expect(view.sites.flatMap((s) => s.users).sort()).toEqual([...names].sort());

    // Each with its state: a with what it picked before and during the crash (the servers held
    // it), b where it crossed to, t with the town's play up to the last save and its replay.
    expect([a.state.site, a.state.mode]).toEqual(['meadow', 'p2p']);
    expect(carried(a)).toEqual([aPicked, aDown].sort());
    expect([b.state.site, carried(b)]).toEqual(['forest', [bPicked]]);
    expect(t.state.site).toBe('town');
    expect(carried(t)).toEqual([townSaved, townUndone].sort());
    expect(t.state.view!.items.map((i) => i.id)).not.toContain(townUndone);

    // Nobody stuck: every one plays on.
    for (const x of everyone) await step(x, { kind: 'say', text: 'back' });
    // A crossing out of the resumed site: a is stored where it lands, with both items.
    await walkTo(
      a,
      getSite('meadow').portals.find((p) => p.to === 'forest')!,
    );
    await step(a, { kind: 'portal' });
    await until('a on the forest', () => a.state.site === 'forest' && a.state.mode === 'cs' && me(a));
    expect(carried(a)).toEqual([aPicked, aDown].sort());

    // A graceful stop stores the rest: every item once, each where its player has it.
    second.child.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
    const end = storedWorld(dbFile, names);
    expect(end.users.get(a.name)).toMatchObject({ site: 'forest' });
    for (const id of [aPicked, aDown]) expect(end.where.get(id)).toEqual([`bag of ${a.name}`]);
    expect(end.where.get(bPicked)).toEqual([`bag of ${b.name}`]);
    for (const id of [townSaved, townUndone]) expect(end.where.get(id)).toEqual([`bag of ${t.name}`]);
  }, 180_000);
});
