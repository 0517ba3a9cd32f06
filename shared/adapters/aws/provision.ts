import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EVENT_SOURCE, EventType } from '../../domain/events/types.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { JournalTable } from './dynamodb-journal.js';
import { awsCall, awsErrorName } from './errors.js';
import { defined } from '../../domain/defined.js';

/**
 * The resources rekey runs on, for a local AWS (moto) and the offline runner. serverless.yml declares the same ones
 * for CloudFormation; `resourceNames` is the single place both take the names from (`<service>-<stage>-...`).
 */
export function resourceNames(prefix: string) {
  return {
    stepQueue: `${prefix}-steps.fifo`,
    deadLetterQueue: `${prefix}-steps-dlq.fifo`,
    delayQueue: `${prefix}-delay`,
    eventsDeadLetterQueue: `${prefix}-events-dlq`,
    /** Local only: where the restart rule delivers events for the offline runner to poll (AWS invokes the function). */
    restartEventsQueue: `${prefix}-restart-events`,
    eventBus: prefix,
    restartRule: `${prefix}-restart`,
    journalTable: `${prefix}-journal`,
  } as const;
}

/** What the restart worker is sent: SecretSynced (planner) and RestartRequested (worker). */
export const RESTART_EVENT_PATTERN = {
  source: [EVENT_SOURCE],
  'detail-type': [EventType.SecretSynced, EventType.RestartRequested],
} as const;

/** Deliveries of one step message before SQS moves it to the DLQ by itself (the handler gives up earlier, with a reason). */
export const STEP_MAX_RECEIVES = 8;
/** Seconds a received step stays invisible: longer than the step function's timeout. */
export const STEP_VISIBILITY_SECONDS = 180;

export interface ProvisionedResources {
  readonly stepQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly delayQueueUrl: string;
  readonly eventsDeadLetterQueueUrl: string;
  readonly restartEventsQueueUrl: string;
  readonly eventBusName: string;
  readonly journalTable: string;
}

export interface ProvisionOptions extends AwsClientSettings {
  readonly prefix: string;
  /** Visibility timeout of the step queue: how long a dead worker's message stays hidden (tests use a few seconds). */
  readonly stepVisibilitySeconds?: number;
  readonly clients?: { sqs?: SQSClient; eventBridge?: EventBridgeClient; dynamodb?: DynamoDBClient };
  /** How long to wait for the journal table and an index added to it to become active. */
  readonly journalWait?: JournalTableWait;
}

/** Creates (or finds) every resource, adding what an older version's journal table lacks; safe to run again. */
export async function provisionAwsResources(options: ProvisionOptions): Promise<ProvisionedResources> {
  const n = resourceNames(options.prefix);
  const sqs = options.clients?.sqs ?? new SQSClient(clientConfig(options));
  const eb = options.clients?.eventBridge ?? new EventBridgeClient(clientConfig(options));
  const ddb = options.clients?.dynamodb ?? new DynamoDBClient(clientConfig(options));

  const queue = async (name: string, attributes: Record<string, string>) => {
    const out = await awsCall({ operation: 'SQS CreateQueue', target: name }, () =>
      sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes })),
    );
    const url = defined(out.QueueUrl);
    const arn = defined(
      defined((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes).QueueArn,
    );
    return { url, arn };
  };
  const dlq = await queue(n.deadLetterQueue, { FifoQueue: 'true', MessageRetentionPeriod: '1209600' });
  const steps = await queue(n.stepQueue, {
    FifoQueue: 'true',
    VisibilityTimeout: String(options.stepVisibilitySeconds ?? STEP_VISIBILITY_SECONDS),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: STEP_MAX_RECEIVES }),
  });
  const delay = await queue(n.delayQueue, { VisibilityTimeout: '60' });
  const eventsDlq = await queue(n.eventsDeadLetterQueue, { MessageRetentionPeriod: '1209600' });
  const restartEvents = await queue(n.restartEventsQueue, { VisibilityTimeout: '900' });

  try {
    await eb.send(new CreateEventBusCommand({ Name: n.eventBus }));
  } catch (e) {
    if (awsErrorName(e) !== 'ResourceAlreadyExistsException') throw e;
  }
  await eb.send(
    new PutRuleCommand({
      Name: n.restartRule,
      EventBusName: n.eventBus,
      EventPattern: JSON.stringify(RESTART_EVENT_PATTERN),
      State: 'ENABLED',
    }),
  );
  await eb.send(
    new PutTargetsCommand({ Rule: n.restartRule, EventBusName: n.eventBus, Targets: [{ Id: 'restart-events', Arn: restartEvents.arn }] }),
  );
  // Real SQS wants a queue policy for EventBridge to deliver; moto ignores it. Harmless either way.
  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: restartEvents.url,
      Attributes: {
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: restartEvents.arn },
          ],
        }),
      },
    }),
  );

  await createJournalTable(ddb, n.journalTable, options.journalWait);
  return {
    stepQueueUrl: steps.url,
    deadLetterQueueUrl: dlq.url,
    delayQueueUrl: delay.url,
    eventsDeadLetterQueueUrl: eventsDlq.url,
    restartEventsQueueUrl: restartEvents.url,
    eventBusName: n.eventBus,
    journalTable: n.journalTable,
  };
}

/** The journal table's global secondary indexes: what `provision` creates, and adds to a table made before one existed. */
export function journalIndexes(): GlobalSecondaryIndex[] {
  const t = JournalTable;
  const index = (name: string, hash: string, range: string): GlobalSecondaryIndex => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: hash, KeyType: 'HASH' },
      { AttributeName: range, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'ALL' },
  });
  return [
    index(t.itemIndex, t.itemKey, t.sortKey),
    index(t.statusIndex, t.statusKey, t.sortKey),
    index(t.renewalIndex, t.renewalPartition, t.renewalSort),
  ];
}

/** Every key attribute of the table and its indexes (all strings). */
const keyAttributes = (indexes: readonly GlobalSecondaryIndex[]): AttributeDefinition[] =>
  [...new Set([JournalTable.partitionKey, ...indexes.flatMap((i) => (i.KeySchema ?? []).map((k) => defined(k.AttributeName)))])].map(
    (name) => ({ AttributeName: name, AttributeType: 'S' }),
  );

/** How long `provision` waits for a table or an index it added to become active (a large table's backfill takes longer). */
export interface JournalTableWait {
  readonly attempts?: number;
  readonly intervalMs?: number;
}

async function createJournalTable(ddb: DynamoDBClient, table: string, wait: JournalTableWait = {}): Promise<void> {
  const indexes = journalIndexes();
  try {
    await ddb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keyAttributes(indexes),
        KeySchema: [{ AttributeName: JournalTable.partitionKey, KeyType: 'HASH' }],
        GlobalSecondaryIndexes: indexes,
      }),
    );
  } catch (e) {
    if (awsErrorName(e) !== 'ResourceInUseException') throw e;
    await addMissingIndexes(ddb, table, indexes, wait);
    return;
  }
  await untilActive(ddb, table, undefined, wait);
  await ddb.send(
    new UpdateTimeToLiveCommand({
      TableName: table,
      TimeToLiveSpecification: { AttributeName: JournalTable.ttlAttribute, Enabled: true },
    }),
  );
}

/**
 * A table made by an older rekey lacks the indexes added since (the renewal index): add each missing one. DynamoDB
 * takes one index creation per UpdateTable and backfills it before the next, so they go one after another.
 */
async function addMissingIndexes(
  ddb: DynamoDBClient,
  table: string,
  indexes: readonly GlobalSecondaryIndex[],
  wait: JournalTableWait,
): Promise<void> {
  const existing = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table;
  const have = new Set((existing?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of indexes.filter((i) => !have.has(i.IndexName))) {
    await awsCall({ operation: 'DynamoDB UpdateTable', target: `${table} ${defined(index.IndexName)}` }, () =>
      ddb.send(
        new UpdateTableCommand({
          TableName: table,
          AttributeDefinitions: keyAttributes([index]),
          GlobalSecondaryIndexUpdates: [
            {
              Create: {
                IndexName: index.IndexName,
                KeySchema: index.KeySchema,
                Projection: index.Projection,
                // On-demand tables take no throughput; provisioned ones need it for the index too.
                ...(existing?.BillingModeSummary?.BillingMode !== 'PAY_PER_REQUEST' &&
                  existing?.ProvisionedThroughput?.ReadCapacityUnits && {
                    ProvisionedThroughput: {
                      ReadCapacityUnits: existing.ProvisionedThroughput.ReadCapacityUnits,
                      WriteCapacityUnits: existing.ProvisionedThroughput.WriteCapacityUnits,
                    },
                  }),
              },
            },
          ],
        }),
      ),
    );
    await untilActive(ddb, table, index.IndexName, wait);
  }
}

/** Waits until the table (or one of its indexes) is ACTIVE; throws when it is not within the wait. */
async function untilActive(ddb: DynamoDBClient, table: string, indexName: string | undefined, wait: JournalTableWait): Promise<void> {
  const attempts = wait.attempts ?? 3000;
  for (let i = 0; i < attempts; i++) {
    const t = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table;
    const status = indexName ? t?.GlobalSecondaryIndexes?.find((x) => x.IndexName === indexName)?.IndexStatus : t?.TableStatus;
    if (status === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, wait.intervalMs ?? 200));
  }
  throw new Error(`DynamoDB table ${table}${indexName ? ` index ${indexName}` : ''} not active after ${attempts} checks; run again later`);
}
