/**
 * `npm run bench:live [-- --quick] [--only offload,delay,bytes,robust,scale,browser] [--sizes 60,100] [--out DIR] [--svg DIR]`:
 * the real admin, real bots over WebRTC (node-datachannel) and the real codecs, each figure printed
 * beside the paper's formula with the parameters in force (bench/README.md). Each section prints a
 * table and writes `<out>/<section>.json` (machine, commit, command, figures, sanity checks); the
 * full run writes its plots to docs/. `--quick`: a small version of each, results in a temp dir
 * unless --out, exit 1 when a sanity check fails (a smoke test in `npm test`, not a speed test).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { browser } from './browser.js';
import { bytes } from './bytes.js';
import { delay } from './delay.js';
import { offload, type OffloadRow } from './offload.js';
import { robust } from './robust.js';
import { scale, scaleSection } from './scale.js';
import { runScenario, type Scenario, type ScenarioResult } from './scenario.js';
import type { SectionContext, SectionOutput } from './section.js';

export const SECTIONS = ['offload', 'delay', 'bytes', 'robust', 'scale', 'browser'] as const;
export type SectionName = (typeof SECTIONS)[number];

export interface Options {
  quick: boolean;
  only: SectionName[];
  out: string | null;
  svg: string | null;
  /** The offload section's bot counts instead of its own (to rerun one size). */
  sizes: number[] | null;
}

/** Bot counts --sizes accepts: what one machine can start. */
const MAX_SIZE = 400;

const USAGE = `usage: npm run bench:live -- [--quick] [--only ${SECTIONS.join(',')}] [--sizes N,N (offload, 1-${MAX_SIZE})] [--out DIR] [--svg DIR]`;

export function parseOptions(argv: readonly string[]): Options {
  const o: Options = { quick: false, only: [...SECTIONS], out: null, svg: null, sizes: null };
  const path = (k: string, v: string | undefined): string => {
    if (v === undefined || v.startsWith('--') || v.trim() === '' || v.length > 500) throw new Error(`${k} needs a directory`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--quick') o.quick = true;
    else if (k === '--only') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error('--only needs a section name');
      const names = v.split(',');
      const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (bad.length > 0 || names.length === 0) throw new Error(`--only: unknown section ${bad.join(', ')} (one of ${SECTIONS.join(', ')})`);
      o.only = names as SectionName[];
    } else if (k === '--sizes') {
      const v = argv[++i] ?? '';
      const sizes = v.split(',').map(Number);
      if (v === '' || sizes.length > 10 || !sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= MAX_SIZE))
        throw new Error(`--sizes needs up to 10 bot counts in 1..${MAX_SIZE}, comma-separated`);
      o.sizes = sizes;
    } else if (k === '--out') o.out = path(k, argv[++i]);
    else if (k === '--svg') o.svg = path(k, argv[++i]);
    else throw new Error(`unknown option ${k}`);
  }
  return o;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return 'unknown';
  }
}

export function machine(): Record<string, unknown> {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    chromium: sh(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version']),
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    note: 'shared with other work; timings are noisy',
  };
}

/** A scenario's result without the sample arrays (the JSON stays small). */
function trimmed(r: ScenarioResult): unknown {
  return {
    ...r,
    groups: r.groups.map((g) => ({
      label: g.label,
      args: g.args.filter((a) => !a.startsWith('http')),
      figures: {
        ...g.figures,
        delay: {
          all: { ...g.figures.delay.all, samples: g.figures.delay.all.samples.length },
          cs: { ...g.figures.delay.cs, samples: g.figures.delay.cs.samples.length },
          p2p: { ...g.figures.delay.p2p, samples: g.figures.delay.p2p.samples.length },
        },
      },
    })),
  };
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const commit = sh('git', ['rev-parse', '--short', 'HEAD']) + (sh('git', ['status', '--porcelain']) === '' ? '' : ' (with uncommitted changes)');
  const command = `npm run bench:live --${process.argv.slice(2).map((a) => ` ${a}`).join('')}`.replace(/ --$/, '');
  const host = machine();
  const out = o.out ?? (o.quick ? mkdtempSync(join(tmpdir(), 'mmo-bench-live-')) : 'bench/results');
  const svgDir = o.svg ?? (o.quick ? out : 'docs');
  mkdirSync(out, { recursive: true });
  mkdirSync(svgDir, { recursive: true });
  const stamp = `${command} @ ${commit}, ${host.cpus} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const scenarios: ScenarioResult[] = [];
  const ctx: SectionContext = {
    quick: o.quick,
    log,
    stamp,
    ...(o.sizes ? { sizes: o.sizes } : {}),
    run: async (s: Scenario) => {
      log(`  running ${s.name} ...`);
      const r = await runScenario(s, log);
      scenarios.push(r);
      return r;
    },
  };
  log(`bench:live ${o.quick ? '(quick) ' : ''}at ${commit}; results to ${out}`);
  const t0 = Date.now();
  const outputs: SectionOutput[] = [];
  let offloadRows: OffloadRow[] = [];
  let delayResults: ScenarioResult[] = [];
  const want = (n: SectionName): boolean => o.only.includes(n);
  const emit = (s: SectionOutput, own: ScenarioResult[]): void => {
    outputs.push(s);
    log(`\n## ${s.title}\n${s.text}`);
    for (const c of s.checks) if (!c.ok) log(`CHECK FAILED: ${c.what}: ${c.detail}`);
    for (const [file, svg] of Object.entries(s.svgs)) writeFileSync(join(svgDir, file), svg);
    const json = { name: s.name, title: s.title, command, commit, date: new Date().toISOString(), machine: host, quick: o.quick, figures: s.figures, checks: s.checks, scenarios: own.map(trimmed) };
    writeFileSync(join(out, `${s.name}.json`), JSON.stringify(json, null, 1) + '\n');
  };
  const since = (): ScenarioResult[] => scenarios.splice(0);
  // A quick scale reads the offload rows (as a full one does when offload runs too); a full one
  // also runs its own layouts at 200 bots.
  if (want('offload') || (want('scale') && o.quick)) {
    const r = await offload(ctx);
    offloadRows = r.rows;
    const own = since();
    if (want('offload')) emit(r.out, own);
    if (want('scale') && o.quick) emit(scale(offloadRows), want('offload') ? [] : own);
  }
  if (want('scale') && !o.quick) emit(await scaleSection(ctx, offloadRows), since());
  if (want('delay')) {
    const r = await delay(ctx);
    delayResults = r.results;
    emit(r.out, since());
  }
  if (want('bytes')) emit(await bytes(ctx, delayResults), since());
  if (want('robust')) emit(await robust(ctx), since());
  if (want('browser')) emit(await browser(ctx), since());
  const failed = outputs.flatMap((s) => s.checks.filter((c) => !c.ok));
  log(`\nbench:live done in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${failed.length} sanity check(s) failed; JSON in ${out}, plots in ${svgDir}`);
  process.exit(failed.length > 0 ? 1 : 0);
}

if (process.argv[1] && /main\.ts$/.test(process.argv[1])) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench:live failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
