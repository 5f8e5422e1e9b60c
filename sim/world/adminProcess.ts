/**
 * The admin process of the managed world (managed.ts): what server/app.ts builds around one
 * database, minus the sockets: the sites as stored, the real `Game` and `P2PManager` on the
 * simulator's clock, the periodic world save (app.ts's saver), and the P2P sites of a previous
 * process resumed from their records. An admin restart stops one, either gracefully
 * (`stopAdmin`: the final save and the sites suspended, as app.ts's close on SIGTERM) or by a
 * crash (`crashAdmin`: kill -9, no hook runs and nothing more is written; `crashBetween`: the
 * same inside a step, between two of its acts, writes or sends: stepActs.ts; `cutPower`: a power
 * cut, the disk keeping a prefix of the commits: powerCut.ts), and starts another on the same
 * storage; only what was written to it survives.
 */
import { insecureFastScheme } from '../../src/protocol/crypto.js';
import type { Wakeup } from '../../src/net/p2p/driver.js';
import { Game } from '../../server/game.js';
import type { Logger } from '../../server/log.js';
import { P2PManager, type GameHooks } from '../../server/p2p/manager.js';
import type { P2POptions } from '../../server/p2p/settings.js';
import type { VerifiedSite } from '../../server/p2p/types.js';
import { SiteHost } from '../../server/sites.js';
import type { Synchronous } from '../../server/storage/sqlite.js';
import type { Storage } from '../../server/storage/types.js';
import type { EventQueue } from '../eventQueue.js';
import type { DiskLog } from './powerCut.js';
import { StepActs, type Between, type CrashActs } from './stepActs.js';

export const ADMIN_SECRET = 'ad'.repeat(32);

export interface AdminDeps {
  queue: EventQueue;
  storage: Storage;
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
   * Its writes and sends step by step (a crash armed by `crashBetween` falls between two): a
   * message to a tab goes out only if `acts.act('send', …)` says so.
   */
  readonly acts: StepActs;
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
  const acts = new StepActs(queue, alive);
  const store = processStorage(storage, alive, acts);
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
    // Deferred calls belong to the step that deferred them (queueMicrotask on the admin).
    defer: (fn) => {
      const step = acts.current();
      void queue.schedule(queue.now, () => alive.up && acts.within(step, fn));
    },
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
  return { sites, game, hooks, manager, alive, acts };
}

/** The database as one admin process sees it: a dead process writes nothing, and an armed crash (`crashBetween`) may fall at a write. */
function processStorage(storage: Storage, alive: { up: boolean }, acts: StepActs): Storage {
  const write = <T>(what: string, fn: () => T, dead: T): T =>
    alive.up && acts.act('write', () => what) ? fn() : dead;
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
 * The process dies (kill -9): no shutdown hook, no final save, its timers and deferred sends
 * never run; what it had only in memory is gone. Everything it wrote before is in the storage
 * (the OS holds it, whatever `synchronous` says).
 */
export function crashAdmin(a: AdminProcess): void {
  a.alive.up = false;
}

/**
 * The power goes (the admin's machine, not the players'): the process dies as on a kill -9, and
 * the disk keeps a prefix of its commits, all of them with `synchronous = FULL`, those older than
 * `lostMs` with NORMAL (powerCut.ts). Returns how many commits were lost.
 */
export function cutPower(a: AdminProcess, disk: DiskLog, synchronous: Synchronous, lostMs: number): number {
  crashAdmin(a);
  return disk.powerCut(synchronous, lostMs);
}

/**
 * Arms a crash inside a step (kill -9 between two acts of one input's handling, stepActs.ts): with
 * `{ first: 'write', then: 'write' }` between two writes (the world saved and the P2P site's
 * record not yet), with `{ first: 'send', then: 'write' }` after a message went out and before a
 * write that follows it (peers saw what the database never stored), with `{ first: 'write',
 * then: 'send' }` after a write and before a message that follows it (stored, and nobody told).
 * `only`: at an act whose name has it ('deleted': a P2P site's record deleted). Nothing after the
 * crash is written or sent (the caller drops a dead process's sends); `died` runs at that moment
 * with the names of the two acts, to take the process down as `crashAdmin` would.
 */
export function crashBetween(a: AdminProcess, between: Between, died: (acts: CrashActs) => void): void {
  a.acts.arm(between, died);
}
