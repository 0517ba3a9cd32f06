#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so `npx rekey` works without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exit(await main(process.argv.slice(2)));
