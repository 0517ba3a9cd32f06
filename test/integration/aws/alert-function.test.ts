import { randomBytes } from 'node:crypto';
import { DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertHandler, type AlarmSummary } from '../../../functions/alert.js';
import type { ApiRuntime, HttpApiEvent } from '../../../functions/api.js';
import { coldStart, depsFor, type LambdaRuntime } from '../../../functions/lib/runtime.js';
import { DynamoDbRemediationStore } from '../../../shared/adapters/aws/dynamodb-remediations.js';
import { ManifestWriter } from '../../../shared/adapters/local/manifest-writer.js';
import { apply } from '../../../shared/app/apply.js';
import { leveledJsonLogger } from '../../../shared/app/api/json-logger.js';
import { ensureApiSigningKey, mintApiToken } from '../../../shared/app/api/signing-key.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { inventoryHead, shopLeavesYaml } from '../../fixtures/aws-inventories.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { RotationStatus } from '../../../shared/domain/rotation/record.js';
import type { Cluster } from '../../../shared/ports/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { freshResources, useMoto } from './moto.js';

/**
 * functions/alert.ts on moto: CloudWatch alarm JSON published to a real SNS topic (delivered to an SQS subscription,
 * whose envelope is what SNS hands Lambda), the dedupe claim a conditional put with TTL in the DynamoDB journal
 * table, rotations recorded in DynamoDB and their first step on the FIFO queue. The Alertmanager webhook goes
 * through the same function as API Gateway's payload 2.0 event.
 */

const region = 'us-east-1';
let dir: string;
let inventory: Inventory;
let rt: LambdaRuntime;
let handle: ReturnType<typeof alertHandler>;
let resources: Awaited<ReturnType<typeof freshResources>>;
let sns: SNSClient;
let sqs: SQSClient;
let ddb: DynamoDBClient;
let topicArn: string;
let inboxUrl: string;
let token: string;
const logLines: string[] = [];

const inventoryYaml = (name: string) => `${inventoryHead(name)}authorities:
  - {name: root-ca, commonName: alert root, validity: 87600h}
certificates:
${shopLeavesYaml('web', 'api', 'www')}alerts:
  - name: web-handshake-errors
    match: {cloudwatch: {alarmName: web-tls-handshake-errors, namespace: AWS/ApplicationELB}}
    action: rotate
    items: [web]
  - name: expiring
    match: {alertmanager: {alertname: TLSCertExpiringSoon}}
    action: rotate
    itemLabel: rekey_item
  - name: ca-approval
    match: {cloudwatch: {alarmName: root-ca-expiring}}
    action: rotate
    items: [api]
    mode: approve
`;

const alarm = (name: string, state: 'ALARM' | 'OK', at: string, namespace = 'AWS/ApplicationELB') => ({
  AlarmName: name,
  AlarmDescription: 'TLS handshakes failing',
  AWSAccountId: '123456789012',
  NewStateValue: state,
  NewStateReason: 'Threshold Crossed',
  StateChangeTime: at,
  Region: 'US East (N. Virginia)',
  AlarmArn: `arn:aws:cloudwatch:${region}:123456789012:alarm:${name}`,
  OldStateValue: state === 'ALARM' ? 'OK' : 'ALARM',
  Trigger: { MetricName: 'ClientTLSNegotiationErrorCount', Namespace: namespace, Statistic: 'SUM', Threshold: 0 },
});

/** Publishes through SNS and returns what SNS delivers: the subscription's envelope, as Lambda's SNS event wraps it. */
async function throughSns(messages: object[]): Promise<{ Records: object[] }> {
  for (const m of messages) await sns.send(new PublishCommand({ TopicArn: topicArn, Message: JSON.stringify(m), Subject: 'ALARM' }));
  const records: object[] = [];
  for (let i = 0; i < 10 && records.length < messages.length; i++) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: inboxUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) {
      records.push({ EventSource: 'aws:sns', EventVersion: '1.0', EventSubscriptionArn: `${topicArn}:sub`, Sns: JSON.parse(m.Body!) });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: inboxUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
  expect(records).toHaveLength(messages.length);
  return { Records: records };
}

const httpEvent = (path: string, body: unknown, t = token, method = 'POST'): HttpApiEvent => ({
  version: '2.0',
  rawPath: path,
  rawQueryString: '',
  headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
  ...(body !== undefined && { body: JSON.stringify(body) }),
  requestContext: { http: { method, sourceIp: '203.0.113.9' }, requestId: randomBytes(4).toString('hex') },
});

const webhook = (fingerprint: string, item: string, startsAt = '2026-11-30T10:00:00Z') => ({
  version: '4',
  status: 'firing',
  receiver: 'rekey',
  groupKey: '{}:{alertname="TLSCertExpiringSoon"}',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'TLSCertExpiringSoon', rekey_item: item },
      annotations: {},
      startsAt,
      endsAt: '0001-01-01T00:00:00Z',
      fingerprint,
    },
  ],
});

const stepMessages = async () =>
  Number(
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: resources.stepQueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] })))
      .Attributes!.ApproximateNumberOfMessages,
  );
const rotationsOf = (item: string) => rt.aws.journal.listByItem(inventory.name, item);

beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-alert-fn-');
  resources = await freshResources('alert');
  inventory = loadInventory(inventoryYaml(`alerts-${randomBytes(3).toString('hex')}`), 'alerts.yaml');
  const clusters = new Map<string, Cluster>([['dc1', { name: 'dc1', secrets: new ManifestWriter(`${dir}/out/dc1`) }]]);
  const logger = leveledJsonLogger({ level: 'info', write: (l) => logLines.push(l) });
  rt = coldStart({
    env: {
      REKEY_STEP_QUEUE_URL: resources.stepQueueUrl,
      REKEY_JOURNAL_TABLE: resources.journalTable,
      REKEY_EVENT_BUS: resources.eventBusName,
      AWS_REGION: region,
    },
    inventory,
    log: logger,
    clusters: async () => clusters,
  });
  const runtime: ApiRuntime = { rt, logger };
  handle = alertHandler(() => runtime);
  await apply(depsFor(rt, clusters), inventory);
  const { material } = await ensureApiSigningKey(rt.aws.store, inventory.name);
  token = await mintApiToken(material, { inventory: inventory.name, scopes: ['alerts:write'], ttlSeconds: 600, subject: 'alertmanager' });

  sns = new SNSClient({ region });
  sqs = new SQSClient({ region });
  ddb = new DynamoDBClient({ region });
  topicArn = (await sns.send(new CreateTopicCommand({ Name: `${resources.prefix}-alarms` }))).TopicArn!;
  inboxUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${resources.prefix}-alarm-inbox` }))).QueueUrl!;
  const inboxArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: inboxUrl, AttributeNames: ['QueueArn'] }))).Attributes!
    .QueueArn!;
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: inboxArn }));
}, 120_000);
afterAll(() => removeTempDir(dir));

describe('alert function: CloudWatch alarms through SNS', () => {
  it("an ALARM starts the rule's rotation (journal + first step queued); SNS redelivering it is deduped by the DynamoDB claim", async () => {
    // Prepare
    const event = await throughSns([alarm('web-tls-handshake-errors', 'ALARM', '2026-11-30T10:00:00.000+0000')]);
    const queuedBefore = await stepMessages();

    // Act
    const first = (await handle(event)) as AlarmSummary;
    const again = (await handle(event)) as AlarmSummary;

    // Assess
    expect(first).toEqual({ alarms: 1, rejected: 0, decisions: { acted: 1 } });
    expect(again).toEqual({ alarms: 1, rejected: 0, decisions: { deduped: 1 } });
    const rotations = await rotationsOf('web');
    expect(rotations).toHaveLength(1);
    expect(rotations[0]).toMatchObject({ status: RotationStatus.Running, trigger: 'alert' });
    expect(await stepMessages()).toBe(queuedBefore + 1);
    const claims = await ddb.send(
      new ScanCommand({
        TableName: resources.journalTable,
        FilterExpression: 'begins_with(pk, :p)',
        ExpressionAttributeValues: { ':p': { S: 'alert-claim#' } },
      }),
    );
    expect(claims.Items).toHaveLength(1);
    const ttl = Number(claims.Items![0]!.expiresAt!.N);
    expect(ttl).toBeGreaterThan(Date.now() / 1000 + 6 * 86_400);
  });

  it('OK resolves (nothing happens), an alarm of another namespace matches no rule, a new firing of the same alarm is rate-limited', async () => {
    // Prepare
    const event = await throughSns([
      alarm('web-tls-handshake-errors', 'OK', '2026-11-30T10:05:00.000+0000'),
      alarm('web-tls-handshake-errors', 'ALARM', '2026-11-30T10:06:00.000+0000', 'AWS/NetworkELB'),
      alarm('web-tls-handshake-errors', 'ALARM', '2026-11-30T10:07:00.000+0000'),
    ]);

    // Act
    const summary = (await handle(event)) as AlarmSummary;

    // Assess
    expect(summary).toEqual({ alarms: 3, rejected: 0, decisions: { resolved: 1, 'no-rule': 1, 'rate-limited': 1 } });
    expect(await rotationsOf('web')).toHaveLength(1);
  });

  it('malformed records fail alone and are logged; the valid alarm of the same delivery is handled', async () => {
    // Prepare
    const good = await throughSns([alarm('root-ca-expiring', 'ALARM', '2026-11-30T11:00:00.000+0000')]);
    const bad = [
      null,
      { Sns: { MessageId: 'm-notjson', Message: 'not json' } },
      { Sns: { MessageId: 'm-shape', Message: JSON.stringify({ AlarmName: '', NewStateValue: 'MAYBE' }) } },
      { Sns: { MessageId: 'm-number', Message: 42 } },
      { EventSource: 'aws:sqs', body: '{}' },
    ];
    const before = logLines.length;

    // Act
    const summary = (await handle({ Records: [...bad, ...good.Records] })) as AlarmSummary;

    // Assess
    expect(summary).toEqual({ alarms: 1, rejected: 5, decisions: { 'awaiting-approval': 1 } });
    const rejections = logLines
      .slice(before)
      .map((l) => JSON.parse(l) as { msg?: string; message?: string; messageId?: string; reason?: string })
      .filter((l) => (l.msg ?? l.message) === 'SNS record rejected');
    expect(rejections.map((r) => r.messageId ?? '-')).toEqual(['-', 'm-notjson', 'm-shape', 'm-number', '-']);
    expect(await rotationsOf('api')).toHaveLength(0);
  });

  it.each([
    ['null', null],
    ['no Records', {}],
    ['Records not an array', { Records: 'x' }],
    ['empty Records', { Records: [] }],
  ])('%s is logged and acknowledged without touching the store', async (_name, event) => {
    // Act
    const summary = await handle(event);

    // Assess
    expect(summary).toEqual({ alarms: 0, rejected: 0, decisions: {} });
  });

  it("the approval of an alarm's remediation (DynamoDB, conditional on pending) acts once; a second approval is 409", async () => {
    // Prepare
    const list = await handle(httpEvent('/v1/remediations', undefined, token, 'GET'));
    const pending = (JSON.parse(list.body) as { remediations: { id: string; item: string }[] }).remediations;
    expect(pending.map((p) => p.item)).toEqual(['api']);

    // Act
    const approved = await handle(httpEvent(`/v1/remediations/${pending[0]!.id}/approve`, undefined));
    const twice = await handle(httpEvent(`/v1/remediations/${pending[0]!.id}/approve`, undefined));

    // Assess
    expect(approved.statusCode).toBe(200);
    expect(JSON.parse(approved.body)).toMatchObject({ decision: 'approved', item: 'api' });
    expect(twice.statusCode).toBe(409);
    expect(await rotationsOf('api')).toHaveLength(1);
  });
});

describe('alert function: the Alertmanager webhook through API Gateway', () => {
  it('a firing alert naming an item by label rotates it; the replay is deduped; without a token it is 401 and changes nothing', async () => {
    // Act
    const first = await handle(httpEvent('/v1/alerts/alertmanager', webhook('fp-am-1', 'www', '2026-11-30T12:00:00Z')));
    const replay = await handle(httpEvent('/v1/alerts/alertmanager', webhook('fp-am-1', 'www', '2026-11-30T12:00:00Z')));
    const anonymous = await handle({
      ...httpEvent('/v1/alerts/alertmanager', webhook('fp-am-2', 'www')),
      headers: { 'content-type': 'application/json' },
    });

    // Assess
    expect(first.statusCode).toBe(200);
    const decision = (JSON.parse(first.body) as { decisions: { decision: string; item?: string; rotationId?: string }[] }).decisions;
    expect(decision).toEqual([expect.objectContaining({ item: 'www', decision: 'acted', rotationId: expect.any(String) })]);
    expect((await rotationsOf('www')).map((r) => r.id)).toEqual([decision[0]!.rotationId]);
    expect((JSON.parse(replay.body) as { decisions: { decision: string }[] }).decisions.map((d) => d.decision)).toEqual(['deduped']);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['content-type']).toBe('application/problem+json');
  });

  it('a claim whose TTL passed (not yet deleted by DynamoDB) is taken over by the same conditional put', async () => {
    // Prepare
    const t0 = Date.now();
    const early = new DynamoDbRemediationStore({ tableName: resources.journalTable, inventory: inventory.name, region, now: () => t0 });
    const later = new DynamoDbRemediationStore({
      tableName: resources.journalTable,
      inventory: inventory.name,
      region,
      now: () => t0 + 60_000,
    });
    const key = `ttl-${randomBytes(4).toString('hex')}`;

    // Act
    const claimed = await early.claim(key, Math.floor(t0 / 1000) + 30);
    const replayed = await early.claim(key, Math.floor(t0 / 1000) + 30);
    const afterExpiry = await later.claim(key, Math.floor(t0 / 1000) + 90);

    // Assess
    expect([claimed, replayed, afterExpiry]).toEqual([true, false, true]);
    const item = await ddb.send(new GetItemCommand({ TableName: resources.journalTable, Key: { pk: { S: `alert-claim#${key}` } } }));
    expect(Number(item.Item!.expiresAt!.N)).toBe(Math.floor(t0 / 1000) + 90);
  });
});
