/** `npm run sim -- [options]` (see sim/README.md, or `--help`); `--world` runs whole worlds (sim/world/). */
import { runCli } from './runCli.js';
import { runWorldCli } from './world/cli.js';

const argv = process.argv.slice(2);
process.exitCode = argv.includes('--world') ? runWorldCli(argv.filter((a) => a !== '--world')) : runCli(argv);
