/**
 * The admin process of the managed world (managed.ts): what server/app.ts builds around one
 * database, minus the sockets: the sites as stored, the real `Game` and `P2PManager` on the
 * simulator's clock, the periodic world save (app.ts's saver), and the P2P sites of a previous
 * process resumed from their records. An admin restart stops one, either gracefully
 * (`stopAdmin`: the final save and the sites suspended, as app.ts's close on SIGTERM) or by a
 * crash (`crashAdmin`: kill -9, no hook runs and nothing more is written; `crashBetweenWrites`:
 * the same inside a step, between two of its writes), and starts another on the same storage;
 * only what was written to it survives.
 */
import { insecureFastScheme } from '../../src/protocol/crypto.js';
import type { Wakeup } from '../../src/net/p2p/driver.js';
import { Game } from '../../server/game.js';
import type { Logger } from '../../server/log.js';
import { P2PManager, type GameHooks } from '../../server/p2p/manager.js';
import type { P2POptions } from '../../server/p2p/settings.js';
import type { VerifiedSite } from '../../server/p2p/types.js';
import { SiteHost } from '../../server/sites.js';
import type { SqliteStorage } from '../../server/storage/sqlite.js';
import type { Storage } from '../../server/storage/types.js';
import type { EventQueue } from '../eventQueue.js';

export const ADMIN_SECRET = 'ad'.repeat(32);

export interface AdminDeps {
  queue: EventQueue;
  storage: SqliteStorage;
  log: Logger;
  /** Read by the manager at every check (the run's end raises the threshold). */
  options: P2POptions;
  random: () => number;
  /** How long a resumed site waits for its servers and users. */
  resumeGraceMs: number;
  /** A transfer takes the site's snapshot: a new period at Site Servers begins. */
  onTransfer(site: string): void;
  /** What the admin takes back at a hand-back, before the game installs it; `lost`: from its fallback. */
  onClosed(site: string, v: VerifiedSite, lost: boolean): void;
}

export interface AdminProcess {
  sites: SiteHost;
  game: Game;
  hooks: GameHooks;
  manager: P2PManager;
  /** False once the process stopped or died: none of its timers or deferred calls runs any more. */
  readonly alive: { up: boolean };
  /**
   * Armed by `crashBetweenWrites`: called as the process dies, with the two writes it died
   * between; `before`: only before a write whose name has it.
   */
  readonly crashInside: { died: ((writes: [string, string]) => void) | null; before?: string };
}

/**
 * The world's save interval (app.ts's `saveIntervalMs`, MMO_SAVE_INTERVAL_MS, is 5 s by default;
 * the world's runs last about ten seconds, so a crash finds a save from a second or two before).
 */
export const SAVE_EVERY_MS = 1500;

/** The simulator's clock as a Driver's wake-up (one pending call, as a Node timer); a dead process's never fires. */
export function queueWakeup(queue: EventQueue, alive: { up: boolean } = { up: true }): Wakeup {
  let ev: ReturnType<EventQueue['after']> | undefined;
  return {
    set(delayMs, cb) {
      queue.cancel(ev);
      ev = queue.after(delayMs, () => {
        ev = undefined;
        if (alive.up) cb();
      });
    },
    clear() {
      queue.cancel(ev);
      ev = undefined;
    },
  };
}

/** Starts an admin on `storage`: P2P sites it finds records of go on (P2PManager.resume). */
export function startAdmin(d: AdminDeps): AdminProcess {
  const { queue, storage, log } = d;
  const now = (): number => queue.now;
  const alive = { up: true };
  const crashInside: AdminProcess['crashInside'] = { died: null };
  const store = processStorage(storage, queue, alive, crashInside);
  const sites = new SiteHost((id) => store.getSite(id));
  const game = new Game(sites, store, log, now, queueWakeup(queue, alive));
  const hooks = game.hooks();
  const manager: P2PManager = new P2PManager({
    options: d.options,
    adminSecret: ADMIN_SECRET,
    crypto: insecureFastScheme,
    now,
    random: d.random,
    log,
    game: {
      ...hooks,
      snapshotFor: (site) => {
        d.onTransfer(site);
        return hooks.snapshotFor(site);
      },
      closed: (site, v) => {
        // A site that lost its majority comes back from its fallback, by design not the majority's state.
        d.onClosed(site, v, manager.lifecycle(site).history.at(-1)?.event === 'fellBack');
        hooks.closed(site, v);
      },
    },
    checkEveryMs: 500,
    records: { put: (r) => store.putP2PSite(r, now()), delete: (s) => store.deleteP2PSite(s) },
    resumeGraceMs: d.resumeGraceMs,
    wakeup: queueWakeup(queue, alive),
    defer: (fn) => void queue.schedule(queue.now, () => alive.up && fn()),
  });
  game.attachP2P(manager);
  manager.resume(store.p2pSites());
  // app.ts's saver: the whole world in one transaction, every SAVE_EVERY_MS.
  const save = (): void => {
    if (!alive.up) return;
    game.saveAll();
    queue.after(SAVE_EVERY_MS, save);
  };
  queue.after(SAVE_EVERY_MS, save);
  return { sites, game, hooks, manager, alive, crashInside };
}

/**
 * The database as one admin process sees it: a dead process writes nothing, and an armed crash
 * (`crashBetweenWrites`) kills it at a write that follows another of the same step (one event of
 * the simulator: the admin's synchronous handling of one input), before that write.
 */
function processStorage(
  storage: Storage,
  queue: EventQueue,
  alive: { up: boolean },
  crashInside: AdminProcess['crashInside'],
): Storage {
  let step = -1;
  let before: string | null = null;
  const write = <T>(what: string, fn: () => T, dead: T): T => {
    if (!alive.up) return dead;
    if (queue.count !== step) [step, before] = [queue.count, null];
    const died = crashInside.died;
    if (died && before !== null && what.includes(crashInside.before ?? '')) {
      crashInside.died = null;
      alive.up = false;
      died([before, what]);
      return dead;
    }
    before = what;
    return fn();
  };
  return {
    getAccount: (n) => storage.getAccount(n),
    createAccount: (a) => write('account', () => storage.createAccount(a), false),
    isNameUsed: (n) => storage.isNameUsed(n),
    hasLiveSession: (n, at) => storage.hasLiveSession(n, at),
    putSession: (x) => write('session', () => storage.putSession(x), undefined),
    getSession: (h) => storage.getSession(h),
    deleteSession: (h) => write('session', () => storage.deleteSession(h), undefined),
    purgeExpired: (at) => write('purge', () => storage.purgeExpired(at), 0),
    getUser: (n) => storage.getUser(n),
    deleteUser: (n) => write(`user ${n} deleted`, () => storage.deleteUser(n), undefined),
    getSite: (id) => storage.getSite(id),
    saveBatch: (b, at) => write('world', () => storage.saveBatch(b, at), undefined),
    putP2PSite: (r, at) => write(`record of ${r.site}`, () => storage.putP2PSite(r, at), undefined),
    deleteP2PSite: (site) => write(`record of ${site} deleted`, () => storage.deleteP2PSite(site), undefined),
    p2pSites: () => storage.p2pSites(),
    getMeta: (k) => storage.getMeta(k),
    setMeta: (k, v) => write('meta', () => storage.setMeta(k, v), undefined),
    // The database outlives the process.
    close: () => undefined,
  };
}

/** The process stops (SIGTERM): everything saved, P2P sites suspended with their records; storage stays open. */
export function stopAdmin(a: AdminProcess): void {
  a.game.shutdown();
  a.manager.close();
  a.alive.up = false;
}

/**
 * The process dies (kill -9, a power cut): no shutdown hook, no final save, its timers and
 * deferred sends never run; what it had only in memory is gone. SQLite's writes are synchronous,
 * so everything it wrote before is in the storage.
 */
export function crashAdmin(a: AdminProcess): void {
  a.alive.up = false;
}

/**
 * Arms a crash inside a step (kill -9 between two writes of one input's handling, e.g. the world
 * saved and the P2P site's record not yet): the process dies at the next write that follows
 * another write of the same step. The first is stored, the second and every later one never is,
 * and nothing sent after it goes out (the caller drops a dead process's sends); with `before`,
 * only a write whose name has it ('deleted': a P2P site's record deleted). `died` runs at
 * that moment with the two writes, to take the process down as `crashAdmin` would.
 */
export function crashBetweenWrites(
  a: AdminProcess,
  died: (writes: [string, string]) => void,
  before?: string,
): void {
  a.crashInside.died = died;
  if (before !== undefined) a.crashInside.before = before;
}
