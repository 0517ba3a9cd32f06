import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { RekeyError, UsageError } from '../../domain/errors.js';
import type { AwsClientSettings } from './client-config.js';
import { DynamoDbJournal } from './dynamodb-journal.js';
import { EventBridgeBus } from './eventbridge-bus.js';
import { SecretsManagerStore } from './secrets-manager-store.js';
import { SqsStepQueue } from './sqs-step-queue.js';
import { defined } from '../../domain/defined.js';

export interface AwsAdapterOptions extends AwsClientSettings {
  /** FIFO step queue URL. */
  readonly stepQueueUrl: string;
  /** Standard queue for waiting steps (see SqsStepQueue). */
  readonly delayQueueUrl?: string;
  /** The step queue's dead-letter queue URL. */
  readonly deadLetterQueueUrl?: string;
  readonly eventBusName?: string;
  readonly journalTable: string;
  readonly kmsKeyId?: string;
  /** Clients to use instead of new ones (tests, or sharing one across adapters). */
  readonly clients?: {
    readonly secretsManager?: SecretsManagerClient;
    readonly sqs?: SQSClient;
    readonly eventBridge?: EventBridgeClient;
    readonly dynamodb?: DynamoDBClient;
  };
}

export interface AwsAdapters {
  readonly store: SecretsManagerStore;
  readonly queue: SqsStepQueue;
  readonly events: EventBridgeBus;
  readonly journal: DynamoDbJournal;
}

/** The environment variables the functions read (serverless.yml sets them from the resources it creates). */
export const AwsEnv = {
  stepQueueUrl: 'REKEY_STEP_QUEUE_URL',
  delayQueueUrl: 'REKEY_DELAY_QUEUE_URL',
  deadLetterQueueUrl: 'REKEY_DLQ_URL',
  eventBusName: 'REKEY_EVENT_BUS',
  journalTable: 'REKEY_JOURNAL_TABLE',
  kmsKeyId: 'REKEY_KMS_KEY_ID',
  region: 'AWS_REGION',
  maxAttempts: 'REKEY_AWS_MAX_ATTEMPTS',
} as const;

const KNOWN = new Set([
  'stepQueueUrl',
  'delayQueueUrl',
  'deadLetterQueueUrl',
  'eventBusName',
  'journalTable',
  'kmsKeyId',
  'clients',
  'region',
  'maxAttempts',
]);

/** Reads the adapters' options from the environment; names every missing or malformed variable at once. */
export function awsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsAdapterOptions {
  const missing = (['stepQueueUrl', 'journalTable'] as const).filter((k) => !env[AwsEnv[k]]).map((k) => AwsEnv[k]);
  if (missing.length) throw new UsageError(`missing environment variable(s): ${missing.join(', ')}`);
  const attempts = env[AwsEnv.maxAttempts];
  if (attempts !== undefined && !/^[1-9][0-9]?$/.test(attempts))
    throw new UsageError(`${AwsEnv.maxAttempts}=${attempts}: expected a whole number from 1 to 99`);
  const opt = (k: keyof typeof AwsEnv) => env[AwsEnv[k]] || undefined;
  return {
    stepQueueUrl: defined(env[AwsEnv.stepQueueUrl]),
    journalTable: defined(env[AwsEnv.journalTable]),
    ...(opt('delayQueueUrl') && { delayQueueUrl: opt('delayQueueUrl') }),
    ...(opt('deadLetterQueueUrl') && { deadLetterQueueUrl: opt('deadLetterQueueUrl') }),
    ...(opt('eventBusName') && { eventBusName: opt('eventBusName') }),
    ...(opt('kmsKeyId') && { kmsKeyId: opt('kmsKeyId') }),
    ...(opt('region') && { region: opt('region') }),
    ...(attempts && { maxAttempts: Number(attempts) }),
  };
}

/** The four AWS adapters, configured once (a Lambda's cold start). Unknown options are errors. */
export function createAwsAdapters(options: AwsAdapterOptions): AwsAdapters {
  const unknown = Object.keys(options).filter((k) => !KNOWN.has(k));
  if (unknown.length) throw new RekeyError(`createAwsAdapters: unknown option(s) ${unknown.join(', ')}`);
  const settings: AwsClientSettings = {
    ...(options.region && { region: options.region }),
    ...(options.maxAttempts && { maxAttempts: options.maxAttempts }),
  };
  const c = options.clients ?? {};
  return {
    store: new SecretsManagerStore({
      ...settings,
      ...(c.secretsManager && { client: c.secretsManager }),
      ...(options.kmsKeyId && { kmsKeyId: options.kmsKeyId }),
    }),
    queue: new SqsStepQueue({
      ...settings,
      queueUrl: options.stepQueueUrl,
      ...(options.delayQueueUrl && { delayQueueUrl: options.delayQueueUrl }),
      ...(options.deadLetterQueueUrl && { deadLetterQueueUrl: options.deadLetterQueueUrl }),
      ...(c.sqs && { client: c.sqs }),
    }),
    events: new EventBridgeBus({
      ...settings,
      ...(options.eventBusName && { eventBusName: options.eventBusName }),
      ...(c.eventBridge && { client: c.eventBridge }),
    }),
    journal: new DynamoDbJournal({ ...settings, tableName: options.journalTable, ...(c.dynamodb && { client: c.dynamodb }) }),
  };
}

export { SecretsManagerStore, SecretsManagerLimits, INITIAL_LABEL, visibleStages } from './secrets-manager-store.js';
export { SqsStepQueue, messageGroupOf, deduplicationIdOf, MAX_DELAY_SECONDS, type DelayedStep } from './sqs-step-queue.js';
export { EventBridgeBus, batchesOf } from './eventbridge-bus.js';
export { DynamoDbJournal, JournalTable } from './dynamodb-journal.js';
export { translateAwsError } from './errors.js';
export { eksToken, eksTokenProvider } from './eks-token.js';
