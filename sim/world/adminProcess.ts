/**
 * The admin process of the managed world (managed.ts): what server/app.ts builds around one
 * database, minus the sockets: the sites as stored, the real `Game` and `P2PManager` on the
 * simulator's clock, and the P2P sites of a previous process resumed from their records. An admin
 * restart stops one (`stopAdmin`: the final save and the sites suspended, as app.ts's close) and
 * starts another on the same storage; nothing else survives it.
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
}

/** The simulator's clock as a Driver's wake-up (one pending call, as a Node timer). */
export function queueWakeup(queue: EventQueue): Wakeup {
  let ev: ReturnType<EventQueue['after']> | undefined;
  return {
    set(delayMs, cb) {
      queue.cancel(ev);
      ev = queue.after(delayMs, () => {
        ev = undefined;
        cb();
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
  const sites = new SiteHost((id) => storage.getSite(id));
  const game = new Game(sites, storage, log, now, queueWakeup(queue));
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
    wakeup: queueWakeup(queue),
    defer: (fn) => void queue.schedule(queue.now, fn),
  });
  game.attachP2P(manager);
  manager.resume(storage.p2pSites());
  return { sites, game, hooks, manager };
}

/** The process stops (SIGTERM): everything saved, P2P sites suspended with their records; storage stays open. */
export function stopAdmin(a: AdminProcess): void {
  a.game.shutdown();
  a.manager.close();
}
