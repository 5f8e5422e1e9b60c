/**
 * What `synchronous = FULL` costs the admin against NORMAL (docs/hosting.md "After a crash"), for
 * its own writes: a world save (every site and the online users in one transaction) and a P2P
 * site's record. A write blocks the admin's event loop for its whole duration (better-sqlite3 is
 * synchronous), so the figure is the wall time per transaction, beside its CPU time; NORMAL and
 * FULL alternate run by run on a fresh file each, in the directory given (default ./data, where
 * the admin keeps its database).
 *
 *   npx tsx server/storage/syncCost.ts [--dir D] [--users N] [--writes K] [--runs R]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createSite, listSites, newUser } from '../../src/game/index.js';
import { SqliteStorage, type Synchronous } from './sqlite.js';
import type { SaveBatch, StoredP2PSite } from './types.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1 || v > 100_000)
    throw new Error(`${name} must be an integer in 1..100000`);
  return v;
}
const dirArg = process.argv.indexOf('--dir');
const dir = dirArg >= 0 ? (process.argv[dirArg + 1] ?? './data') : './data';
const users = arg('--users', 60);
const writes = arg('--writes', 200);
const runs = arg('--runs', 3);

/** The world as the admin saves it: every site, `users` users carrying a few items each. */
function world(n: number): SaveBatch {
  return {
    sites: listSites().map((s) => createSite(s.id).site),
    users: Array.from({ length: n }, (_, i) => ({
      name: `player-${i}`,
      guest: true,
      state: {
        ...newUser(`player-${i}`, 'meadow'),
        inventory: Array.from({ length: 3 }, (_, k) => ({ id: `meadow-${i * 3 + k}`, kind: 'gem' })),
      },
      lastActionNo: i,
    })),
  };
}

/** A P2P site's record of the size the admin writes (three servers, a signed membership, departures passed on). */
function record(seq: number): StoredP2PSite {
  const hex = (n: number): string => 'ab'.repeat(n);
  const member = (k: number) => ({ id: `s${k}~1`, key: hex(32), slot: k, stints: [{ from: 0, cut: null }] });
  return {
    site: 'meadow',
    coordinator: {
      membership: { site: 'meadow', epoch: 3, members: [0, 1, 2].map(member), sig: hex(64) },
      sysNo: seq,
      banned: [],
      ignores: [],
      evicted: [],
      done: Array.from({ length: 20 }, (_, i): [number, string] => [seq - i, `player-${i}`]),
    },
    users: Array.from({ length: 10 }, (_, i) => `player-${i}`),
    holders: ['s0~1', 's1~1', 's2~1'],
    baseSeq: seq,
  };
}

interface Cost {
  /** Wall ms per transaction: median, 99th percentile. */
  p50: number;
  p99: number;
  /** CPU ms per transaction (user + system), mean. */
  cpu: number;
}

function measure(sync: Synchronous, write: (s: SqliteStorage, i: number) => void): Cost {
  mkdirSync(dir, { recursive: true });
  const d = mkdtempSync(join(dir, 'sync-cost-'));
  const store = new SqliteStorage(join(d, 'mmo.db'), { synchronous: sync });
  try {
    const ms: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < writes; i++) {
      const t0 = process.hrtime.bigint();
      write(store, i);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const cpu = process.cpuUsage(cpu0);
    ms.sort((a, b) => a - b);
    const at = (q: number): number => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
    return { p50: at(0.5), p99: at(0.99), cpu: (cpu.user + cpu.system) / 1000 / writes };
  } finally {
    store.close();
    rmSync(d, { recursive: true, force: true });
  }
}

const batch = world(users);
const patterns: Record<string, (s: SqliteStorage, i: number) => void> = {
  [`world save (${listSites().length} sites, ${users} users, ${JSON.stringify(batch).length} B)`]: (s, i) =>
    s.saveBatch(batch, i),
  [`P2P record (${JSON.stringify(record(100)).length} B)`]: (s, i) => s.putP2PSite(record(100 + i), i),
};
const fmt = (c: Cost): string =>
  `p50 ${c.p50.toFixed(3)} ms, p99 ${c.p99.toFixed(3)} ms, CPU ${c.cpu.toFixed(3)} ms`;
for (const [name, write] of Object.entries(patterns)) {
  for (let r = 1; r <= runs; r++) {
    for (const sync of ['NORMAL', 'FULL'] as const) {
      process.stdout.write(
        `${name}, run ${r}, ${sync}: ${fmt(measure(sync, write))} per transaction (${writes} transactions)\n`,
      );
    }
  }
}
