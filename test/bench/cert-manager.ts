/**
 * Target 6 of issue 14: rekey against cert-manager on the same real cluster (dc1 of test/infra), same run.
 * cert-manager's controller is built from its v1.19.1 module (test/infra/components/cert-manager-controller.sh,
 * the release of the CRDs dc1 has) and runs out of cluster, watching one namespace, with a CA Issuer. Phases:
 *   1. cert-manager, tuned (--kube-api-qps=500 --kube-api-burst=1000): create N Certificates, time until all Ready.
 *   2. cert-manager with its defaults (20 QPS, burst 50): the same into a fresh namespace (skipped with --no-defaults:
 *      it takes about 17 minutes for 1,000).
 *   3. `rekey apply` of the same N certificates into another namespace of dc1, as its own process, as a user runs it
 *      (no debug log), `--runs` times (each into a fresh namespace and state; the median counts), then once more with
 *      its debug log, which times its first and last request to dc1 from outside. With `--baseline DIR` (a bundle
 *      built by `buildCli(DIR)` from another commit) that build runs the same way, alternating, for a same-run
 *      before/after.
 *   4. renewal with a consumer Deployment per certificate: rekey re-issues all N (the inventory's validity changed)
 *      and restarts every consumer; timed until every Deployment has rolled out. Next to it, cert-manager's renewal
 *      of its N (the Issuing condition `cmctl renew` sets) until every Certificate is at revision 2 and Ready;
 *      cert-manager restarts nothing.
 * Conflicts ("the object has been modified") and client-side throttling waits are counted from the controller's
 * log (-v=3: client-go logs every wait over 50 ms). Prints a table, writes bench-results/cert-manager.json.
 *
 *   npx tsx test/bench/cert-manager.ts [--certificates 1000] [--runs 3] [--baseline DIR] [--no-defaults] [--no-renewal]
 *     [--apply-only]   (rekey's runs and the API server's ceiling only, no cert-manager)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { mapLimit } from '../../shared/app/concurrency.js';
import { buildCli } from '../../cli/tools/build-cli.js';
import { loadInfraEnv } from '../infra/env.js';
import { load1 } from './figures.js';
import { createLoop, type Ceiling } from './kube-ceiling.js';

const CM_VERSION = process.env.REKEY_CERT_MANAGER_VERSION ?? 'v1.19.1';
const GROUP = 'cert-manager.io';
const REPO = new URL('../..', import.meta.url).pathname;

interface Clients {
  readonly kubeconfig: string;
  /** dc1 as the current context. */
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly custom: CustomObjectsApi;
}

interface CertificateObject {
  metadata: { name: string };
  status?: { revision?: number; conditions?: { type: string; status: string }[] };
}

const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function clients(): Clients {
  const env = loadInfraEnv({ require: ['kube'] });
  const kubeconfig = env.kube.kubeconfig;
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.setCurrentContext('dc1');
  return {
    kubeconfig,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}

/** The controller binary, built once per version by the infra component; its CRDs installed in dc1 (idempotent). */
function controllerBinary(): string {
  for (const component of ['cert-manager-crds', 'cert-manager-controller'])
    execFileSync('bash', [join(REPO, `test/infra/components/${component}.sh`), 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const cache = process.env.REKEY_INFRA_CACHE ?? join(homedir(), '.cache/rekey-infra');
  return join(cache, `cert-manager-controller-${CM_VERSION}`, 'bin', 'cert-manager-controller');
}

/** A CA for cert-manager's Issuer (openssl, P-256), as a kubernetes.io/tls Secret. */
async function caIssuer(c: Clients, ns: string, work: string): Promise<void> {
  const key = join(work, `${ns}-ca.key`);
  const crt = join(work, `${ns}-ca.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '3650',
      '-subj',
      '/CN=bench-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    { stdio: 'ignore' },
  );
  await c.core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: 'bench-ca' },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': readFileSync(crt, 'utf8'), 'tls.key': readFileSync(key, 'utf8') },
    },
  });
  await c.custom.createNamespacedCustomObject({
    group: GROUP,
    version: 'v1',
    namespace: ns,
    plural: 'issuers',
    body: { apiVersion: `${GROUP}/v1`, kind: 'Issuer', metadata: { name: 'bench-ca' }, spec: { ca: { secretName: 'bench-ca' } } },
  });
}

function certificate(i: number, ns: string) {
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'Certificate',
    metadata: { name: `svc-${i}` },
    spec: {
      secretName: `svc-${i}-tls`,
      commonName: `svc-${i}`,
      dnsNames: [`svc-${i}.${ns}.svc`],
      duration: '2160h',
      renewBefore: '720h',
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      issuerRef: { name: 'bench-ca', kind: 'Issuer' },
    },
  };
}

async function listCertificates(c: Clients, ns: string): Promise<CertificateObject[]> {
  const out = (await c.custom.listNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: ns, plural: 'certificates' })) as {
    items: CertificateObject[];
  };
  return out.items;
}

const isReady = (o: CertificateObject) => o.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false;

/** Polls until `done(items)` counts `n`; returns the seconds since `from`. */
async function waitCertificates(
  c: Clients,
  ns: string,
  n: number,
  from: bigint,
  done: (o: CertificateObject) => boolean,
  limitSeconds: number,
): Promise<{ seconds: number; reached: number }> {
  for (;;) {
    const reached = (await listCertificates(c, ns)).filter(done).length;
    if (reached >= n || seconds(from) > limitSeconds) return { seconds: seconds(from), reached };
    await sleep(500);
  }
}

interface ControllerRun {
  readonly child: ChildProcess;
  readonly log: string;
  cpuSeconds(): number;
}

function startController(bin: string, kubeconfig: string, ns: string, work: string, tuned: boolean): ControllerRun {
  const log = join(work, `${ns}.log`);
  const args = [
    `--kubeconfig=${kubeconfig}`,
    `--namespace=${ns}`,
    `--cluster-resource-namespace=${ns}`,
    '--v=3',
    '--logtostderr=true',
    ...(tuned ? ['--kube-api-qps=500', '--kube-api-burst=1000'] : []),
  ];
  // dc1 is the kubeconfig's current context.
  const child = spawn('bash', ['-c', `exec "$0" "$@" 2>"${log}"`, bin, ...args], { stdio: 'ignore' });
  return {
    child,
    log,
    cpuSeconds: () => {
      try {
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(stat[11]) + Number(stat[12])) / 100; // utime + stime, in clock ticks (100/s)
      } catch {
        return NaN;
      }
    },
  };
}

async function stopController(run: ControllerRun): Promise<void> {
  if (run.child.exitCode !== null) return;
  const exited = new Promise((r) => run.child.once('exit', r));
  run.child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (run.child.exitCode === null) run.child.kill('SIGKILL');
}

function logCounts(path: string): { conflicts: number; throttled: number; throttledSeconds: number } {
  const text = readFileSync(path, 'utf8');
  const conflicts = text.split('the object has been modified').length - 1;
  let throttled = 0;
  let throttledSeconds = 0;
  for (const line of text.split('\n')) {
    if (!line.includes('client-side throttling')) continue;
    throttled++;
    const m = /(?:delay=|Waited for )"?([0-9.]+)(ms|s|µs)/.exec(line);
    if (m) throttledSeconds += Number(m[1]) / (m[2] === 'ms' ? 1000 : m[2] === 'µs' ? 1e6 : 1);
  }
  return { conflicts, throttled, throttledSeconds };
}

/** Namespaces this run made: deleted at its end (dc1 is shared; thousands of objects left behind slow everyone). */
const created: string[] = [];

async function namespace(c: Clients, name: string): Promise<void> {
  await c.core.createNamespace({ body: { metadata: { name, labels: { 'rekey-bench': 'cert-manager' } } } });
  created.push(name);
}

interface CmResult {
  readonly mode: 'tuned' | 'defaults';
  readonly namespace: string;
  readonly seconds: number;
  readonly ready: number;
  readonly conflicts: number;
  readonly throttled: number;
  readonly throttledSeconds: number;
  readonly cpuSeconds: number;
  /** 1-minute load average when the Certificates were created and when all were Ready. */
  readonly load: readonly [number, number];
  renewal?: { seconds: number; renewed: number; conflicts: number; throttled: number; load: readonly [number, number] };
}

/** cert-manager issues N Certificates (and, with `renew`, renews them all); the controller runs only meanwhile. */
async function certManagerRun(
  c: Clients,
  bin: string,
  ns: string,
  n: number,
  tuned: boolean,
  work: string,
  renew: boolean,
  limitSeconds: number,
): Promise<CmResult> {
  await namespace(c, ns);
  await caIssuer(c, ns, work);
  const run = startController(bin, c.kubeconfig, ns, work, tuned);
  try {
    // The clock starts once the controller is up and its Issuer is Ready.
    const t0 = process.hrtime.bigint();
    for (;;) {
      const issuer = (await c.custom.getNamespacedCustomObject({
        group: GROUP,
        version: 'v1',
        namespace: ns,
        plural: 'issuers',
        name: 'bench-ca',
      })) as CertificateObject;
      if (isReady(issuer)) break;
      if (run.child.exitCode !== null) throw new Error(`cert-manager controller exited (${run.child.exitCode}); see ${run.log}`);
      if (seconds(t0) > 120) throw new Error(`Issuer not Ready after 120 s; see ${run.log}`);
      await sleep(250);
    }
    const load0 = load1();
    const start = process.hrtime.bigint();
    await mapLimit(
      Array.from({ length: n }, (_, i) => i),
      16,
      (i) =>
        c.custom.createNamespacedCustomObject({
          group: GROUP,
          version: 'v1',
          namespace: ns,
          plural: 'certificates',
          body: certificate(i, ns),
        }),
    );
    const issued = await waitCertificates(c, ns, n, start, isReady, limitSeconds);
    const counts = logCounts(run.log);
    const result: CmResult = {
      mode: tuned ? 'tuned' : 'defaults',
      namespace: ns,
      seconds: issued.seconds,
      ready: issued.reached,
      ...counts,
      cpuSeconds: run.cpuSeconds(),
      load: [load0, load1()],
    };
    if (renew && issued.reached >= n) {
      // What `cmctl renew` does: the Issuing condition on every Certificate's status.
      const renewLoad = load1();
      const renewStart = process.hrtime.bigint();
      const now = new Date().toISOString();
      await mapLimit(
        Array.from({ length: n }, (_, i) => i),
        16,
        (i) =>
          c.custom.patchNamespacedCustomObjectStatus(
            {
              group: GROUP,
              version: 'v1',
              namespace: ns,
              plural: 'certificates',
              name: `svc-${i}`,
              body: {
                status: {
                  conditions: [
                    { type: 'Ready', status: 'True', reason: 'Ready', message: 'renewing', lastTransitionTime: now },
                    {
                      type: 'Issuing',
                      status: 'True',
                      reason: 'ManuallyTriggered',
                      message: 'Certificate re-issuance manually triggered',
                      lastTransitionTime: now,
                    },
                  ],
                },
              },
            },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          ),
      );
      const renewed = await waitCertificates(
        c,
        ns,
        n,
        renewStart,
        (o) => (o.status?.revision ?? 0) >= 2 && isReady(o) && !o.status?.conditions?.some((x) => x.type === 'Issuing'),
        limitSeconds,
      );
      const after = logCounts(run.log);
      result.renewal = {
        seconds: renewed.seconds,
        renewed: renewed.reached,
        conflicts: after.conflicts - counts.conflicts,
        throttled: after.throttled - counts.throttled,
        load: [renewLoad, load1()],
      };
    }
    return result;
  } finally {
    await stopController(run);
  }
}

function rekeyInventory(n: number, ns: string, consumers: boolean, validity: string): string {
  const lines = [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    'metadata: {name: cm-bench}',
    `defaults: {key: ECDSA-P256, validity: ${validity}, renewBefore: 720h, restart: ${consumers ? 'together' : 'none'}}`,
    'clusters: [{name: dc1, context: dc1}]',
    'authorities:',
    '  - {name: bench-ca, commonName: bench-ca, validity: 87600h}',
    'certificates:',
  ];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  - {name: svc-${i}, issuer: bench-ca, usage: server, commonName: svc-${i}, dnsNames: [svc-${i}.${ns}.svc], secret: {name: svc-${i}-tls, namespace: ${ns}}${consumers ? `, consumers: [Deployment/svc-${i}]` : ''}}`,
    );
  }
  return lines.join('\n') + '\n';
}

interface ApplyRun {
  /** From spawn to exit. */
  readonly seconds: number;
  /** 1-minute load average at its start and end. */
  readonly load: readonly [number, number];
  /** With the debug log only: from spawn to the first and the last request to the cluster (the sync window). */
  readonly firstRequestSeconds?: number;
  readonly lastRequestSeconds?: number;
  /** With the debug log only: requests to dc1 by method (the kube adapter logs each at debug level). */
  readonly requests?: Record<string, number>;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : 0;
};

/**
 * `rekey apply` as its own process, as a user runs it: `bin/rekey.js`, which runs the bundle built at the start of
 * the bench (process start included), or `launcher` (another build, see --baseline). With `debug`, its debug log
 * times the first and last request to the cluster from outside (the log costs the process some time: writing a
 * line per request to a pipe).
 */
async function rekeyApply(
  kubeconfig: string,
  inventory: string,
  state: string,
  options: { debug?: boolean; launcher?: string } = {},
): Promise<ApplyRun> {
  const load0 = load1();
  const start = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [options.launcher ?? join(REPO, 'bin/rekey.js'), '--state', state, 'apply', '-f', inventory, '--kubeconfig', kubeconfig],
    {
      cwd: REPO,
      env: { ...process.env, REKEY_STATE: state, REKEY_LOG_LEVEL: options.debug ? 'debug' : 'warn', REKEY_VAULT_KEY: undefined },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const requests: Record<string, number> = {};
  let first = 0;
  let last = 0;
  let tail = '';
  let buffered = '';
  /** `restart failed` lines by their reason without the names and instants (the tail keeps only the last few). */
  const restartFailures = new Map<string, number>();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (buffered + chunk).split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^debug: kube request .*method=(\w+)/.exec(line);
      if (!m) {
        tail = (tail + line + '\n').slice(-4000);
        if (line.startsWith('error: restart failed')) {
          const why = line
            .replace(/^.*message=/, '')
            .replace(/\S+\/\S+\/\S+: /g, '')
            .replace(/not done by \S+:/, 'not done by the deadline:');
          restartFailures.set(why, (restartFailures.get(why) ?? 0) + 1);
        }
        continue;
      }
      last = seconds(start);
      first ||= last;
      requests[m[1]!] = (requests[m[1]!] ?? 0) + 1;
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) {
    const failures = [...restartFailures].map(([why, k]) => `${k} restarts failed: ${why}`).join('; ');
    throw new Error(`rekey apply exited ${code}${failures ? ` (${failures})` : ''}: ${tail}`);
  }
  const run = { seconds: seconds(start), load: [load0, load1()] as const };
  return options.debug ? { ...run, firstRequestSeconds: first, lastRequestSeconds: last, requests } : run;
}

/** A script that runs the CLI bundle in `dir` as bin/rekey.js runs dist/rekey.mjs. */
function launcherFor(dir: string, work: string): string {
  const path = join(work, 'baseline-launcher.mjs');
  const bundle = pathToFileURL(join(resolve(dir), 'rekey.mjs')).href;
  writeFileSync(path, `const cli = await import(${JSON.stringify(bundle)});\nawait cli.runAsProcess(process.argv.slice(2));\n`);
  return path;
}

/**
 * A kwok node of its own for the consumer pods (dc1's two nodes hold 110 pods each and are shared): tainted, so
 * only this bench's pods, which tolerate it, land there. Deleted at the end of the run.
 */
const BENCH_NODE = 'dc1-rekey-bench-consumers';

async function benchNode(c: Clients): Promise<void> {
  const exists = await c.core.readNode({ name: BENCH_NODE }).then(
    () => true,
    () => false,
  );
  if (exists) return;
  await c.core.createNode({
    body: {
      metadata: {
        name: BENCH_NODE,
        annotations: { 'kwok.x-k8s.io/node': 'fake' },
        labels: { type: 'kwok', 'kubernetes.io/hostname': BENCH_NODE },
      },
      spec: { taints: [{ key: 'rekey-bench', value: 'consumers', effect: 'NoSchedule' }] },
      status: { allocatable: { cpu: '1000', memory: '1Ti', pods: '5000' }, capacity: { cpu: '1000', memory: '1Ti', pods: '5000' } },
    },
  });
}

async function consumerDeployments(c: Clients, ns: string, n: number): Promise<void> {
  await benchNode(c);
  await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    16,
    (i) =>
      c.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: `svc-${i}` },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: `svc-${i}` } },
            template: {
              metadata: { labels: { app: `svc-${i}` } },
              spec: {
                nodeSelector: { 'kubernetes.io/hostname': BENCH_NODE },
                tolerations: [{ key: 'rekey-bench', operator: 'Equal', value: 'consumers', effect: 'NoSchedule' }],
                containers: [{ name: 'app', image: 'registry.invalid/app:1', volumeMounts: [{ name: 'tls', mountPath: '/tls' }] }],
                volumes: [{ name: 'tls', secret: { secretName: `svc-${i}-tls` } }],
              },
            },
          },
        },
      }),
  );
}

/** Deployments whose latest template has rolled out (observed, updated and available). */
async function rolledOut(c: Clients, ns: string): Promise<{ rolled: number; restarted: number }> {
  const list = await c.apps.listNamespacedDeployment({ namespace: ns });
  let rolled = 0;
  let restarted = 0;
  for (const d of list.items) {
    const s = d.status;
    const want = d.spec?.replicas ?? 1;
    const done =
      (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
      (s?.updatedReplicas ?? 0) >= want &&
      (s?.availableReplicas ?? 0) >= want &&
      (s?.replicas ?? 0) === want;
    if (done) rolled++;
    if ((d.metadata?.generation ?? 1) > 1) restarted++;
  }
  return { rolled, restarted };
}

export function table(rows: readonly (readonly string[])[]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map(
      (r, j) =>
        r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ') +
        (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : ''),
    )
    .join('\n');
}

export interface CertManagerBench {
  readonly certificates: number;
  readonly loadAverage: number[];
  readonly certManager: CmResult[];
  /** Median of the runs without debug log. */
  readonly rekeyApplySeconds: number;
  readonly rekeyApplyRuns: readonly ApplyRun[];
  /** The run with the debug log (request window and counts). */
  readonly rekeyApply?: ApplyRun;
  /** The --baseline build, same runs, alternating with the others. */
  readonly baselineApplySeconds?: number;
  readonly baselineApplyRuns?: readonly ApplyRun[];
  /** Plain parallel POSTs of N Secrets into dc1 in the same run: what the API server takes. */
  readonly apiServerCeiling?: Ceiling;
  readonly rekeyRenewal?: {
    /** From apply's start until every consumer has rolled out (or, when apply failed, until it exited). */
    readonly seconds: number;
    /** When `rekey apply` exited (it waits for the rollouts it starts). */
    readonly applySeconds: number;
    readonly rolled: number;
    readonly restarted: number;
    readonly load: readonly [number, number];
    /** Before the renewal: creating the N consumer Deployments until all were available (dc1's own pace). */
    readonly consumersReady: { readonly seconds: number; readonly available: number };
  };
  /** What failed in a phase that did not stop the bench (the renewal). */
  readonly errors: readonly string[];
  readonly rows: string[][];
}

export async function certManagerBench(
  options: { certificates?: number; defaults?: boolean; renewal?: boolean; runs?: number; baseline?: string; applyOnly?: boolean } = {},
): Promise<CertManagerBench> {
  const n = options.certificates ?? 1000;
  const runs = options.runs ?? 3;
  const c = clients();
  const bin = controllerBinary();
  await buildCli(); // bin/rekey.js runs the bundle, as an installed rekey does
  const tag = Math.random().toString(16).slice(2, 6);
  const work = mkdtempSync(join(tmpdir(), 'rekey-cm-bench-'));
  const loadAverage = loadavg();
  const r: RekeyRuns = { runs: [], baselineRuns: [], errors: [] };
  const cm: CmResult[] = [];
  let ceiling: Ceiling | undefined;
  const write = () => report(n, loadAverage, cm, ceiling, r, options.applyOnly ? 'cert-manager-apply' : 'cert-manager');
  try {
    if (!options.applyOnly) cm.push(await certManagerRun(c, bin, `cmb-${tag}-tuned`, n, true, work, options.renewal !== false, 900));

    // The API server's own rate, right before rekey's apply.
    const ceilingNs = `cmb-${tag}-ceiling`;
    await namespace(c, ceilingNs);
    ceiling = await createLoop(c.kc, ceilingNs, n, 64);
    await c.core.deleteNamespace({ name: ceilingNs });

    // rekey: the same N, each run into a namespace and state of its own (the baseline build alternating with this one).
    const launcher = options.baseline ? launcherFor(options.baseline, work) : undefined;
    const freshApply = async (name: string, debug: boolean, baseline: boolean) => {
      const ns = `cmb-${tag}-${name}`;
      await namespace(c, ns);
      const state = join(work, `state-${name}`);
      const inventory = join(work, `inventory-${name}.yaml`);
      writeFileSync(inventory, rekeyInventory(n, ns, false, '2160h'));
      const run = await rekeyApply(c.kubeconfig, inventory, state, { debug, ...(baseline && launcher && { launcher }) });
      return { run, ns, state, inventory };
    };
    let last: Awaited<ReturnType<typeof freshApply>> | undefined;
    for (let i = 0; i < runs; i++) {
      if (launcher) r.baselineRuns.push((await freshApply(`base${i}`, false, true)).run);
      last = await freshApply(`rekey${i}`, false, false);
      r.runs.push(last.run);
    }
    r.debugRun = (await freshApply('debug', true, false)).run;

    if (options.renewal !== false && !options.applyOnly && last) {
      try {
        const { ns, state, inventory } = last;
        // dc1's own pace in this run: creating the N consumers until all are available.
        const created0 = process.hrtime.bigint();
        await consumerDeployments(c, ns, n);
        let consumers = await rolledOut(c, ns);
        while (consumers.rolled < n && seconds(created0) < 600) {
          await sleep(1000);
          consumers = await rolledOut(c, ns);
        }
        const consumersReady = { seconds: seconds(created0), available: consumers.rolled };
        // Every certificate re-issued: a changed validity changes each one's spec. apply re-issues each, writes the
        // Secrets and restarts each consumer (restart: together), waiting for its rollout.
        writeFileSync(inventory, rekeyInventory(n, ns, true, '2159h'));
        const load0 = load1();
        const start = process.hrtime.bigint();
        // apply waits for the rollouts itself; a failed apply (a restart timed out) is reported with what had
        // rolled when it exited, instead of waiting for rollouts it never started.
        const failed = await rekeyApply(c.kubeconfig, inventory, state).then(
          () => undefined,
          (e: unknown) => (e instanceof Error ? e.message : String(e)),
        );
        const applySeconds = seconds(start);
        let state2 = await rolledOut(c, ns);
        while (!failed && (state2.rolled < n || state2.restarted < n) && seconds(start) < 900) {
          await sleep(500);
          state2 = await rolledOut(c, ns);
        }
        r.renewal = { seconds: seconds(start), applySeconds, ...state2, load: [load0, load1()], consumersReady };
        if (failed) r.errors.push(`rekey renewal: ${failed}`);
      } catch (e) {
        r.errors.push(`rekey renewal: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    // Written before the long run with cert-manager's defaults, so a cut-short run still leaves the rest.
    write();
    if (options.defaults !== false && !options.applyOnly)
      cm.push(await certManagerRun(c, bin, `cmb-${tag}-defaults`, n, false, work, false, 2400));
  } finally {
    rmSync(work, { recursive: true, force: true });
    for (const name of created) await c.core.deleteNamespace({ name }).catch(() => undefined);
    await c.core.deleteNode({ name: BENCH_NODE }).catch(() => undefined);
  }
  return write();
}

interface RekeyRuns {
  readonly runs: ApplyRun[];
  readonly baselineRuns: ApplyRun[];
  debugRun?: ApplyRun;
  renewal?: CertManagerBench['rekeyRenewal'];
  readonly errors: string[];
}

function report(
  n: number,
  loadAverage: number[],
  cm: CmResult[],
  ceiling: Ceiling | undefined,
  r: RekeyRuns,
  file: string,
): CertManagerBench {
  const tuned = cm.find((x) => x.mode === 'tuned');
  const applySeconds = median(r.runs.map((x) => x.seconds));
  const baselineSeconds = median(r.baselineRuns.map((x) => x.seconds));
  const ratio = (x: CmResult | undefined, by: number) => (x && by ? `${(x.seconds / by).toFixed(1)}x` : '-');
  const load = (l: readonly [number, number] | undefined) => (l ? `${l[0]}-${l[1]}` : '-');
  const loads = (runs: readonly ApplyRun[]) =>
    runs.length ? `${Math.min(...runs.map((x) => x.load[0]))}-${Math.max(...runs.map((x) => x.load[1]))}` : '-';
  const each = (runs: readonly ApplyRun[]) => runs.map((x) => x.seconds.toFixed(1)).join(', ');
  const debug = r.debugRun;
  const requests = debug?.requests ?? {};
  const rows = [
    [
      `${n} CA-signed certificates into dc1, until all ready`,
      'seconds',
      'rekey faster by',
      'conflicts',
      'throttling waits (s)',
      'controller CPU s',
      'load',
    ],
    [
      `rekey apply (own process, start included), median of ${r.runs.length}: ${each(r.runs)}`,
      applySeconds.toFixed(1),
      '-',
      '-',
      '-',
      '-',
      loads(r.runs),
    ],
    ...(r.baselineRuns.length
      ? [
          [
            `rekey apply, baseline build, median of ${r.baselineRuns.length}: ${each(r.baselineRuns)}`,
            baselineSeconds.toFixed(1),
            '-',
            '-',
            '-',
            '-',
            loads(r.baselineRuns),
          ],
        ]
      : []),
    ...(debug
      ? [
          [
            `rekey apply with its debug log: ${debug.seconds.toFixed(1)} s; first request at ${(debug.firstRequestSeconds ?? 0).toFixed(1)} s; its ${Object.values(
              requests,
            ).reduce((a, b) => a + b, 0)} requests (${Object.entries(requests)
              .map(([m, k]) => `${k} ${m}`)
              .join(', ')}), first to last`,
            ((debug.lastRequestSeconds ?? 0) - (debug.firstRequestSeconds ?? 0)).toFixed(1),
            '-',
            '-',
            '-',
            '-',
            load(debug.load),
          ],
        ]
      : []),
    ...(ceiling
      ? [
          [
            `API server reference: ${ceiling.secrets} plain parallel Secret POSTs (${ceiling.concurrency} in flight), ${ceiling.perSecond.toFixed(0)}/s`,
            ceiling.seconds.toFixed(1),
            '-',
            '-',
            '-',
            '-',
            '-',
          ],
        ]
      : []),
    ...cm.map((x) => [
      `cert-manager ${CM_VERSION} ${x.mode}${x.ready < n ? ` (${x.ready} ready at the limit)` : ''}${
        r.baselineRuns.length ? ` (baseline build faster by ${ratio(x, baselineSeconds)})` : ''
      }`,
      x.seconds.toFixed(1),
      ratio(x, applySeconds),
      String(x.conflicts),
      `${x.throttled} (${x.throttledSeconds.toFixed(0)})`,
      x.cpuSeconds.toFixed(1),
      load(x.load),
    ]),
  ];
  if (r.renewal)
    rows.push(
      [
        `dc1 reference: ${n} consumer Deployments created until available (${r.renewal.consumersReady.available} available)`,
        r.renewal.consumersReady.seconds.toFixed(1),
        '-',
        '-',
        '-',
        '-',
        '-',
      ],
      [
        `rekey renewal of ${n} + restart of ${n} consumer Deployments, until all rolled (${r.renewal.rolled} rolled, ${r.renewal.restarted} restarted; apply exited at ${r.renewal.applySeconds.toFixed(1)} s)`,
        r.renewal.seconds.toFixed(1),
        '-',
        '-',
        '-',
        '-',
        load(r.renewal.load),
      ],
    );
  if (tuned?.renewal)
    rows.push([
      `cert-manager tuned renewal of ${n} (restarts nothing; ${tuned.renewal.renewed} renewed)`,
      tuned.renewal.seconds.toFixed(1),
      '-',
      String(tuned.renewal.conflicts),
      String(tuned.renewal.throttled),
      '-',
      load(tuned.renewal.load),
    ]);
  // The table keeps an error's first 300 characters; the JSON has all of it.
  for (const e of r.errors) rows.push([`not measured: ${e.slice(0, 300).replace(/\s+/g, ' ')}`, '-', '-', '-', '-', '-', '-']);
  const result: CertManagerBench = {
    certificates: n,
    loadAverage,
    certManager: cm,
    rekeyApplySeconds: applySeconds,
    rekeyApplyRuns: r.runs,
    ...(debug && { rekeyApply: debug }),
    ...(r.baselineRuns.length && { baselineApplySeconds: baselineSeconds, baselineApplyRuns: r.baselineRuns }),
    ...(ceiling && { apiServerCeiling: ceiling }),
    ...(r.renewal && { rekeyRenewal: r.renewal }),
    errors: r.errors,
    rows,
  };
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(`bench-results/${file}.json`, JSON.stringify(result, null, 2) + '\n');
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      certificates: { type: 'string' },
      runs: { type: 'string' },
      baseline: { type: 'string' },
      'no-defaults': { type: 'boolean' },
      'no-renewal': { type: 'boolean' },
      'apply-only': { type: 'boolean' },
    },
  });
  const r = await certManagerBench({
    ...(values.certificates && { certificates: Number(values.certificates) }),
    ...(values.runs && { runs: Number(values.runs) }),
    ...(values.baseline && { baseline: values.baseline }),
    applyOnly: Boolean(values['apply-only']),
    defaults: !values['no-defaults'],
    renewal: !values['no-renewal'],
  });
  console.log(table(r.rows));
  console.log(
    `\nload average at the start: ${r.loadAverage.map((x) => x.toFixed(2)).join(' ')}; wrote bench-results/${values['apply-only'] ? 'cert-manager-apply' : 'cert-manager'}.json`,
  );
}
