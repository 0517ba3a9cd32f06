/**
 * Bundle size and cold init of each Lambda function: packages with `serverless package` (no network), then imports
 * each function's bundle in fresh Node processes and reports the median time of the import (module evaluation, what
 * Lambda's init phase does before the first invocation). The kube client is loaded on the first invocation that
 * needs a cluster, not at import; its own import time is reported apart. Writes bench-results/aws-bundles.json.
 *
 *   npx tsx test/bench/aws-bundles.ts [runs]
 *
 * Figures, not assertions (the target: each bundle under 1.5 MB, import under 200 ms).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readZip } from '../unit/functions/zip.js';

const runs = Number(process.argv[2] ?? 7);
const root = resolve(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'rekey-bundles-'));
const MB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Milliseconds to import `file` in a fresh Node process (process start excluded). */
function importMs(file: string, cwd: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));`;
  return Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    }).toString(),
  );
}

execFileSync(join(root, 'node_modules/.bin/serverless'), ['package', '--stage', 'bench', '--package', out], { cwd: root, stdio: 'ignore' });
const results: Record<string, { zipBytes: number; bundleBytes: number; importMsMedian: number; importMsAll: number[] }> = {};
for (const zip of readdirSync(out)
  .filter((f) => f.endsWith('.zip'))
  .sort()) {
  const fn = zip.replace(/\.zip$/, '');
  const dir = join(out, fn);
  for (const [name, data] of readZip(join(out, zip))) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  const bundle = join(dir, 'functions', `${fn}.mjs`);
  importMs(bundle, dir); // warm the file cache once
  const times = Array.from({ length: runs }, () => importMs(bundle, dir));
  results[fn] = {
    zipBytes: statSync(join(out, zip)).size,
    bundleBytes: statSync(bundle).size,
    importMsMedian: median(times),
    importMsAll: times.map((t) => Math.round(t)),
  };
}

// The kube client, as the first invocation with a cluster loads it (bundled the same way).
const kubeEntry = join(out, 'kube-entry.mjs');
writeFileSync(kubeEntry, `export * from ${JSON.stringify(join(root, 'shared/adapters/kube/index.ts'))};\n`);
execFileSync(
  join(root, 'node_modules/.bin/esbuild'),
  [
    kubeEntry,
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--target=node22',
    '--minify',
    '--keep-names',
    '--main-fields=module,main',
    `--outfile=${join(out, 'kube.mjs')}`,
    "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  ],
  { cwd: root, stdio: 'ignore' },
);
importMs(join(out, 'kube.mjs'), out);
const kubeMs = median(Array.from({ length: runs }, () => importMs(join(out, 'kube.mjs'), out)));

console.log('function   zip (KB)   bundle (KB)   import median (ms)');
for (const [fn, r] of Object.entries(results)) {
  console.log(
    `${fn.padEnd(10)} ${(r.zipBytes / 1024).toFixed(0).padStart(8)} ${(r.bundleBytes / 1024).toFixed(0).padStart(13)} ${r.importMsMedian.toFixed(0).padStart(20)}`,
  );
}
console.log(`kube client (first invocation with a cluster): ${kubeMs.toFixed(0)} ms`);
const under = Object.values(results).every((r) => r.zipBytes < 1.5 * MB);
console.log(`every package under 1.5 MB: ${under}`);
mkdirSync(join(root, 'bench-results'), { recursive: true });
writeFileSync(
  join(root, 'bench-results/aws-bundles.json'),
  JSON.stringify({ runs, node: process.version, results, kubeClientImportMs: kubeMs }, null, 2),
);
rmSync(out, { recursive: true, force: true });
