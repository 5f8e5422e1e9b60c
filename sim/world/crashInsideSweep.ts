/**
 * The managed world with its admin crashing inside a step, between two writes
 * (adminProcess.ts `crashBetweenWrites`; docs/hosting.md "After a crash"), over a range of
 * seeds: one line per seed with the two writes and the violations, then the count by pair.
 *
 *   npx tsx sim/world/crashInsideSweep.ts FROM COUNT [BEFORE]
 *
 * BEFORE: crash only before a write whose name has it (e.g. deleted: a P2P site's record deleted).
 */
import { runManagedWorld } from './managed.js';
import { checkWorld } from './properties.js';

const [fromArg, countArg, before] = process.argv.slice(2);
const from = Number(fromArg ?? 1);
const count = Number(countArg ?? 20);
if (!Number.isInteger(from) || from < 0 || !Number.isInteger(count) || count < 1 || count > 100_000) {
  process.stderr.write('usage: npx tsx sim/world/crashInsideSweep.ts FROM COUNT [BEFORE]\n');
  process.exit(2);
}
const pairs = new Map<string, number>();
let failed = 0;
for (let seed = from; seed < from + count; seed++) {
  const t = runManagedWorld({ seed, crashes: 'always', crashInside: before ?? true });
  // Sites by name off: the pairs are counted by kind.
  const pair = t.crashWrites
    ? t.crashWrites.map((w) => w.replace(/ of \S+/, ' of a site')).join(' | ')
    : 'no crash';
  pairs.set(pair, (pairs.get(pair) ?? 0) + 1);
  const bad = checkWorld(t);
  if (bad.length > 0) failed++;
  process.stdout.write(
    `${seed} ${JSON.stringify(t.crashWrites ?? null)} ${bad.length > 0 ? `FAIL ${bad.join('; ')}` : 'ok'}\n`,
  );
}
for (const [pair, n] of pairs) process.stdout.write(`${n} ${pair}\n`);
process.stdout.write(`${failed} of ${count} failed\n`);
