/**
 * The managed world's database as the admin's disk holds it, for a power cut (sim/FINDINGS.md 42,
 * 55; docs/hosting.md "After a crash"). Every write of the `Storage` interface is one SQLite
 * transaction, one commit; they are kept in order with their time. A power cut keeps a prefix of
 * them (WAL recovery replays the frames that reached the disk, in order, up to the first missing
 * one): with `synchronous = FULL` a commit is synced before its call returns, so the prefix is
 * every commit, and a power cut is a kill -9; with NORMAL the commits the OS had not written back
 * yet are lost, those of the last `lostMs`.
 */
import type { Synchronous } from '../../server/storage/sqlite.js';
import type { Storage } from '../../server/storage/types.js';

/**
 * NORMAL's window: the commits of up to this long before the cut may be lost (Linux writes dirty
 * pages back after 5 s by default, `dirty_writeback_centisecs`, and may wait up to 30 s; the
 * managed world's runs last about ten seconds).
 */
export const NORMAL_LOSS_MAX_MS = 5000;

interface Commit {
  at: number;
  redo(s: Storage): void;
}

export class DiskLog implements Storage {
  private db: Storage;
  private readonly commits: Commit[] = [];

  /** `open`: a fresh, empty database (each power cut that loses commits replays the rest into one). */
  constructor(
    private readonly open: () => Storage,
    private readonly now: () => number,
  ) {
    this.db = open();
  }

  /** Commits so far. */
  get length(): number {
    return this.commits.length;
  }

  /**
   * The power goes: with `synchronous`, the commits of the last `lostMs` are lost (NORMAL), or
   * none (FULL). Returns how many were lost.
   */
  powerCut(synchronous: Synchronous, lostMs: number): number {
    if (synchronous === 'FULL') return 0;
    const cutAt = this.now() - lostMs;
    let keep = this.commits.length;
    while (keep > 0 && this.commits[keep - 1]!.at > cutAt) keep--;
    const lost = this.commits.length - keep;
    if (lost === 0) return 0;
    this.commits.length = keep;
    this.db.close();
    this.db = this.open();
    for (const c of this.commits) c.redo(this.db);
    return lost;
  }

  private commit<T>(redo: (s: Storage) => T): T {
    this.commits.push({ at: this.now(), redo: (s) => void redo(s) });
    return redo(this.db);
  }

  getAccount: Storage['getAccount'] = (n) => this.db.getAccount(n);
  createAccount: Storage['createAccount'] = (a) => this.commit((s) => s.createAccount(a));
  isNameUsed: Storage['isNameUsed'] = (n) => this.db.isNameUsed(n);
  hasLiveSession: Storage['hasLiveSession'] = (n, at) => this.db.hasLiveSession(n, at);
  putSession: Storage['putSession'] = (x) => this.commit((s) => s.putSession(x));
  getSession: Storage['getSession'] = (h) => this.db.getSession(h);
  deleteSession: Storage['deleteSession'] = (h) => this.commit((s) => s.deleteSession(h));
  purgeExpired: Storage['purgeExpired'] = (at) => this.commit((s) => s.purgeExpired(at));
  getUser: Storage['getUser'] = (n) => this.db.getUser(n);
  deleteUser: Storage['deleteUser'] = (n) => this.commit((s) => s.deleteUser(n));
  getSite: Storage['getSite'] = (id) => this.db.getSite(id);
  // Copied as committed: the game may hand the live objects it goes on changing.
  saveBatch: Storage['saveBatch'] = (b, at) => {
    const copy = structuredClone(b);
    return this.commit((s) => s.saveBatch(copy, at));
  };
  putP2PSite: Storage['putP2PSite'] = (r, at) => {
    const copy = structuredClone(r);
    return this.commit((s) => s.putP2PSite(copy, at));
  };
  deleteP2PSite: Storage['deleteP2PSite'] = (site) => this.commit((s) => s.deleteP2PSite(site));
  p2pSites: Storage['p2pSites'] = () => this.db.p2pSites();
  getMeta: Storage['getMeta'] = (k) => this.db.getMeta(k);
  setMeta: Storage['setMeta'] = (k, v) => this.commit((s) => s.setMeta(k, v));
  close: Storage['close'] = () => this.db.close();
}
