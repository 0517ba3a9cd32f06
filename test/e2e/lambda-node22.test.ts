import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coldStart, type FunctionAdapters } from '../../functions/lib/runtime.js';
import type { LambdaContext } from '../../functions/lib/lambda.js';
import { LocalRunner } from '../../functions/local/runner.js';
import type { ScheduleSummary } from '../../functions/schedule.js';
import { SqsPoller } from '../../shared/adapters/aws/sqs-poller.js';
import { ensureApiSigningKey, mintApiToken } from '../../shared/app/api/signing-key.js';
import { loadInventory } from '../../shared/domain/inventory/load.js';
import { RotationStatus, type RotationRecord } from '../../shared/domain/rotation/record.js';
import { Annotation } from '../../shared/domain/sync/desired.js';
import { Stage } from '../../shared/ports/secret-store.js';
import { silentLogger } from '../../shared/ports/logger.js';
import { startLambdaContainer, type LambdaContainer } from '../fixtures/lambda-container.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { loadInfraEnv } from '../infra/env.js';
import { freshResources, useMoto } from '../integration/aws/moto.js';
import { Admin, deploymentObject, podSpec, rolledOut, uniqueName } from '../integration/kube/support.js';
import { serverlessPackage } from '../unit/functions/sls-package.js';
import { readZip } from '../unit/functions/zip.js';

/**
 * The functions as deployed, on the Node Lambda runs (nodejs22.x; the machine's node, and every other test, is 20):
 * `serverless package` builds the zips, each function is unzipped and run in a Node 22 process of its own (Lambda's
 * init, then warm invocations one at a time) with only the environment serverless.yml gives it, against moto and
 * the real dc1. LocalRunner plays the event sources (SQS, the restart rule), handing each event to the Node 22
 * container of its function. A rotation goes from the schedule to the restarted Deployment, another from the API.
 */

const FUNCTIONS = ['schedule', 'step', 'delay', 'restart', 'api', 'alert'] as const;
type FunctionName = (typeof FUNCTIONS)[number];

let dir: string;
let node22: { path: string; version: string };
let admin: Admin;
let namespace: string;
let inventoryName: string;
let aws: FunctionAdapters;
let runner: LocalRunner;
const containers = {} as Record<FunctionName, LambdaContainer>;

const inventoryYaml = (name: string, ns: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${name}}
defaults: {key: ECDSA-P256, validity: 2160h, renewBefore: 720h}
clusters: [{name: dc1, context: dc1}]
authorities:
  - {name: root-ca, commonName: node22 root, validity: 87600h}
certificates:
  - name: web
    issuer: root-ca
    usage: server
    commonName: web
    dnsNames: [web, web.${ns}.svc]
    secret: {name: web-tls, namespace: ${ns}}
    consumers: [Deployment/web]
    restart: {policy: together, within: 5m}
alerts:
  - name: web-handshake-errors
    match: {cloudwatch: {alarmName: web-tls-handshake-errors}}
    action: rotate
    items: [web]
`;

beforeAll(async () => {
  const infra = loadInfraEnv({ require: ['moto', 'kube', 'node22'] });
  node22 = { path: infra.node22Path, version: `v${infra.vars.NODE22_VERSION}` };
  await useMoto(['moto', 'kube', 'node22']);
  dir = await makeTempDir('rekey-node22-');

  // The zips as a user deploys them, each unzipped where its container runs.
  await serverlessPackage(join(dir, 'package'), {});
  for (const fn of FUNCTIONS) {
    for (const [name, data] of readZip(join(dir, 'package', `${fn}.zip`))) {
      await mkdir(dirname(join(dir, fn, name)), { recursive: true });
      await writeFile(join(dir, fn, name), data);
    }
  }

  admin = await Admin.of('dc1');
  namespace = uniqueName('node22');
  await admin.createNamespace(namespace);
  await admin.apply(deploymentObject(namespace, 'web', { app: 'web' }, podSpec({ volume: 'web-tls' }), { replicas: 1 }));
  await rolledOut(admin, namespace, 'web');

  const resources = await freshResources('node22', { stepVisibilitySeconds: 5 });
  inventoryName = resources.prefix;
  // Another inventory than the packaged example: the functions read and validate it on their first invocation.
  const inventoryFile = join(dir, 'inventory.yaml');
  await writeFile(inventoryFile, inventoryYaml(inventoryName, namespace));
  const env = {
    PATH: process.env.PATH,
    REKEY_INVENTORY_FILE: inventoryFile,
    REKEY_STEP_QUEUE_URL: resources.stepQueueUrl,
    REKEY_DELAY_QUEUE_URL: resources.delayQueueUrl,
    REKEY_DLQ_URL: resources.deadLetterQueueUrl,
    REKEY_EVENTS_DLQ_URL: resources.eventsDeadLetterQueueUrl,
    REKEY_EVENT_BUS: resources.eventBusName,
    REKEY_JOURNAL_TABLE: resources.journalTable,
    REKEY_STEP_MAX_ATTEMPTS: '5',
    AWS_ENDPOINT_URL: infra.aws.endpoint,
    AWS_REGION: infra.aws.region,
    AWS_ACCESS_KEY_ID: infra.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: infra.aws.secretAccessKey,
    LOG_LEVEL: 'info',
  };

  // This process reads and prepares the same stack: the kubeconfig where the functions look for it, the API's key.
  aws = coldStart({
    env: { ...process.env, ...env },
    inventory: loadInventory(inventoryYaml(inventoryName, namespace), 'node22.yaml'),
  }).aws;
  const kubeconfigVersion = `fixture-${inventoryName}-000000000000000000000000`;
  await aws.store.putPending(
    `rekey/${inventoryName}/kubeconfig`,
    kubeconfigVersion,
    readFileSync(infra.kube.kubeconfig.split(':')[0]!, 'utf8'),
  );
  await aws.store.promote(`rekey/${inventoryName}/kubeconfig`, kubeconfigVersion);

  for (const fn of FUNCTIONS) containers[fn] = startLambdaContainer({ node: node22.path, root: join(dir, fn), fn, env });
  const invoke =
    (fn: FunctionName) =>
    <T>(event: unknown, context?: LambdaContext): Promise<T> =>
      containers[fn].invoke<T>(event, context);
  runner = new LocalRunner({
    poller: new SqsPoller(),
    stepQueueUrl: resources.stepQueueUrl,
    delayQueueUrl: resources.delayQueueUrl,
    restartEventsQueueUrl: resources.restartEventsQueueUrl,
    step: invoke('step'),
    delay: invoke('delay'),
    restart: invoke('restart'),
    log: silentLogger,
  }).start();
}, 600_000);

afterAll(async () => {
  await runner?.stop();
  await Promise.all(Object.values(containers).map((c) => c.stop()));
  await admin?.deleteNamespace(namespace);
  if (dir) await removeTempDir(dir);
});

async function finished(id: string, timeoutMs = 240_000): Promise<RotationRecord> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await aws.journal.get(id);
    if (r && r.status !== RotationStatus.Running) return r;
    if (Date.now() > until)
      throw new Error(
        `rotation ${id} still ${r?.status ?? 'unknown'} at ${r?.step ?? '-'}; handler errors: ${JSON.stringify(runner.errors)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

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
    const summary = await containers.schedule.invoke<ScheduleSummary>({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
    first = await finished(summary.rotations[0]!);

    // Assess
    expect(first.status, first.error).toBe(RotationStatus.Completed);
    expect(first.history.map((h) => h.step)).toEqual(['issue', 'test', 'promote', 'sync', 'restart', 'verify']);
    expect(first.restarts.dc1).toMatchObject({ state: 'completed', workloads: [`Deployment/${namespace}/web`] });
    expect(await secretVersion()).toBe(first.id);
    expect(await restartedAt()).toBeDefined();
    expect((await aws.store.getVersion(`rekey/${inventoryName}/web`, { stage: Stage.Current }))?.versionId).toBe(first.id);
    expect(runner.errors).toEqual([]);
  });

  it('a rotation asked of the API function runs to its end, and the API reports it', async () => {
    // Prepare
    const { material } = await ensureApiSigningKey(aws.store, inventoryName);
    const token = await mintApiToken(material, {
      inventory: inventoryName,
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
    const done = await finished(id);
    const read = await containers.api.invoke<{ statusCode: number; body: string }>(apiEvent('GET', `/v1/rotations/${id}`, token));

    // Assess
    expect(accepted.statusCode).toBe(202);
    expect(done.status, done.error).toBe(RotationStatus.Completed);
    expect(read.statusCode).toBe(200);
    expect(JSON.parse(read.body)).toMatchObject({ id, item: 'web', status: 'completed' });
    expect(await secretVersion()).toBe(id);
    expect(await restartedAt()).not.toBe(before);
    expect((await aws.store.getVersion(`rekey/${inventoryName}/web`, { stage: Stage.Previous }))?.versionId).toBe(first.id);
    expect(runner.errors).toEqual([]);
  });

  it('a CloudWatch alarm delivered through SNS to the alert function rotates the item it names', async () => {
    // Prepare
    const before = (await aws.journal.listByItem(inventoryName, 'web')).map((r) => r.id);
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
    const started = (await aws.journal.listByItem(inventoryName, 'web')).filter((r) => !before.includes(r.id));
    const done = await finished(started[0]!.id);

    // Assess
    expect(summary).toEqual({ alarms: 1, rejected: 0, decisions: { acted: 1 } });
    expect(started).toHaveLength(1);
    expect(done.status, done.error).toBe(RotationStatus.Completed);
    expect(await secretVersion()).toBe(done.id);
    expect(runner.errors).toEqual([]);
  });

  it('the functions logged no key material and no error', () => {
    const logs = FUNCTIONS.flatMap((fn) => containers[fn].logs.map((line) => `${fn}: ${line}`));
    expect(logs.some((l) => l.includes('"level":"info"'))).toBe(true);
    expect(logs.filter((l) => /PRIVATE KEY|BEGIN CERTIFICATE|"level":"error"/.test(l))).toEqual([]);
  });
});
