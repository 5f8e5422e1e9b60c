/**
 * What `npm run sim -- [options]` does: runs one or more seeded simulations and prints what
 * happened. Options: sim/README.md or `--help`. Returns the exit code: 1 when a property was
 * violated, 2 on bad arguments.
 */
import { ArgError, USAGE, parseArgs } from './args.js';
import { formatReport, type RunReport } from './report.js';
import { runScenario } from './scenario.js';
import { mean, round } from './stats.js';

export function runCli(
  argv: readonly string[],
  write: (text: string) => void = (t) => void process.stdout.write(t),
  writeErr: (text: string) => void = (t) => void process.stderr.write(t),
): number {
  let cli;
  try {
    cli = parseArgs(argv);
  } catch (e) {
    if (e instanceof ArgError) {
      writeErr(`sim: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (cli.help) {
    write(USAGE);
    return 0;
  }
  const reports: RunReport[] = [];
  const t0 = performance.now();
  for (let i = 0; i < cli.runs; i++) {
    const { report } = runScenario({ ...cli.scenario, seed: cli.scenario.seed + i });
    reports.push(report);
    if (cli.json) write(`${JSON.stringify(report)}\n`);
    else if (cli.runs === 1 || report.violations.length > 0) write(`${formatReport(report)}\n`);
  }
  const wall = performance.now() - t0;
  const failed = reports.filter((r) => r.violations.length > 0);
  if (!cli.json && cli.runs > 1) {
    const delays = reports.map((r) => r.delay.mean).filter(Number.isFinite);
    const sum = (f: (r: RunReport) => number) => reports.reduce((n, r) => n + f(r), 0);
    write(
      [
        `${cli.runs} runs (seeds ${cli.scenario.seed}..${cli.scenario.seed + cli.runs - 1}) in ${round(wall / 1000, 2)} s, ${round((cli.runs * 1000) / wall, 1)} runs/s`,
        `  actions sent ${sum((r) => r.actions.sent)}, applied ${sum((r) => r.actions.applied)}, lost ${sum((r) => r.actions.lost)} (${sum((r) => r.actions.lostMustApply)} that had to be applied), doubled ${sum((r) => r.actions.doubled)}`,
        `  mean of run mean delays ${round(mean(delays))} ms; worst p99 ${round(Math.max(...reports.map((r) => r.delay.p99).filter(Number.isFinite)))} ms`,
        `  servers ignored ${sum((r) => r.ignored.length)}, replaced ${sum((r) => r.replaced.length)}, evicted ${sum((r) => r.evicted.length)}; divergences ${sum((r) => r.divergences)}`,
        `  runs with property violations: ${failed.length}${failed.length ? ` (seeds ${failed.map((r) => r.seed).join(', ')})` : ''}`,
      ].join('\n') + '\n',
    );
  }
  return failed.length > 0 ? 1 : 0;
}
