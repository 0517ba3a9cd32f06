#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so `npx rekey` works without a build step.
import { register } from 'tsx/esm/api';

register();
const { runAsProcess } = await import('../cli/main.ts');
// Not process.exit(await main()): exiting before stdout drained cuts piped output at 64 KiB.
await runAsProcess(process.argv.slice(2));
