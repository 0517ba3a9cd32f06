import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
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
}

/** Creates (or finds) every resource; safe to run again. */
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

  await createJournalTable(ddb, n.journalTable);
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

async function createJournalTable(ddb: DynamoDBClient, table: string): Promise<void> {
  const t = JournalTable;
  try {
    await ddb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: t.partitionKey, AttributeType: 'S' },
          { AttributeName: t.itemKey, AttributeType: 'S' },
          { AttributeName: t.statusKey, AttributeType: 'S' },
          { AttributeName: t.sortKey, AttributeType: 'S' },
          { AttributeName: t.renewalPartition, AttributeType: 'S' },
          { AttributeName: t.renewalSort, AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: t.partitionKey, KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: t.itemIndex,
            KeySchema: [
              { AttributeName: t.itemKey, KeyType: 'HASH' },
              { AttributeName: t.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: t.statusIndex,
            KeySchema: [
              { AttributeName: t.statusKey, KeyType: 'HASH' },
              { AttributeName: t.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: t.renewalIndex,
            KeySchema: [
              { AttributeName: t.renewalPartition, KeyType: 'HASH' },
              { AttributeName: t.renewalSort, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (e) {
    if (awsErrorName(e) !== 'ResourceInUseException') throw e;
    return;
  }
  for (let i = 0; i < 50; i++) {
    const status = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table?.TableStatus;
    if (status === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await ddb.send(
    new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: t.ttlAttribute, Enabled: true } }),
  );
}
