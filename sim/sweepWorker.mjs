// Worker thread of the property sweep (sweep.test.ts): loads sweep.ts through tsx and runs its
// share of the seeds. Plain JS so a worker can start without a TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const sweep = await tsImport(workerData.module, import.meta.url);
parentPort.postMessage(sweep.sweepSeeds(workerData.seeds));
