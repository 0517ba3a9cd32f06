// Starts a worker thread (signing pool, file writer) from its TypeScript source (tests, `REKEY_TSX=1`): registers
// tsx's loader in this thread first, since a loader registered through tsx's API in the main thread does not reach
// worker threads.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
