/**
 * Issue 14, target 7: restart latency. From a Secret's change to its consumers' rollouts started and finished, for
 * 1, 100 and 1,000 consumer Deployments on dc1 (pods run by kwok on a tainted node of the bench's own, in a namespace
 * of each run's own), the leaf's consumers a label selector matching every Deployment of the namespace, restart
 * policy `together`. Two paths, in the same run:
 *  - CLI: `rekey rotate <leaf>` as its own process (`--before DIR`: also the CLI of another checkout, e.g. main
 *    before a change, right before it on the same sizes);
 *  - Lambda: the functions' handlers on moto (step, restart; `test/fixtures/aws-lambda-runner.ts`) against dc1, the
 *    rotation started as the API starts it and waited for in the journal.
 *
 * Timed from watches on the Secret and the Deployments (the instant this process receives each event):
 *  - change: the Secret carries the new version (its `rekey/version` annotation);
 *  - started: a Deployment's pod template carries rekey's restart annotation (first and last of N);
 *  - finished: that Deployment has rolled out (observed generation, updated = available = replicas) (last of N);
 *  - the rotation from its start to its end (issue, test, promote, sync, restart, verify).
 *
 * The reference the issue asks for, the kubelet refreshing a mounted Secret in place (no restart), cannot be measured
 * here: kwok fakes pods and runs no kubelet, so no volume is ever projected. It is reported as not measured.
 *
 *   npx tsx test/bench/restart-latency.ts [--consumers 1,100,1000] [--paths cli,lambda] [--before DIR]
 *     (needs `bash test/infra/up.sh`)
 *
 * Writes bench-results/restart-latency.json (figures for `npm run bench`'s table). Figures, not assertions.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, KubeConfig, Watch, type V1Deployment, type V1Secret } from '@kubernetes/client-node';
import { mapLimit } from '../../shared/app/concurrency.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { RotationStatus } from '../../shared/domain/rotation/record.js';
import { startAwsLambdaRunner } from '../fixtures/aws-lambda-runner.js';
import { loadInfraEnv } from '../infra/env.js';
import { load1, machine, type Figure } from './figures.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** A kwok node of this bench's own (dc1's shared nodes hold 110 pods each): tainted, only the bench's pods land there. */
const NODE = 'dc1-rekey-restart-bench';
const TAINT = { key: 'rekey-restart-bench', value: 'consumers', effect: 'NoSchedule' } as const;
const RESTARTED_AT = 'rekey/restartedAt';
const KUBELET_NOT_MEASURED =
  'kubelet refresh of a mounted Secret: not measurable here (kwok runs no kubelet, nothing is projected); Kubernetes documents up to the kubelet sync period (60 s by default) plus its cache delay';
/** How long one rotation (with its restarts) may take before the run is given up. */
const ROTATION_LIMIT_MS = 45 * 60_000;

interface Clients {
  readonly kubeconfig: string;
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
}

function clients(): Clients {
  const kubeconfig = loadInfraEnv({ require: ['kube'] }).kube.kubeconfig;
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.setCurrentContext('dc1');
  return { kubeconfig, kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();

function inventory(ns: string, name = 'restart-bench'): string {
  return [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    `metadata: {name: ${name}}`,
    'clusters: [{name: dc1, context: dc1}]',
    'authorities:',
    '  - {name: bench-ca, commonName: bench-ca, key: ECDSA-P256, validity: 87600h}',
    'certificates:',
    `  - {name: web, issuer: bench-ca, usage: server, commonName: web, dnsNames: [web.${ns}.svc], validity: 2160h, renewBefore: 1h,`,
    `     secret: {name: web-tls, namespace: ${ns}}, consumers: [{selector: rekey-bench=restart, namespace: ${ns}}],`,
    '     restart: {policy: together, within: 30m}}',
    '',
  ].join('\n');
}

/** `rekey` of checkout `root` as its own process; asynchronous, so the watches keep stamping events while it runs. Seconds to exit. */
async function rekey(c: Clients, root: string, state: string, args: string[]): Promise<number> {
  const start = now();
  const child = spawn(process.execPath, [join(root, 'bin/rekey.js'), ...args, '--state', state, '--kubeconfig', c.kubeconfig], {
    cwd: root,
    env: { ...process.env, REKEY_VAULT_KEY: undefined },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`rekey ${args[0] ?? ''} exited ${String(code)}`);
  return (now() - start) / 1000;
}

async function benchNode(c: Clients): Promise<void> {
  const exists = await c.core.readNode({ name: NODE }).then(
    () => true,
    () => false,
  );
  if (exists) return;
  await c.core.createNode({
    body: {
      metadata: { name: NODE, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok', 'kubernetes.io/hostname': NODE } },
      spec: { taints: [TAINT] },
      status: { allocatable: { cpu: '1000', memory: '1Ti', pods: '5000' }, capacity: { cpu: '1000', memory: '1Ti', pods: '5000' } },
    },
  });
}

async function consumers(c: Clients, ns: string, n: number): Promise<void> {
  await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    16,
    (i) =>
      c.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: `c-${i}`, labels: { 'rekey-bench': 'restart' } },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: `c-${i}` } },
            template: {
              metadata: { labels: { app: `c-${i}` } },
              spec: {
                nodeSelector: { 'kubernetes.io/hostname': NODE },
                tolerations: [{ ...TAINT, operator: 'Equal' }],
                containers: [{ name: 'app', image: 'registry.invalid/app:1', volumeMounts: [{ name: 'tls', mountPath: '/tls' }] }],
                volumes: [{ name: 'tls', secret: { secretName: 'web-tls' } }],
              },
            },
          },
        },
      }),
  );
}

const rolledOut = (d: V1Deployment): boolean => {
  const s = d.status;
  const want = d.spec?.replicas ?? 1;
  return (
    (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s?.updatedReplicas ?? 0) >= want &&
    (s?.availableReplicas ?? 0) >= want &&
    (s?.replicas ?? 0) === want
  );
};

async function untilRolledOut(c: Clients, ns: string, n: number, limitMs: number): Promise<void> {
  const start = now();
  for (;;) {
    const list = await c.apps.listNamespacedDeployment({ namespace: ns });
    if (list.items.filter(rolledOut).length >= n) return;
    if (now() - start > limitMs) throw new Error(`${ns}: consumers not rolled out within ${limitMs / 1000} s`);
    await sleep(1000);
  }
}

interface Timeline {
  secretChanged?: number;
  readonly started: Map<string, number>;
  readonly finished: Map<string, number>;
}

/** Watches the Secret and the Deployments of `ns`, stamping each change with the instant this process received it. */
async function watchNamespace(c: Clients, ns: string, oldVersion: string | undefined): Promise<{ timeline: Timeline; stop: () => void }> {
  const timeline: Timeline = { started: new Map(), finished: new Map() };
  const watch = new Watch(c.kc);
  const aborts: AbortController[] = [];
  const onSecret = (_type: string, s: V1Secret) => {
    const v = s.metadata?.annotations?.['rekey/version'];
    if (s.metadata?.name === 'web-tls' && v && v !== oldVersion) timeline.secretChanged ??= now();
  };
  const onDeployment = (_type: string, d: V1Deployment) => {
    const name = d.metadata?.name ?? '';
    if (!d.spec?.template.metadata?.annotations?.[RESTARTED_AT]) return;
    if (!timeline.started.has(name)) timeline.started.set(name, now());
    if (rolledOut(d) && !timeline.finished.has(name)) timeline.finished.set(name, now());
  };
  aborts.push(await watch.watch(`/api/v1/namespaces/${ns}/secrets`, {}, onSecret as (t: string, o: unknown) => void, () => undefined));
  aborts.push(
    await watch.watch(`/apis/apps/v1/namespaces/${ns}/deployments`, {}, onDeployment as (t: string, o: unknown) => void, () => undefined),
  );
  return { timeline, stop: () => aborts.forEach((a) => a.abort()) };
}

/** One way of rotating the leaf: it issues it (its Secret before any consumer exists), then rotates it on demand. */
interface RotationPath {
  readonly label: string;
  /** Issues the leaf into namespace `ns`; its Secret exists when this resolves. */
  issue(ns: string): Promise<void>;
  /** Rotates the leaf; resolves when the rotation is over (its restarts waited for). Seconds. */
  rotate(): Promise<number>;
  close(): Promise<void>;
}

/** `rekey apply` then `rekey rotate`, each its own process, from checkout `root`. */
function cliPath(c: Clients, root: string, label: string): RotationPath {
  const work = mkdtempSync(join(tmpdir(), 'rekey-restart-bench-'));
  const state = join(work, 'state');
  const file = join(work, 'inventory.yaml');
  return {
    label,
    issue: async (ns) => {
      writeFileSync(file, inventory(ns));
      await rekey(c, root, state, ['apply', '-f', file]);
    },
    rotate: () => rekey(c, root, state, ['rotate', 'web', '-f', file, '--reason', 'restart latency bench']),
    close: async () => rmSync(work, { recursive: true, force: true }),
  };
}

/** The Lambda handlers on moto against dc1: the schedule issues the leaf, a rotation started as the API does. */
function lambdaPath(c: Clients): RotationPath {
  let runner: Awaited<ReturnType<typeof startAwsLambdaRunner>> | undefined;
  const wait = async (id: string) => {
    const done = await runner!.waitForRotation(id, { timeoutMs: ROTATION_LIMIT_MS });
    if (done.status !== RotationStatus.Completed) throw new Error(`rotation ${id} ${done.status}: ${done.error ?? ''}`);
  };
  return {
    label: 'Lambda (moto + dc1)',
    issue: async (ns) => {
      runner = await startAwsLambdaRunner({
        name: 'restart-bench',
        require: ['kube'],
        kubeconfig: c.kubeconfig,
        inventory: (prefix) => loadInventory(inventory(ns, prefix), 'restart-bench.yaml'),
      });
      const first = (await runner.schedule()).rotations[0];
      if (!first) throw new Error('the schedule started no rotation to issue the leaf');
      await wait(first);
    },
    rotate: async () => {
      const start = now();
      await wait((await runner!.startRotation('web', 'restart latency bench')).id);
      return (now() - start) / 1000;
    },
    close: async () => {
      await runner?.stop();
      if (runner?.runner.errors.length)
        console.log(`  handler errors: ${runner.runner.errors.map((e) => `${e.fn}: ${e.error}`).join('; ')}`);
    },
  };
}

export interface RestartRun {
  readonly path: string;
  readonly consumers: number;
  readonly rotateSeconds: number;
  /** From the Secret's change: the first and the last consumer's rollout started, the last one finished (seconds). */
  readonly firstStarted: number;
  readonly allStarted: number;
  readonly allFinished: number;
  readonly restarted: number;
  readonly load: [number, number];
}

async function runOnce(c: Clients, path: RotationPath, n: number, ns: string): Promise<RestartRun> {
  try {
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
    await path.issue(ns);
    await consumers(c, ns, n);
    await untilRolledOut(c, ns, n, Math.max(120_000, n * 600));
    const before = (await c.core.readNamespacedSecret({ name: 'web-tls', namespace: ns })).metadata?.annotations?.['rekey/version'];
    const { timeline, stop } = await watchNamespace(c, ns, before);
    const load0 = load1();
    const start = now();
    let rotateSeconds: number;
    try {
      rotateSeconds = await path.rotate();
      // The rotation waits for the rollouts itself; the watches may still be delivering the last events.
      for (const t0 = now(); timeline.finished.size < n && now() - t0 < 120_000;) await sleep(200);
    } finally {
      stop();
    }
    const changed = timeline.secretChanged ?? start;
    const started = [...timeline.started.values()];
    const finished = [...timeline.finished.values()];
    const s = (t: number) => Number(((t - changed) / 1000).toFixed(3));
    return {
      path: path.label,
      consumers: n,
      rotateSeconds: Number(rotateSeconds.toFixed(2)),
      firstStarted: started.length ? s(Math.min(...started)) : NaN,
      allStarted: started.length === n ? s(Math.max(...started)) : NaN,
      allFinished: finished.length === n ? s(Math.max(...finished)) : NaN,
      restarted: started.length,
      load: [load0, load1()],
    };
  } finally {
    await path.close().catch(() => undefined);
    await c.core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
}

/** The figures of a run, next to a reference run of the same size (seconds: a ratio > 1 means faster than it). */
function figuresOf(r: RestartRun, reference: RestartRun | undefined): Figure[] {
  const what = (end: string) => `restart latency, ${r.consumers} consumer Deployment(s), ${r.path}: Secret changed -> ${end}`;
  return (['allStarted', 'allFinished'] as const).map((key) => {
    const value = r[key];
    const ref = reference?.[key];
    return {
      what: what(key === 'allStarted' ? 'all rollouts started' : 'all rollouts finished'),
      value,
      unit: 's',
      runs: [value],
      ...(reference && ref !== undefined && { reference: { what: reference.path, value: ref }, ratio: ref / value }),
      load: r.load,
    };
  });
}

export interface RestartLatencyOptions {
  readonly sizes?: readonly number[];
  readonly paths?: readonly ('cli' | 'lambda')[];
  /** Another checkout whose CLI runs right before this one's, on the same sizes (the `before` of a change). */
  readonly before?: string;
}

export async function restartLatencyBench(options: RestartLatencyOptions = {}): Promise<Figure[]> {
  const sizes = options.sizes ?? [1, 100, 1000];
  const paths = options.paths ?? ['cli', 'lambda'];
  const c = clients();
  const tag = randomBytes(2).toString('hex');
  const runs: RestartRun[] = [];
  const failures: string[] = [];
  const figures: Figure[] = [];
  const makers: { key: string; make: () => RotationPath }[] = [
    ...(options.before ? [{ key: 'b', make: () => cliPath(c, options.before!, `CLI before (${options.before!})`) }] : []),
    ...(paths.includes('cli') ? [{ key: 'c', make: () => cliPath(c, REPO, 'CLI') }] : []),
    ...(paths.includes('lambda') ? [{ key: 'l', make: () => lambdaPath(c) }] : []),
  ];
  try {
    await benchNode(c);
    for (const n of sizes) {
      const ofSize: RestartRun[] = [];
      for (const m of makers) {
        const path = m.make();
        try {
          const r = await runOnce(c, path, n, `rl-${tag}-${m.key}-${n}`);
          runs.push(r);
          ofSize.push(r);
          console.log(
            `${String(n).padStart(5)} consumers, ${r.path}: rotation ${r.rotateSeconds} s; from the Secret's change: first rollout started ${r.firstStarted} s, all started ${r.allStarted} s, all finished ${r.allFinished} s (${r.restarted} restarted; load ${r.load.join('-')})`,
          );
        } catch (e) {
          failures.push(`${n} consumers, ${path.label}: ${(e as Error).message}`);
          console.log(`${n} consumers, ${path.label}: did not complete: ${(e as Error).message}`);
        }
      }
      // After-change CLI against the CLI before it; Lambda against the CLI of the same code.
      const before = ofSize.find((r) => r.path.startsWith('CLI before'));
      const cli = ofSize.find((r) => r.path === 'CLI');
      for (const r of ofSize) figures.push(...figuresOf(r, r === cli ? before : r === before ? undefined : cli));
    }
  } finally {
    await c.core.deleteNode({ name: NODE }).catch(() => undefined);
  }
  mkdirSync(join(REPO, 'bench-results'), { recursive: true });
  writeFileSync(
    join(REPO, 'bench-results/restart-latency.json'),
    JSON.stringify(
      { at: new Date().toISOString(), machine: machine(), runs, failures, notMeasured: [KUBELET_NOT_MEASURED], figures },
      null,
      2,
    ) + '\n',
  );
  return figures;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const sizes = arg('--consumers')?.split(',').map(Number);
  const paths = arg('--paths')?.split(',') as ('cli' | 'lambda')[] | undefined;
  const before = arg('--before');
  await restartLatencyBench({ ...(sizes && { sizes }), ...(paths && { paths }), ...(before && { before }) });
  console.log('wrote bench-results/restart-latency.json');
  process.exit(0); // the AWS SDK's and kube client's keep-alive sockets would hold the process open
}
