import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LambdaContext } from '../../functions/lib/lambda.js';
import { ensureApiSigningKey, mintApiToken } from '../../shared/app/api/signing-key.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { webInventoryYaml } from '../fixtures/aws-inventories.js';
import { RotationStatus, type RotationRecord } from '../../shared/domain/rotation/record.js';
import { Annotation } from '../../shared/domain/sync/desired.js';
import { Stage } from '../../shared/ports/secret-store.js';
import { startAwsLambdaRunner, type AwsLambdaRunner } from '../fixtures/aws-lambda-runner.js';
import { startLambdaContainer, type LambdaContainer } from '../fixtures/lambda-container.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { loadInfraEnv } from '../infra/env.js';
import { Admin, deploymentObject, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';
import { serverlessPackage } from '../unit/functions/sls-package.js';
import { unzipTo } from '../unit/functions/zip.js';

/**
 * The functions as deployed, on the Node Lambda runs (nodejs22.x; the machine's node, and every other test, is 20):
 * `serverless package` builds the zips, each function is unzipped and run in a Node 22 process of its own (Lambda's
 * init, then warm invocations one at a time) with only the environment serverless.yml gives it, against moto and
 * the real dc1. The AWS runner fixture provisions the stack in moto and plays the event sources (SQS, the restart
 * rule), handing each event to the Node 22 container of its function. A rotation goes from the schedule to the restarted Deployment, another from the API.
 */

const FUNCTIONS = ['schedule', 'step', 'delay', 'restart', 'api', 'alert'] as const;
type FunctionName = (typeof FUNCTIONS)[number];

let dir: string;
let node22: { path: string; version: string };
let admin: Admin;
let namespace: string;
let aws: AwsLambdaRunner;
const containers = {} as Record<FunctionName, LambdaContainer>;

const inventoryYaml = (name: string, namespace: string) =>
  webInventoryYaml({ name, namespace, rootCommonName: 'node22 root' }) +
  `alerts:
  - name: web-handshake-errors
    match: {cloudwatch: {alarmName: web-tls-handshake-errors}}
    action: rotate
    items: [web]
`;

/** Only what serverless.yml gives a function (and the AWS endpoint and credentials of moto), none of this process's. */
const functionEnv = (env: Readonly<NodeJS.ProcessEnv>): Record<string, string | undefined> =>
  Object.fromEntries(
    Object.entries(env).filter(
      ([k]) => k === 'PATH' || k.startsWith('AWS_') || (k.startsWith('REKEY_') && !/^REKEY_(TEST|INFRA)_/.test(k)),
    ),
  );

beforeAll(async () => {
  const infra = loadInfraEnv({ require: ['moto', 'kube', 'node22'] });
  node22 = { path: infra.node22Path, version: `v${infra.vars.NODE22_VERSION}` };
  dir = await makeTempDir('rekey-node22-');

  // The zips as a user deploys them, each unzipped where its container runs.
  await serverlessPackage(join(dir, 'package'), {});
  for (const fn of FUNCTIONS) unzipTo(join(dir, 'package', `${fn}.zip`), join(dir, fn));

  admin = await Admin.of('dc1');
  namespace = uniqueName('node22');
  await admin.createNamespace(namespace);
  await admin.apply(deploymentObject(namespace, 'web', { app: 'web' }, podSpec({ volume: 'web-tls' }), { replicas: 1 }));
  await rolledOut(admin, namespace, 'web');

  // Another inventory than the packaged example: the functions read and validate it on their first invocation.
  const inventoryFile = join(dir, 'inventory.yaml');
  aws = await startAwsLambdaRunner({
    name: 'node22',
    require: ['kube', 'node22'],
    kubeconfig: infra.kube.kubeconfig,
    inventory: (prefix) => {
      const yaml = inventoryYaml(prefix, namespace);
      writeFileSync(inventoryFile, yaml);
      return loadInventory(yaml, 'node22.yaml');
    },
    env: { REKEY_INVENTORY_FILE: inventoryFile, REKEY_STEP_MAX_ATTEMPTS: '5', LOG_LEVEL: 'info' },
    handlers: (env) => {
      for (const fn of FUNCTIONS)
        containers[fn] = startLambdaContainer({ node: node22.path, root: join(dir, fn), fn, env: functionEnv(env) });
      const invoke =
        (fn: FunctionName) =>
        <T>(event: unknown, context?: LambdaContext): Promise<T> =>
          containers[fn].invoke<T>(event, context);
      return { step: invoke('step'), delay: invoke('delay'), restart: invoke('restart'), schedule: invoke('schedule') };
    },
  });
}, 600_000);

afterAll(async () => {
  await aws?.stop();
  await Promise.all(Object.values(containers).map((c) => c.stop()));
  await admin?.deleteNamespace(namespace);
  if (dir) await removeTempDir(dir);
});

const inventoryName = () => aws.runtime().inventory.name;

const secretVersion = async (): Promise<string | undefined> =>
  (await admin.core.readNamespacedSecret({ name: 'web-tls', namespace })).metadata?.annotations?.[Annotation.Version];

const restartedAt = async (): Promise<string | undefined> =>
  (await admin.deployment(namespace, 'web')).spec?.template.metadata?.annotations?.['rekey/restartedAt'];

const apiEvent = (method: string, path: string, token: string, body?: unknown) => ({
  version: '2.0',
  rawPath: path,
  rawQueryString: '',
  headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
  ...(body !== undefined && { body: JSON.stringify(body) }),
  requestContext: { http: { method, sourceIp: '203.0.113.22' }, requestId: randomBytes(4).toString('hex') },
});

describe('the packaged functions on Node 22 (Lambda nodejs22.x), against moto and dc1', () => {
  let first: RotationRecord;

  it('every function starts on Node 22 from its zip alone', async () => {
    for (const fn of FUNCTIONS) expect(await containers[fn].nodeVersion, fn).toBe(node22.version);
  });

  it('the schedule issues the certificate; its rotation runs through step and restart on Node 22 to the restarted Deployment', async () => {
    // Act
    const summary = await aws.schedule();
    first = await aws.waitForRotation(summary.rotations[0]!);

    // Assess
    expect(first.status, first.error).toBe(RotationStatus.Completed);
    expect(first.history.map((h) => h.step)).toEqual(['issue', 'test', 'promote', 'sync', 'restart', 'verify']);
    expect(first.restarts.dc1).toMatchObject({ state: 'completed', workloads: [`Deployment/${namespace}/web`] });
    expect(await secretVersion()).toBe(first.id);
    expect(await restartedAt()).toBeDefined();
    expect((await aws.aws.store.getVersion(`rekey/${inventoryName()}/web`, { stage: Stage.Current }))?.versionId).toBe(first.id);
    expect(aws.runner.errors).toEqual([]);
  });

  it('a rotation asked of the API function runs to its end, and the API reports it', async () => {
    // Prepare
    const { material } = await ensureApiSigningKey(aws.aws.store, inventoryName());
    const token = await mintApiToken(material, {
      inventory: inventoryName(),
      scopes: ['rotations:write', 'items:read'],
      ttlSeconds: 600,
      subject: 'node22-test',
    });
    const before = await restartedAt();

    // Act
    const accepted = await containers.api.invoke<{ statusCode: number; body: string }>(
      apiEvent('POST', '/v1/rotations', token, { item: 'web', reason: 'node22' }),
    );
    const { id } = JSON.parse(accepted.body) as { id: string };
    const done = await aws.waitForRotation(id);
    const read = await containers.api.invoke<{ statusCode: number; body: string }>(apiEvent('GET', `/v1/rotations/${id}`, token));

    // Assess
    expect(accepted.statusCode).toBe(202);
    expect(done.status, done.error).toBe(RotationStatus.Completed);
    expect(read.statusCode).toBe(200);
    expect(JSON.parse(read.body)).toMatchObject({ id, item: 'web', status: 'completed' });
    expect(await secretVersion()).toBe(id);
    expect(await restartedAt()).not.toBe(before);
    expect((await aws.aws.store.getVersion(`rekey/${inventoryName()}/web`, { stage: Stage.Previous }))?.versionId).toBe(first.id);
    expect(aws.runner.errors).toEqual([]);
  });

  it('a CloudWatch alarm delivered through SNS to the alert function rotates the item it names', async () => {
    // Prepare
    const before = (await aws.aws.journal.listByItem(inventoryName(), 'web')).map((r) => r.id);
    const alarm = {
      AlarmName: 'web-tls-handshake-errors',
      NewStateValue: 'ALARM',
      OldStateValue: 'OK',
      NewStateReason: 'Threshold Crossed',
      StateChangeTime: new Date().toISOString(),
      AlarmArn: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-tls-handshake-errors',
      Trigger: { MetricName: 'ClientTLSNegotiationErrorCount', Namespace: 'AWS/ApplicationELB', Statistic: 'SUM', Threshold: 0 },
    };
    const sns = { MessageId: randomBytes(8).toString('hex'), Type: 'Notification', Subject: 'ALARM', Message: JSON.stringify(alarm) };

    // Act
    const summary = await containers.alert.invoke({ Records: [{ EventSource: 'aws:sns', EventVersion: '1.0', Sns: sns }] });
    const started = (await aws.aws.journal.listByItem(inventoryName(), 'web')).filter((r) => !before.includes(r.id));
    const done = await aws.waitForRotation(started[0]!.id);

    // Assess
    expect(summary).toEqual({ alarms: 1, rejected: 0, decisions: { acted: 1 } });
    expect(started).toHaveLength(1);
    expect(done.status, done.error).toBe(RotationStatus.Completed);
    expect(await secretVersion()).toBe(done.id);
    expect(aws.runner.errors).toEqual([]);
  });

  it('the functions logged no key material and no error', () => {
    const logs = FUNCTIONS.flatMap((fn) => containers[fn].logs.map((line) => `${fn}: ${line}`));
    expect(logs.some((l) => l.includes('"level":"info"'))).toBe(true);
    expect(logs.filter((l) => /PRIVATE KEY|BEGIN CERTIFICATE|"level":"error"/.test(l))).toEqual([]);
  });
});
