/** `npm run sim -- [options]` (see sim/README.md, or `--help`). */
import { runCli } from './runCli.js';

process.exitCode = runCli(process.argv.slice(2));
