import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delayHandler } from '../../functions/delay.js';
import { LocalRunner } from '../../functions/local/runner.js';
import { coldStart, depsFor, lazyRuntime, type LambdaRuntime } from '../../functions/lib/runtime.js';
import { restartHandler } from '../../functions/restart.js';
import { scheduleHandler } from '../../functions/schedule.js';
import { stepHandler } from '../../functions/step.js';
import { SecretsManagerStore } from '../../shared/adapters/aws/secrets-manager-store.js';
import { SqsPoller } from '../../shared/adapters/aws/sqs-poller.js';
import { SqsStepQueue } from '../../shared/adapters/aws/sqs-step-queue.js';
import { startRotation } from '../../shared/app/rotation/start.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { Annotation } from '../../shared/domain/sync/desired.js';
import type { Inventory } from '../../shared/domain/inventory/model.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../shared/domain/rotation/record.js';
import { silentLogger } from '../../shared/ports/logger.js';
import { Stage } from '../../shared/ports/secret-store.js';
import { freshResources, useMoto } from '../integration/aws/moto.js';
import { Admin, deploymentObject, eventually, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';

/**
 * The AWS runtime end to end: a leaf rotation from its first SQS message to the restarted Deployment in the real dc1
 * cluster. Everything AWS is moto (Secrets Manager, SQS FIFO + delay queue, EventBridge bus and restart rule,
 * DynamoDB); the functions are the Lambda handlers, started from the environment like a cold start (the kubeconfig
 * comes from Secrets Manager, as in Lambda); LocalRunner plays Lambda's event sources.
 */

let admin: Admin;
let namespace: string;
let inventory: Inventory;
let rt: LambdaRuntime;
let runner: LocalRunner;

beforeAll(async () => {
  await useMoto(['moto', 'kube']);
  const kubeconfig = process.env.KUBECONFIG!.split(':')[0]!;
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.setCurrentContext('dc1');
  admin = new Admin('dc1', kc);
  namespace = uniqueName('e2e-aws');
  await admin.createNamespace(namespace);
  await admin.apply(
    deploymentObject(namespace, 'web', { 'app.kubernetes.io/part-of': 'shop' }, podSpec({ volume: 'web-tls' }), { replicas: 2 }),
  );
  await rolledOut(admin, namespace, 'web');

  const r = await freshResources('e2e', { stepVisibilitySeconds: 5 });
  inventory = loadInventory(
    `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${r.prefix}}
defaults: {key: ECDSA-P256, validity: 2160h, renewBefore: 720h}
clusters: [{name: dc1, context: dc1}]
authorities:
  - {name: root-ca, commonName: e2e root, validity: 87600h}
certificates:
  - name: web
    issuer: root-ca
    usage: server
    commonName: web
    dnsNames: [web, web.${namespace}.svc]
    secret: {name: web-tls, namespace: ${namespace}}
    consumers: [Deployment/web]
    restart: {policy: together, within: 5m}
`,
    'e2e.yaml',
  );
  // As in Lambda: the cluster credentials are a kubeconfig kept in Secrets Manager at rekey/<inventory>/kubeconfig.
  const store = new SecretsManagerStore();
  const kubeSecret = `rekey/${inventory.name}/kubeconfig`;
  await store.putPending(kubeSecret, `kubeconfig-${r.prefix}-00000000000000000000`, readFileSync(kubeconfig, 'utf8'));
  await store.promote(kubeSecret, `kubeconfig-${r.prefix}-00000000000000000000`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REKEY_STEP_QUEUE_URL: r.stepQueueUrl,
    REKEY_DELAY_QUEUE_URL: r.delayQueueUrl,
    REKEY_DLQ_URL: r.deadLetterQueueUrl,
    REKEY_EVENTS_DLQ_URL: r.eventsDeadLetterQueueUrl,
    REKEY_EVENT_BUS: r.eventBusName,
    REKEY_JOURNAL_TABLE: r.journalTable,
    LOG_LEVEL: 'warn',
  };
  delete env.KUBECONFIG; // Lambda has none: the stored kubeconfig is used
  const runtime = lazyRuntime(() => coldStart({ env, inventory }));
  rt = runtime();
  runner = new LocalRunner({
    poller: new SqsPoller(),
    stepQueueUrl: r.stepQueueUrl,
    delayQueueUrl: r.delayQueueUrl,
    restartEventsQueueUrl: r.restartEventsQueueUrl,
    step: stepHandler(runtime),
    delay: delayHandler(() => ({
      queue: new SqsStepQueue({ queueUrl: r.stepQueueUrl, delayQueueUrl: r.delayQueueUrl }),
      log: silentLogger,
    })),
    restart: restartHandler(runtime),
    log: silentLogger,
  }).start();
}, 300_000);

afterAll(async () => {
  await runner?.stop();
  await admin?.deleteNamespace(namespace);
});

const finished = (id: string) =>
  eventually(
    `rotation ${id} to finish`,
    async () => {
      const r = await rt.aws.journal.get(id);
      return r && r.status !== RotationStatus.Running ? r : undefined;
    },
    180_000,
  );

async function secretVersion(): Promise<string | undefined> {
  const s = await admin.core.readNamespacedSecret({ name: 'web-tls', namespace }).catch(() => undefined);
  return s?.metadata?.annotations?.[Annotation.Version];
}

describe('AWS runtime, end to end on moto and dc1', () => {
  let first: RotationRecord;

  it('the schedule issues the certificate and its rotation writes the Secret into dc1 and restarts the Deployment', async () => {
    // Act
    const summary = await scheduleHandler(() => rt)({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
    first = await finished(summary.rotations[0]!);

    // Assess
    expect(first.status).toBe(RotationStatus.Completed);
    expect(first.restarts.dc1?.state).toBe('completed');
    expect(await secretVersion()).toBe(first.id);
    const d = await rolledOut(admin, namespace, 'web');
    expect(d.spec?.template.metadata?.annotations?.['rekey/restartedAt']).toBeDefined();
    expect(runner.errors).toEqual([]);
  });

  it('a forced rotation runs from its first SQS message to the restarted Deployment', async () => {
    // Prepare
    const before = await admin.deployment(namespace, 'web');
    const restartedBefore = before.spec?.template.metadata?.annotations?.['rekey/restartedAt'];

    // Act
    const record = await startRotation(depsFor(rt, await rt.clusters()), inventory, 'web', { trigger: Trigger.Manual, reason: 'e2e' });
    const done = await finished(record.id);

    // Assess: the store, the cluster Secret, the Deployment, the journal.
    expect(done.status).toBe(RotationStatus.Completed);
    expect(done.history.map((h) => h.step)).toEqual(['issue', 'test', 'promote', 'sync', 'restart', 'verify']);
    const name = `rekey/${inventory.name}/web`;
    expect((await rt.aws.store.getVersion(name, { stage: Stage.Current }))?.versionId).toBe(record.id);
    expect((await rt.aws.store.getVersion(name, { stage: Stage.Previous }))?.versionId).toBe(first.id);
    expect(await secretVersion()).toBe(record.id);
    const d = await rolledOut(admin, namespace, 'web');
    const restarted = d.spec?.template.metadata?.annotations?.['rekey/restartedAt'];
    expect(restarted).toBeDefined();
    expect(restarted).not.toBe(restartedBefore);
    expect(d.metadata?.generation ?? 0).toBeGreaterThan(before.metadata?.generation ?? 0);
    expect(done.restarts.dc1).toMatchObject({ state: 'completed', workloads: [`Deployment/${namespace}/web`] });
    expect(runner.errors).toEqual([]);
  });
});
