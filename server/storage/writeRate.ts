/**
 * How often the admin writes to its database under bots (docs/hosting.md "After a crash": what
 * `synchronous = FULL` costs is its cost per write, syncCost.ts, times this): the real admin in
 * this process on a temporary file, its storage's writes counted by kind, and `src/bots/cli.ts`
 * as a child process. Counted over the bots' steady window (`--seconds`), less its first 5 s and
 * last 3 s.
 *
 *   npx tsx server/storage/writeRate.ts [BOTS] [SECONDS]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminServer } from '../app.js';
import { SqliteStorage } from './sqlite.js';
import type { Storage } from './types.js';

const count = Number(process.argv[2] ?? 60);
const seconds = Number(process.argv[3] ?? 40);
if (
  !Number.isInteger(count) ||
  count < 1 ||
  count > 1000 ||
  !Number.isInteger(seconds) ||
  seconds < 10 ||
  seconds > 3600
) {
  process.stderr.write('usage: npx tsx server/storage/writeRate.ts [BOTS 1-1000] [SECONDS 10-3600]\n');
  process.exit(2);
}
const WRITES = [
  'saveBatch',
  'putP2PSite',
  'deleteP2PSite',
  'putSession',
  'createAccount',
  'deleteUser',
  'deleteSession',
  'purgeExpired',
  'setMeta',
];

const dir = mkdtempSync(join(tmpdir(), 'mmo-write-rate-'));
const sqlite = new SqliteStorage(join(dir, 'mmo.db'));
const writes: Array<[string, number]> = [];
// Every method as the real storage's; the writes noted on the way.
const storage = new Proxy(sqlite, {
  get(target, prop, receiver) {
    const v: unknown = Reflect.get(target, prop, receiver);
    if (typeof v !== 'function') return v;
    return (...args: unknown[]): unknown => {
      if (WRITES.includes(String(prop))) writes.push([String(prop), Date.now()]);
      return (v as (...a: unknown[]) => unknown).apply(target, args);
    };
  },
}) as Storage;
const admin = await createAdminServer({
  port: 0,
  storage,
  quiet: true,
  staticDir: null,
  guestRate: { perSecond: 1000, burst: 1000 },
  maxConnectionsPerIp: 1000,
});
const bots = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    'src/bots/cli.ts',
    '--count',
    String(count),
    '--url',
    admin.url,
    '--seconds',
    String(seconds),
  ],
  {
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
await new Promise((resolve) => bots.once('exit', resolve));
const end = Date.now() - 3000;
const start = end - (seconds - 8) * 1000;
const byKind = new Map<string, number>();
for (const [kind, at] of writes) if (at >= start && at < end) byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
const span = (end - start) / 1000;
for (const [kind, n] of byKind)
  process.stdout.write(`${kind}: ${n} in ${span} s, ${(n / span).toFixed(2)}/s\n`);
await admin.close();
rmSync(dir, { recursive: true, force: true });
