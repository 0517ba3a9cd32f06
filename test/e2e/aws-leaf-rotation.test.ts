import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { webInventoryYaml } from '../fixtures/aws-inventories.js';
import { Annotation } from '../../shared/domain/sync/desired.js';
import { RotationStatus, type RotationRecord } from '../../shared/domain/rotation/record.js';
import { Stage } from '../../shared/ports/secret-store.js';
import { startAwsLambdaRunner, type AwsLambdaRunner } from '../fixtures/aws-lambda-runner.js';
import { loadInfraEnv } from '../infra/env.js';
import { Admin, deploymentObject, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';

/**
 * The AWS runtime end to end: a leaf rotation from its first SQS message to the restarted Deployment in the real dc1
 * cluster. Everything AWS is moto (Secrets Manager, SQS FIFO + delay queue, EventBridge bus and restart rule,
 * DynamoDB); the functions are the Lambda handlers, started from the environment like a cold start (the kubeconfig
 * comes from Secrets Manager, as in Lambda); LocalRunner plays Lambda's event sources.
 */

let admin: Admin;
let namespace: string;
let aws: AwsLambdaRunner;

beforeAll(async () => {
  const kubeconfig = loadInfraEnv({ require: ['kube', 'moto'] }).kube.kubeconfig;
  admin = await Admin.of('dc1');
  namespace = uniqueName('e2e-aws');
  await admin.createNamespace(namespace);
  await admin.apply(
    deploymentObject(namespace, 'web', { 'app.kubernetes.io/part-of': 'shop' }, podSpec({ volume: 'web-tls' }), { replicas: 2 }),
  );
  await rolledOut(admin, namespace, 'web');

  aws = await startAwsLambdaRunner({
    name: 'e2e',
    require: ['kube'],
    // As in Lambda: the cluster credentials are a kubeconfig kept in Secrets Manager at rekey/<inventory>/kubeconfig.
    kubeconfig,
    inventory: (prefix) => loadInventory(webInventoryYaml({ name: prefix, namespace, rootCommonName: 'e2e root' }), 'e2e.yaml'),
  });
}, 300_000);

afterAll(async () => {
  await aws?.stop();
  await admin?.deleteNamespace(namespace);
});

async function secretVersion(): Promise<string | undefined> {
  const s = await admin.core.readNamespacedSecret({ name: 'web-tls', namespace }).catch(() => undefined);
  return s?.metadata?.annotations?.[Annotation.Version];
}

describe('AWS runtime, end to end on moto and dc1', () => {
  let first: RotationRecord;

  it('the schedule issues the certificate and its rotation writes the Secret into dc1 and restarts the Deployment', async () => {
    // Act
    const summary = await aws.schedule();
    first = await aws.waitForRotation(summary.rotations[0]!);

    // Assess
    expect(first.status).toBe(RotationStatus.Completed);
    expect(first.restarts.dc1?.state).toBe('completed');
    expect(await secretVersion()).toBe(first.id);
    const d = await rolledOut(admin, namespace, 'web');
    expect(d.spec?.template.metadata?.annotations?.['rekey/restartedAt']).toBeDefined();
    expect(aws.runner.errors).toEqual([]);
  });

  it('a forced rotation runs from its first SQS message to the restarted Deployment', async () => {
    // Prepare
    const before = await admin.deployment(namespace, 'web');
    const restartedBefore = before.spec?.template.metadata?.annotations?.['rekey/restartedAt'];

    // Act
    const record = await aws.startRotation('web', 'e2e');
    const done = await aws.waitForRotation(record.id);

    // Assess: the store, the cluster Secret, the Deployment, the journal.
    expect(done.status).toBe(RotationStatus.Completed);
    expect(done.history.map((h) => h.step)).toEqual(['issue', 'test', 'promote', 'sync', 'restart', 'verify']);
    const name = `rekey/${aws.runtime().inventory.name}/web`;
    expect((await aws.aws.store.getVersion(name, { stage: Stage.Current }))?.versionId).toBe(record.id);
    expect((await aws.aws.store.getVersion(name, { stage: Stage.Previous }))?.versionId).toBe(first.id);
    expect(await secretVersion()).toBe(record.id);
    const d = await rolledOut(admin, namespace, 'web');
    const restarted = d.spec?.template.metadata?.annotations?.['rekey/restartedAt'];
    expect(restarted).toBeDefined();
    expect(restarted).not.toBe(restartedBefore);
    expect(d.metadata?.generation ?? 0).toBeGreaterThan(before.metadata?.generation ?? 0);
    expect(done.restarts.dc1).toMatchObject({ state: 'completed', workloads: [`Deployment/${namespace}/web`] });
    expect(aws.runner.errors).toEqual([]);
  });
});
