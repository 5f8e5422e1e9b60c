// Worker thread of a sweep (sweep.ts runInWorker): loads the given module through tsx and returns
// what its function `fn` gives for this share of the seeds, telling the parent each seed done.
// Plain JS so a worker can start without a TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const mod = await tsImport(workerData.module, import.meta.url);
const done = () => parentPort.postMessage({ seedDone: true });
parentPort.postMessage({ result: await mod[workerData.fn](workerData.seeds, workerData.extra, done) });
