#!/usr/bin/env node
// Runs the bundled CLI (dist/rekey.mjs, `npm run build:cli`) when it is up to date with the sources; otherwise the
// TypeScript through tsx's loader, so `npx rekey` works without a build step. REKEY_TSX=1 forces the tsx path.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBundle } from './fresh-bundle.js';

const bundle = process.env.REKEY_TSX === '1' ? undefined : freshBundle(fileURLToPath(new URL('..', import.meta.url)));
let cli;
if (bundle) {
  cli = await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../cli/main.ts');
}
// Not process.exit(await main()): exiting before stdout drained cuts piped output at 64 KiB.
await cli.runAsProcess(process.argv.slice(2));
