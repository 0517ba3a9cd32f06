/**
 * Authority rotation of one CA with N leaves (default 100) in two clusters, on the test services (figures, not
 * assertions; `npx tsx test/bench/ca-rotation-live.ts [--leaves N] [--skip-kube]`, after
 * `eval "$(bash test/infra/env.sh)"`). Writes bench-results/ca-rotation-live.json in the bench table format.
 *  1. AWS calls: Secrets Manager, DynamoDB journal and EventBridge on moto, Secrets as manifests for dc1 and dc2,
 *     steps run in this process (on Lambda each step run adds one SQS SendMessage: the runs are reported).
 *  2. Rollout waits: the same rotation on dc1 and dc2 (kwok runs the pods), each leaf's Secret mounted by a
 *     Deployment of its own in both clusters and the CA's by a gateway: time until every consumer's rollout of the
 *     last restart step finished, next to the time outside the three restart steps (which wait for the rollouts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeLocal } from '../../cli/compose.js';
import { countAwsCalls } from '../../shared/adapters/aws/call-counter.js';
import { createAwsAdapters } from '../../shared/adapters/aws/index.js';
import { provisionAwsResources } from '../../shared/adapters/aws/provision.js';
import { InProcessQueue } from '../../shared/adapters/local/in-process-queue.js';
import { ManifestWriter } from '../../shared/adapters/local/manifest-writer.js';
import { apply } from '../../shared/app/apply.js';
import type { Deps } from '../../shared/app/deps.js';
import { driveRotations, startRotation, type DrainableQueue } from '../../shared/app/rotation/index.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../shared/domain/rotation/record.js';
import type { Cluster } from '../../shared/ports/cluster.js';
import { silentLogger } from '../../shared/ports/logger.js';
import type { StepMessage } from '../../shared/ports/step-queue.js';
import { loadInfraEnv } from '../infra/env.js';
import { Admin, deploymentObject, eventually, podSpec, uniqueName } from '../integration/kube/support.js';
import { load1, machine, type Figure } from './figures.js';
import { issuerRegistry } from '../../shared/adapters/issuers/registry.js';

const args = process.argv.slice(2);
const LEAVES = Number(args[args.indexOf('--leaves') + 1] ?? 100) || 100;
const CLUSTERS = ['dc1', 'dc2'] as const;

function inventoryText(name: string, namespace: string, leaves: number): string {
  const lines = [
    'apiVersion: rekey/v1',
    'kind: Inventory',
    `metadata: {name: ${name}}`,
    'defaults: {key: ECDSA-P256, validity: 2160h, renewBefore: 720h}',
    'clusters:',
    ...CLUSTERS.map((c) => `  - {name: ${c}, context: ${c}}`),
    'authorities:',
    `  - {name: ca, commonName: bench ca, validity: 87600h, secret: {name: bench-ca, namespace: ${namespace}}, consumers: [Deployment/gateway]}`,
    'certificates:',
  ];
  for (let i = 0; i < leaves; i++)
    lines.push(
      `  - {name: svc-${i}, issuer: ca, usage: server, commonName: svc-${i}, dnsNames: [svc-${i}], secret: {name: svc-${i}-tls, namespace: ${namespace}}, consumers: [Deployment/svc-${i}], restart: {policy: together, within: 15m}}`,
    );
  return lines.join('\n') + '\n';
}

/** Step runs, time inside steps, and wall time of a drive. */
function timedQueue(inner: DrainableQueue): DrainableQueue & { workSeconds: number; runs: number; bySteps: Map<string, number> } {
  const q = {
    workSeconds: 0,
    runs: 0,
    bySteps: new Map<string, number>(),
    enqueue: (m: StepMessage, o?: { delaySeconds?: number }) => inner.enqueue(m, o),
    drain: (handle: (m: StepMessage) => Promise<void>, signal?: AbortSignal) =>
      inner.drain(async (m) => {
        const t = process.hrtime.bigint();
        try {
          await handle(m);
        } finally {
          const seconds = Number(process.hrtime.bigint() - t) / 1e9;
          q.workSeconds += seconds;
          q.bySteps.set(m.step, (q.bySteps.get(m.step) ?? 0) + seconds);
          q.runs++;
        }
      }, signal),
  };
  return q;
}

async function awsCalls(leaves: number): Promise<{ total: number; byOperation: Record<string, number>; runs: number; seconds: number }> {
  const prefix = `ca-bench-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'rekey-ca-calls-'));
  try {
    const r = await provisionAwsResources({ prefix });
    const inventory = loadInventory(inventoryText(prefix, 'shop', leaves), 'ca-bench.yaml');
    const aws = createAwsAdapters({
      stepQueueUrl: r.stepQueueUrl,
      delayQueueUrl: r.delayQueueUrl,
      deadLetterQueueUrl: r.deadLetterQueueUrl,
      eventBusName: r.eventBusName,
      journalTable: r.journalTable,
    });
    const counts = new Map<string, number>();
    countAwsCalls(aws, counts);
    let fakeNow = Date.now();
    const queue = timedQueue(
      new InProcessQueue(
        () => fakeNow,
        (ms) => {
          fakeNow += ms;
          return Promise.resolve();
        },
      ),
    );
    const clusters = new Map<string, Cluster>(CLUSTERS.map((c) => [c, { name: c, secrets: new ManifestWriter(join(dir, c)) }]));
    const deps: Deps = {
      store: aws.store,
      issuers: issuerRegistry({ store: aws.store, inventory: inventory.name }),
      journal: aws.journal,
      queue,
      events: aws.events,
      clock: { now: () => new Date() },
      log: silentLogger,
      clusters,
    };
    await apply(deps, inventory);
    counts.clear();
    const t = process.hrtime.bigint();
    const record = await startRotation(deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'bench' });
    await driveRotations(deps, inventory, queue);
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const final = await deps.journal.get(record.id);
    if (final?.status !== RotationStatus.Completed) throw new Error(`moto rotation ended ${final?.status}: ${final?.error}`);
    const byOperation = Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
    return { total: [...counts.values()].reduce((a, b) => a + b, 0), byOperation, runs: queue.runs, seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rolloutWaits(
  leaves: number,
): Promise<{ totalSeconds: number; workSeconds: number; runs: number; steps: Record<string, number> }> {
  const ns = uniqueName('rekey-ca-bench');
  const admins = await Promise.all(CLUSTERS.map((c) => Admin.of(c)));
  const dir = mkdtempSync(join(tmpdir(), 'rekey-ca-live-'));
  try {
    for (const admin of admins) {
      await admin.createNamespace(ns);
      const names = ['gateway', ...Array.from({ length: leaves }, (_, i) => `svc-${i}`)];
      const secretOf = (n: string) => (n === 'gateway' ? 'bench-ca' : `${n}-tls`);
      for (const n of names) await admin.apply(deploymentObject(ns, n, { bench: 'ca' }, podSpec({ volume: secretOf(n) })));
      await eventually(
        `${admin.context}: ${names.length} Deployments available`,
        async () => {
          const list = (await admin.apps.listNamespacedDeployment({ namespace: ns })).items;
          return list.filter((d) => d.status?.availableReplicas === 1).length === names.length ? true : undefined;
        },
        600_000,
      );
    }
    const inventory = loadInventory(inventoryText('ca-bench-live', ns, leaves), 'ca-bench-live.yaml');
    const rt = await composeLocal(inventory, {
      stateDir: join(dir, 'state'),
      target: { kind: 'kube', kubeconfig: loadInfraEnv({ require: ['kube'] }).kube.kubeconfig },
      log: silentLogger,
    });
    try {
      // The shared apiservers drop a connection now and then under load: apply is idempotent, so try it again.
      for (let attempt = 1; ; attempt++) {
        try {
          await apply(rt.deps, inventory);
          break;
        } catch (e) {
          if (attempt >= 3) throw e;
        }
      }
      const queue = timedQueue(rt.queue);
      const t = process.hrtime.bigint();
      const record = await startRotation(rt.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'bench' });
      await driveRotations(rt.deps, inventory, queue);
      const totalSeconds = Number(process.hrtime.bigint() - t) / 1e9;
      const final = await rt.deps.journal.get(record.id);
      if (final?.status !== RotationStatus.Completed) throw new Error(`kwok rotation ended ${final?.status}: ${final?.error}`);
      // The CLI's restart steps wait for the rollouts inside the step: the time outside them excludes the waits.
      const restartSeconds = [...queue.bySteps].filter(([step]) => step.startsWith('restart')).reduce((a, [, v]) => a + v, 0);
      return { totalSeconds, workSeconds: totalSeconds - restartSeconds, runs: queue.runs, steps: Object.fromEntries(queue.bySteps) };
    } finally {
      await rt.close();
    }
  } finally {
    for (const admin of admins) await admin.deleteNamespace(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

const figures: Figure[] = [];
const what = `authority rotation, 1 CA + ${LEAVES} leaves, dc1 + dc2`;
let loadBefore = load1();
// --skip-aws: keep the AWS call figures of the last run (bench-results/ca-rotation-live.json) and measure the rest.
const previous = args.includes('--skip-aws')
  ? (JSON.parse(readFileSync('bench-results/ca-rotation-live.json', 'utf8')) as {
      calls: Awaited<ReturnType<typeof awsCalls>>;
      leaves: number;
    })
  : undefined;
if (previous && previous.leaves !== LEAVES) throw new Error(`the last AWS figures are for ${previous.leaves} leaves, not ${LEAVES}`);
const calls = previous?.calls ?? (await awsCalls(LEAVES));
figures.push({
  what: `${what}: AWS calls (moto, steps in process)`,
  value: calls.total,
  unit: 'calls',
  runs: [calls.total],
  load: [loadBefore, load1()],
});
figures.push({
  what: `${what}: AWS calls per child`,
  value: calls.total / LEAVES,
  unit: 'calls',
  runs: [calls.total / LEAVES],
  load: [loadBefore, load1()],
});
console.log(
  `${what}: ${calls.total} AWS calls (${(calls.total / LEAVES).toFixed(1)} per child), ${calls.runs} step runs, ${calls.seconds.toFixed(1)} s on moto`,
);
for (const [k, v] of Object.entries(calls.byOperation)) console.log(`  ${k.padEnd(44)} ${String(v)}`);
let live: Awaited<ReturnType<typeof rolloutWaits>> | undefined;
if (!args.includes('--skip-kube')) {
  loadBefore = load1();
  live = await rolloutWaits(LEAVES);
  const load: [number, number] = [loadBefore, load1()];
  figures.push({
    what: `${what} (kwok): until every rollout finished`,
    value: live.totalSeconds,
    unit: 's',
    runs: [live.totalSeconds],
    load,
  });
  figures.push({
    what: `${what} (kwok): rollout waits excluded`,
    value: live.workSeconds,
    unit: 's',
    runs: [live.workSeconds],
    reference: { what: 'with rollout waits', value: live.totalSeconds },
    ratio: live.workSeconds / live.totalSeconds,
    load,
  });
  console.log(
    `${what} on kwok: ${live.totalSeconds.toFixed(1)} s until every consumer's rollout finished, ${live.workSeconds.toFixed(1)} s outside the three restart steps (${live.runs} step runs)`,
  );
}
mkdirSync('bench-results', { recursive: true });
writeFileSync(
  'bench-results/ca-rotation-live.json',
  JSON.stringify({ at: new Date().toISOString(), machine: machine(), leaves: LEAVES, calls, live, figures }, null, 2) + '\n',
);
console.log('wrote bench-results/ca-rotation-live.json');
