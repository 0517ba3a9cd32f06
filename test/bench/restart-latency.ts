/**
 * Issue 14, target 7: restart latency. From a Secret's change to its consumers' rollouts started and finished, for
 * 1, 100 and 1,000 consumer Deployments on dc1 (pods run by kwok on a tainted node of the bench's own), on the CLI
 * path: `rekey rotate <leaf>` as its own process, the leaf's consumers a label selector matching every Deployment of
 * the bench's namespace, restart policy `together`.
 *
 * Timed from watches on the Secret and the Deployments (the instant this process receives each event):
 *  - change: the Secret carries the new version (its `rekey/version` annotation);
 *  - started: a Deployment's pod template carries rekey's restart annotation (first and last of N);
 *  - finished: that Deployment has rolled out (observed generation, updated = available = replicas) (last of N);
 *  - the rotate process from start to exit (issue, test, promote, sync, restart, verify).
 *
 * The reference the issue asks for, the kubelet refreshing a mounted Secret in place (no restart), cannot be measured
 * here: kwok fakes pods and runs no kubelet, so no volume is ever projected. Kubernetes documents that delay as up
 * to the kubelet's sync period (1 minute by default) plus its cache's propagation delay; it is printed as that bound,
 * marked as not measured. The Lambda path (moto + dc1) is not part of this bench.
 *
 *   npx tsx test/bench/restart-latency.ts [--consumers 1,100,1000]     (needs `bash test/infra/up.sh`)
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
import { loadInfraEnv } from '../infra/env.js';
import { load1, machine, type Figure } from './figures.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** A kwok node of this bench's own (dc1's shared nodes hold 110 pods each): tainted, only the bench's pods land there. */
const NODE = 'dc1-rekey-restart-bench';
const TAINT = { key: 'rekey-restart-bench', value: 'consumers', effect: 'NoSchedule' } as const;
const RESTARTED_AT = 'rekey/restartedAt';
/** The kubelet's default sync period: the documented upper part of a mounted Secret's refresh delay. */
const KUBELET_SYNC_SECONDS = 60;

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

function inventory(ns: string, validity: string): string {
  return [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    'metadata: {name: restart-bench}',
    'clusters: [{name: dc1, context: dc1}]',
    'authorities:',
    '  - {name: bench-ca, commonName: bench-ca, key: ECDSA-P256, validity: 87600h}',
    'certificates:',
    `  - {name: web, issuer: bench-ca, usage: server, commonName: web, dnsNames: [web.${ns}.svc], validity: ${validity}, renewBefore: 1h,`,
    `     secret: {name: web-tls, namespace: ${ns}}, consumers: [{selector: rekey-bench=restart, namespace: ${ns}}],`,
    '     restart: {policy: together, within: 30m}}',
    '',
  ].join('\n');
}

/** `rekey` as its own process; asynchronous, so the watches keep stamping events while it runs. Seconds to exit. */
async function rekey(c: Clients, state: string, args: string[]): Promise<number> {
  const start = now();
  const child = spawn(process.execPath, [join(REPO, 'bin/rekey.js'), ...args, '--state', state, '--kubeconfig', c.kubeconfig], {
    cwd: REPO,
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

export interface RestartRun {
  readonly consumers: number;
  readonly rotateSeconds: number;
  /** From the Secret's change: the first and the last consumer's rollout started, the last one finished (seconds). */
  readonly firstStarted: number;
  readonly allStarted: number;
  readonly allFinished: number;
  readonly restarted: number;
  readonly load: [number, number];
}

async function runOnce(c: Clients, n: number, tag: string): Promise<RestartRun> {
  const ns = `rl-${tag}-${n}`;
  const work = mkdtempSync(join(tmpdir(), 'rekey-restart-bench-'));
  try {
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
    const state = join(work, 'state');
    const file = join(work, 'inventory.yaml');
    writeFileSync(file, inventory(ns, '2160h'));
    await rekey(c, state, ['apply', '-f', file]);
    await consumers(c, ns, n);
    await untilRolledOut(c, ns, n, Math.max(120_000, n * 600));
    const before = (await c.core.readNamespacedSecret({ name: 'web-tls', namespace: ns })).metadata?.annotations?.['rekey/version'];
    const { timeline, stop } = await watchNamespace(c, ns, before);
    const load0 = load1();
    const start = now();
    let rotateSeconds: number;
    try {
      rotateSeconds = await rekey(c, state, ['rotate', 'web', '-f', file, '--reason', 'restart latency bench']);
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
      consumers: n,
      rotateSeconds: Number(rotateSeconds.toFixed(2)),
      firstStarted: started.length ? s(Math.min(...started)) : NaN,
      allStarted: started.length === n ? s(Math.max(...started)) : NaN,
      allFinished: finished.length === n ? s(Math.max(...finished)) : NaN,
      restarted: started.length,
      load: [load0, load1()],
    };
  } finally {
    await c.core.deleteNamespace({ name: ns }).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

export async function restartLatencyBench(sizes: readonly number[] = [1, 100, 1000]): Promise<Figure[]> {
  const c = clients();
  const tag = randomBytes(2).toString('hex');
  const runs: RestartRun[] = [];
  const failures: string[] = [];
  try {
    await benchNode(c);
    for (const n of sizes) {
      try {
        const r = await runOnce(c, n, tag);
        runs.push(r);
        console.log(
          `${String(n).padStart(5)} consumers: rotate ${r.rotateSeconds} s; from the Secret's change: first rollout started ${r.firstStarted} s, all started ${r.allStarted} s, all finished ${r.allFinished} s (${r.restarted} restarted; load ${r.load.join('-')})`,
        );
      } catch (e) {
        failures.push(`${n} consumers: ${(e as Error).message}`);
        console.log(`${n} consumers: did not complete: ${(e as Error).message}`);
      }
    }
  } finally {
    await c.core.deleteNode({ name: NODE }).catch(() => undefined);
  }
  const reference = {
    what: `kubelet refresh of a mounted Secret (documented bound, not measured: kwok has no kubelet)`,
    value: KUBELET_SYNC_SECONDS,
  };
  const figures: Figure[] = runs.flatMap((r) => [
    {
      what: `restart latency, ${r.consumers} consumer Deployment(s), CLI: Secret changed -> all rollouts started`,
      value: r.allStarted,
      unit: 's',
      runs: [r.allStarted],
      reference,
      ratio: KUBELET_SYNC_SECONDS / r.allStarted,
      load: r.load,
    },
    {
      what: `restart latency, ${r.consumers} consumer Deployment(s), CLI: Secret changed -> all rollouts finished`,
      value: r.allFinished,
      unit: 's',
      runs: [r.allFinished],
      reference,
      ratio: KUBELET_SYNC_SECONDS / r.allFinished,
      load: r.load,
    },
  ]);
  mkdirSync(join(REPO, 'bench-results'), { recursive: true });
  writeFileSync(
    join(REPO, 'bench-results/restart-latency.json'),
    JSON.stringify({ at: new Date().toISOString(), machine: machine(), runs, failures, figures }, null, 2) + '\n',
  );
  return figures;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--consumers');
  const sizes = i >= 0 ? (process.argv[i + 1] ?? '').split(',').map(Number) : undefined;
  await restartLatencyBench(sizes);
  console.log('wrote bench-results/restart-latency.json');
}
