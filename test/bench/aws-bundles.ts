/**
 * Bundle size and cold init of each Lambda function (issue 14, target 5: init ≤ 150 ms). Packages with
 * `serverless package` (no network; the esbuild settings and plugins of serverless.yml), unzips each function and
 * imports its handler module in fresh Node processes: what Lambda's init phase does before the first invocation.
 * The figure is the CPU time of that import (user + system, median of `runs`), which a loaded machine inflates far
 * less than wall time; wall time is recorded beside it. Beside it, the CPU of the import and a first invocation
 * together (FIRST_EVENTS: what a first request loads, up to its first AWS call), so that work moved from the import
 * to the first request shows. "init KB" counts the bundle plus the chunks it loads
 * statically; what a request loads with `await import()` (kube client, ACME, Private CA, node-forge) is in chunks
 * read only then. The kube client's own import is measured apart (the first invocation with a cluster pays it).
 * Writes bench-results/aws-bundles.json.
 *
 *   npx tsx test/bench/aws-bundles.ts [--runs 7] [--root <checkout>] [--node <path>]
 *   (--root: package another checkout, e.g. main; --node: the Node binary that imports, e.g. Lambda's Node 22)
 *
 * Figures, not assertions.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipTo } from '../unit/functions/zip.js';
import { load1, machine, median, type Figure } from './figures.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const KB = 1024;
const TARGET_MS = 150;
const here = resolve(import.meta.dirname, '../..');
/** The Node binary that imports the bundles (default: the one running the bench). */
const nodeBinary = arg('node') ?? process.execPath;

interface Init {
  readonly cpuMs: number;
  readonly wallMs: number;
  /** CPU of the import and the first invocation together (see FIRST_EVENTS). */
  readonly firstCpuMs: number;
}

/**
 * A first invocation of each function that makes no AWS call and connects no cluster, yet loads what its first
 * request loads: the runtime (the AWS SDK and the adapters, the packaged inventory) and the code of its event
 * source, then stops at a refusal. The API's first request builds the router and fails at its first AWS call
 * (reading the signing key; nothing listens at AWS_ENDPOINT_URL). What a cluster or an issuer needs (the kube
 * client, ACME, AWS Private CA) is loaded later and measured apart.
 */
const FIRST_EVENTS: Readonly<Record<string, unknown>> = {
  schedule: { repair: 'not a boolean' },
  step: { Records: [] },
  delay: { Records: [] },
  restart: { source: 'bench' },
  alert: { Records: [{ Sns: { MessageId: 'bench', Message: '{}' } }] },
  api: { version: '2.0', rawPath: '/v1/items', requestContext: { http: { method: 'GET', sourceIp: '127.0.0.1' } } },
};

/** The functions' environment for the first invocation: the packaged inventory, and an AWS endpoint that refuses. */
const firstEnv = (dir: string): NodeJS.ProcessEnv => ({
  LAMBDA_TASK_ROOT: dir,
  REKEY_INVENTORY_FILE: 'examples/apiconnect.yaml',
  REKEY_STEP_QUEUE_URL: 'http://127.0.0.1:9/000000000000/step.fifo',
  REKEY_DELAY_QUEUE_URL: 'http://127.0.0.1:9/000000000000/delay',
  REKEY_JOURNAL_TABLE: 'bench-journal',
  REKEY_AWS_MAX_ATTEMPTS: '1',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  LOG_LEVEL: 'error',
});

/**
 * CPU and wall milliseconds to import `file` in a fresh Node process (process start excluded), then the CPU of the
 * import and the first invocation with `event` together.
 */
function importOnce(file: string, cwd: string, event: unknown): Init {
  const script =
    `const c=process.cpuUsage(),t=performance.now();const m=await import(${JSON.stringify(file)});` +
    `const u=process.cpuUsage(c),w=performance.now()-t;` +
    `try{await m.handler(${JSON.stringify(event ?? {})},{awsRequestId:'bench',getRemainingTimeInMillis:()=>30000})}catch{}` +
    `const f=process.cpuUsage(c);` +
    `process.stdout.write('\\n@@'+JSON.stringify({cpuMs:(u.user+u.system)/1000,wallMs:w,firstCpuMs:(f.user+f.system)/1000}));`;
  const out = execFileSync(nodeBinary, ['--input-type=module', '-e', script], {
    cwd,
    env: { PATH: process.env.PATH, ...firstEnv(cwd), NODE_NO_WARNINGS: '1' },
  }).toString();
  return JSON.parse(out.slice(out.lastIndexOf('@@') + 2)) as Init;
}

/** The files an ES module loads before it runs: itself and its static `import ... from "./x"`, transitively. */
function staticClosure(entry: string): string[] {
  const seen = new Set<string>();
  const stack = [entry];
  for (let file = stack.pop(); file !== undefined; file = stack.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // Static imports only: `from"./a.mjs"` and bare `import"./a.mjs"`; `import("./a.mjs")` is loaded on demand.
    for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*["'](\.{1,2}\/[^"']+)["']/g)) stack.push(resolve(dirname(file), m[1]!));
  }
  return [...seen];
}

export interface BundleFigures {
  readonly zipBytes: number;
  readonly initBytes: number;
  readonly allBytes: number;
  readonly cpuMsMedian: number;
  readonly wallMsMedian: number;
  readonly cpuMsAll: number[];
  /** CPU of the import and the first invocation (FIRST_EVENTS), median. */
  readonly firstCpuMsMedian: number;
  readonly firstCpuMsAll: number[];
}

/** The version of the Node binary that imports the bundles. */
function nodeVersion(): string {
  return execFileSync(nodeBinary, ['--version']).toString().trim();
}

/** Packages `root` and measures every function's bundle. */
export function measureBundles(root: string, runs: number): { functions: Record<string, BundleFigures>; kubeCpuMs?: number } {
  const out = mkdtempSync(join(tmpdir(), 'rekey-bundles-'));
  try {
    execFileSync(join(root, 'node_modules/.bin/serverless'), ['package', '--stage', 'bench', '--package', out], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
    });
    const functions: Record<string, BundleFigures> = {};
    let kubeCpuMs: number | undefined;
    for (const zip of readdirSync(out)
      .filter((f) => f.endsWith('.zip'))
      .sort()) {
      const fn = zip.replace(/\.zip$/, '');
      const dir = join(out, fn);
      let allBytes = 0;
      for (const [name, data] of unzipTo(join(out, zip), dir)) if (name.endsWith('.mjs')) allBytes += data.length;
      const bundle = join(dir, 'functions', `${fn}.mjs`);
      importOnce(bundle, dir, FIRST_EVENTS[fn]); // warm the file cache once
      const times = Array.from({ length: runs }, () => importOnce(bundle, dir, FIRST_EVENTS[fn]));
      functions[fn] = {
        zipBytes: statSync(join(out, zip)).size,
        initBytes: staticClosure(bundle).reduce((n, f) => n + statSync(f).size, 0),
        allBytes,
        cpuMsMedian: median(times.map((t) => t.cpuMs)),
        wallMsMedian: median(times.map((t) => t.wallMs)),
        cpuMsAll: times.map((t) => Math.round(t.cpuMs)),
        firstCpuMsMedian: median(times.map((t) => t.firstCpuMs)),
        firstCpuMsAll: times.map((t) => Math.round(t.firstCpuMs)),
      };
      // The kube client as the restart function loads it on its first invocation with a cluster (its own chunk).
      const chunks = join(dir, 'functions', `${fn}.chunks`);
      const kube =
        fn === 'restart' && existsSync(chunks) ? readdirSync(chunks).find((f) => /^(index|kube)-[A-Z0-9]+\.mjs$/.test(f)) : undefined;
      if (kube && readFileSync(join(chunks, kube), 'utf8').includes('KubeConfig')) {
        const file = join(chunks, kube);
        importOnce(file, dir, undefined);
        kubeCpuMs = median(Array.from({ length: runs }, () => importOnce(file, dir, undefined).cpuMs));
      }
    }
    return { functions, ...(kubeCpuMs !== undefined && { kubeCpuMs }) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The bench: this checkout, and with --root another one (before/after in the same run, alternating is not needed: CPU time). */
export function runBundleBench(options: { runs?: number; before?: string } = {}): Figure[] {
  const runs = options.runs ?? Number(arg('runs') ?? 7);
  const before = options.before ?? arg('root');
  const load0 = load1();
  const previous = before ? measureBundles(resolve(before), runs) : undefined;
  const now = measureBundles(here, runs);
  const load: [number, number] = [load0, load1()];
  const figures: Figure[] = Object.entries(now.functions).flatMap(([fn, r]): Figure[] => {
    const ref = previous?.functions[fn];
    const init: Figure = {
      what: `cold init of the ${fn} function (import CPU, Node ${nodeVersion()}; init ${Math.round(r.initBytes / KB)} KB, zip ${Math.round(r.zipBytes / KB)} KB)`,
      value: r.cpuMsMedian,
      unit: 'ms',
      runs: r.cpuMsAll,
      ...(ref && {
        reference: { what: `before (${before ?? ''}), init ${Math.round(ref.initBytes / KB)} KB`, value: ref.cpuMsMedian },
        ratio: ref.cpuMsMedian / r.cpuMsMedian,
      }),
      target: `≤ ${TARGET_MS} ms`,
      met: r.cpuMsMedian <= TARGET_MS,
      load,
    };
    const first: Figure = {
      what: `cold init and first invocation of the ${fn} function (CPU, Node ${nodeVersion()}; no AWS call answered, no cluster)`,
      value: r.firstCpuMsMedian,
      unit: 'ms',
      runs: r.firstCpuMsAll,
      ...(ref && {
        reference: { what: `before (${before ?? ''})`, value: ref.firstCpuMsMedian },
        ratio: ref.firstCpuMsMedian / r.firstCpuMsMedian,
      }),
      load,
    };
    return [init, first];
  });
  console.log(
    'function   zip KB   init KB   all KB   import CPU ms (median)   wall ms   +first invocation CPU ms' +
      (previous ? '   before: init KB, CPU ms, +first invocation' : ''),
  );
  for (const [fn, r] of Object.entries(now.functions)) {
    const b = previous?.functions[fn];
    console.log(
      `${fn.padEnd(10)} ${(r.zipBytes / KB).toFixed(0).padStart(6)} ${(r.initBytes / KB).toFixed(0).padStart(9)} ${(r.allBytes / KB).toFixed(0).padStart(8)} ${r.cpuMsMedian.toFixed(0).padStart(24)} ${r.wallMsMedian.toFixed(0).padStart(9)} ${r.firstCpuMsMedian.toFixed(0).padStart(26)}` +
        (b ? `   ${(b.initBytes / KB).toFixed(0).padStart(7)}, ${b.cpuMsMedian.toFixed(0)}, ${b.firstCpuMsMedian.toFixed(0)}` : ''),
    );
  }
  if (now.kubeCpuMs !== undefined) console.log(`kube client chunk (first invocation with a cluster): ${now.kubeCpuMs.toFixed(0)} ms CPU`);
  console.log(`load average ${load.join(' -> ')}; node ${nodeVersion()}`);
  mkdirSync(join(here, 'bench-results'), { recursive: true });
  writeFileSync(
    join(here, 'bench-results/aws-bundles.json'),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: machine(),
        node: nodeVersion(),
        runs,
        now,
        ...(previous && { before: { root: before, ...previous } }),
        figures,
      },
      null,
      2,
    ) + '\n',
  );
  return figures;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) runBundleBench();
