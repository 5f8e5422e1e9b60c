/**
 * The admin process of the managed world (managed.ts): what server/app.ts builds around one
 * database, minus the sockets: the sites as stored, the real `Game` and `P2PManager` on the
 * simulator's clock, the periodic world save (app.ts's saver), and the P2P sites of a previous
 * process resumed from their records. An admin restart stops one, either gracefully
 * (`stopAdmin`: the final save and the sites suspended, as app.ts's close on SIGTERM) or by a
 * crash (`crashAdmin`: kill -9 or a power cut, no hook runs and nothing more is written), and
 * starts another on the same storage; only what was written to it survives.
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
  const sites = new SiteHost((id) => storage.getSite(id));
  const game = new Game(sites, storage, log, now, queueWakeup(queue, alive));
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
    records: { put: (r) => storage.putP2PSite(r, now()), delete: (s) => storage.deleteP2PSite(s) },
    resumeGraceMs: d.resumeGraceMs,
    wakeup: queueWakeup(queue, alive),
    defer: (fn) => void queue.schedule(queue.now, () => alive.up && fn()),
  });
  game.attachP2P(manager);
  manager.resume(storage.p2pSites());
  // app.ts's saver: the whole world in one transaction, every SAVE_EVERY_MS.
  const save = (): void => {
    if (!alive.up) return;
    game.saveAll();
    queue.after(SAVE_EVERY_MS, save);
  };
  queue.after(SAVE_EVERY_MS, save);
  return { sites, game, hooks, manager, alive };
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
