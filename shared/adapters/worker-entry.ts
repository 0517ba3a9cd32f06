/** Where a worker thread's code is: the bundle's own entry, or the TypeScript source through tsx's loader. */
export interface WorkerEntry {
  readonly url: URL;
  readonly workerData?: unknown;
}

/**
 * The code of a worker thread started by the module at `here`. Run from the bundle (dist/rekey.mjs, the module in
 * it or in dist/chunks/), it is the bundle's entry `bundled` (cli/tools/build-cli.ts names them); run from source
 * (tsx, vitest), `source` (relative to `here`) started through tsx-worker.mjs.
 */
export function workerEntry(here: string, source: string, bundled: string): WorkerEntry {
  if (here.endsWith('.ts')) return { url: new URL('./tsx-worker.mjs', import.meta.url), workerData: { entry: new URL(source, here).href } };
  return { url: new URL(here.includes('/chunks/') ? `../${bundled}` : `./${bundled}`, here) };
}
