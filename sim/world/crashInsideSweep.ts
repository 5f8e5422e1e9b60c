/**
 * The managed world with its admin crashing inside a step, between two of its acts
 * (adminProcess.ts `crashBetween`, stepActs.ts; docs/hosting.md "After a crash"), or losing its
 * power (powerCut.ts), over a range of seeds: one line per seed with the two acts (and the
 * commits lost) and the violations, then the count by pair.
 *
 *   npx tsx sim/world/crashInsideSweep.ts FROM COUNT [ONLY] [--between FIRST>THEN|none] [--power FULL|NORMAL]
 *
 * ONLY: crash only at an act whose name has it (e.g. deleted: a P2P site's record deleted).
 * --between: the kinds of the two acts, write or send (default write>write); none: the crash at
 * the drawn time, between steps. --power: the crash is a power cut with SQLite's synchronous as
 * given (FULL, the admin's: as a kill -9; NORMAL: the last commits lost).
 */
import { listSites } from '../../src/game/world.js';
import { runManagedWorld, type ManagedOptions } from './managed.js';
import { checkWorld } from './properties.js';
import type { Act } from './stepActs.js';

const USAGE =
  'usage: npx tsx sim/world/crashInsideSweep.ts FROM COUNT [ONLY] [--between FIRST>THEN|none] [--power FULL|NORMAL]\n';
function fail(why: string): never {
  process.stderr.write(`${why}\n${USAGE}`);
  process.exit(2);
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) fail(`${name} needs a value`);
  args.splice(i, 2);
  return v;
};
const betweenArg = flag('--between') ?? 'write>write';
const power = flag('--power');
const [fromArg, countArg, only, extra] = args;
const from = Number(fromArg ?? 1);
const count = Number(countArg ?? 20);
if (!Number.isInteger(from) || from < 0 || from > 1e9)
  fail(`FROM must be an integer in 0..1e9, got ${fromArg}`);
if (!Number.isInteger(count) || count < 1 || count > 100_000)
  fail(`COUNT must be an integer in 1..100000, got ${countArg}`);
if (extra !== undefined) fail(`unexpected argument ${extra}`);
if (only !== undefined && !/^[\w -]{1,40}$/.test(only))
  fail(`ONLY must be a few word characters, got ${only}`);
if (power !== undefined && power !== 'FULL' && power !== 'NORMAL')
  fail(`--power needs FULL or NORMAL, got ${power}`);
const kinds = betweenArg.split('>');
const isAct = (k: string | undefined): k is Act => k === 'write' || k === 'send';
let crashInside: ManagedOptions['crashInside'] = false;
if (betweenArg !== 'none') {
  const [first, then] = kinds;
  if (kinds.length !== 2 || !isAct(first) || !isAct(then))
    fail(`--between needs FIRST>THEN of write or send, or none, got ${betweenArg}`);
  crashInside = { first, then, ...(only !== undefined ? { only } : {}) };
} else if (only !== undefined) fail('ONLY needs --between');

/** An act named without its site or player, to count the pairs by kind. */
const siteIds = new Set(listSites().map((s) => s.id));
const kind = (name: string): string =>
  name
    .replace(/ to \S+$/, '')
    .split(' ')
    .map((w) => (siteIds.has(w) ? 'a site' : w))
    .join(' ');
const pairs = new Map<string, number>();
let failed = 0;
for (let seed = from; seed < from + count; seed++) {
  const t = runManagedWorld({
    seed,
    crashes: 'always',
    ...(crashInside ? { crashInside } : {}),
    ...(power !== undefined ? { powerCut: power } : {}),
  });
  const acts = t.crashWrites ?? t.crashActs?.acts ?? null;
  const pair = crashInside ? (acts ? acts.map(kind).join(' | ') : 'no crash inside') : 'between steps';
  pairs.set(pair, (pairs.get(pair) ?? 0) + 1);
  const bad = checkWorld(t);
  if (bad.length > 0) failed++;
  const lost = t.lostCommits !== undefined ? ` lost ${t.lostCommits}` : '';
  process.stdout.write(
    `${seed} ${JSON.stringify(acts)}${lost} ${bad.length > 0 ? `FAIL ${bad.join('; ')}` : 'ok'}\n`,
  );
}
for (const [pair, n] of pairs) process.stdout.write(`${n} ${pair}\n`);
process.stdout.write(`${failed} of ${count} failed\n`);
