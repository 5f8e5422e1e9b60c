/**
 * `npm run analysis [-- options]`: the paper's section 5 computed (docs/analysis.md, `--help`).
 * The only file of src/analysis that does I/O. Exit codes: 0 done, 1 an SVG could not be
 * written, 2 bad options.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OptionError, USAGE, parseOptions, type AnalysisOptions } from './options.js';
import { COLLUSION_SVG, FAILURE_SVG, collusionSvg, failureSvg } from './plots.js';
import { computeReport, formatReport } from './report.js';

function main(argv: readonly string[]): number {
  let o: AnalysisOptions;
  try {
    o = parseOptions(argv);
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    process.stderr.write(`analysis: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const report = computeReport(o);
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (o.svgDir !== null) {
    const files: Array<[string, string]> = [
      [COLLUSION_SVG, collusionSvg(report)],
      [FAILURE_SVG, failureSvg(report)],
    ];
    try {
      mkdirSync(o.svgDir, { recursive: true });
      for (const [name, svg] of files) writeFileSync(join(o.svgDir, name), svg);
    } catch (e) {
      process.stderr.write(`analysis: cannot write SVGs to ${o.svgDir}: ${(e as Error).message}\n`);
      return 1;
    }
    // Keep stdout clean for --json; say where the plots went on stderr.
    process.stderr.write(`analysis: wrote ${files.map(([n]) => join(o.svgDir ?? '', n)).join(', ')}\n`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
