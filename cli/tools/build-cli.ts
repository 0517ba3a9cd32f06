/**
 * `npm run build:cli`: bundles the CLI into dist/rekey.mjs (esbuild, ESM, code split at the CLI's lazy imports into
 * dist/chunks/), so `bin/rekey.js` starts without compiling TypeScript through tsx at every run. Writes
 * dist/rekey.inputs.json, the project files the bundle was built from: bin/rekey.js runs the bundle only while none
 * of them is newer than it, and falls back to tsx otherwise.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');

/** Bundled CommonJS dependencies call require() and read __dirname; ESM output has neither unless defined. */
const BANNER = [
  "import { createRequire as __rekeyCreateRequire } from 'node:module';",
  "import { fileURLToPath as __rekeyFileURLToPath } from 'node:url';",
  "import { dirname as __rekeyDirname } from 'node:path';",
  'const require = __rekeyCreateRequire(import.meta.url);',
  'const __filename = __rekeyFileURLToPath(import.meta.url);',
  'const __dirname = __rekeyDirname(__filename);',
].join('\n');

/** Builds into `outdir` (dist/ of the package unless told; its content is replaced). */
export async function buildCli(outdir: string = DIST): Promise<{ bundle: string; inputs: string[] }> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    // The worker threads are entries of their own (shared/adapters/worker-entry.ts finds them beside rekey.mjs).
    entryPoints: {
      rekey: 'cli/main.ts',
      'rekey-sign-worker': 'shared/adapters/signing-pool/worker.ts',
      'rekey-file-worker': 'shared/adapters/file-writer/worker.ts',
    },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // pg's optional native binding and the AWS SDK's optional CRT are not installed; they are looked up at run time.
    external: ['pg-native', 'aws-crt'],
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
  // The project's own sources, the lock file (a dependency changed) and the build script itself.
  const inputs = [
    ...Object.keys(result.metafile.inputs).filter((p) => !p.includes('node_modules/')),
    'package.json',
    'package-lock.json',
    relative(ROOT, fileURLToPath(import.meta.url)),
  ].sort();
  writeFileSync(join(outdir, 'rekey.inputs.json'), JSON.stringify({ bundle: 'rekey.mjs', inputs }, null, 1) + '\n');
  return { bundle: join(outdir, 'rekey.mjs'), inputs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { bundle, inputs } = await buildCli();
  process.stdout.write(`wrote ${relative(process.cwd(), bundle)} from ${inputs.length} project files\n`);
}
