/**
 * `npm run sim -- [options]` (see sim/README.md, or `--help`); `--world` runs whole worlds
 * (sim/world/), over `--workers` threads.
 */
import { runCli } from './runCli.js';
import { runWorldSweepCli } from './world/sweepCli.js';

const argv = process.argv.slice(2);
process.exitCode = argv.includes('--world')
  ? await runWorldSweepCli(argv.filter((a) => a !== '--world'))
  : runCli(argv);
