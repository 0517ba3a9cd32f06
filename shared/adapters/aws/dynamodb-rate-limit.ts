import { createHash } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, UsageError } from '../../domain/errors.js';
import type { SharedRateLimit } from '../../ports/shared-rate-limit.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { JournalTable } from './dynamodb-journal.js';
import { awsCall } from './errors.js';

/** Key prefix of the counters in the journal table (the API role may update only keys that start with it). */
export const RATE_WINDOW_PREFIX = 'rate#';

/** Counters outlive their window by this much before TTL may delete them (TTL deletes late anyway). */
const KEEP_AFTER_WINDOW_SECONDS = 60;

export interface DynamoDbRateLimitOptions extends AwsClientSettings {
  /** The journal table: counters live beside rotation records and alert claims under their own prefix. */
  readonly tableName: string;
  /** The inventory (stack) whose API this limits; one table may serve several. */
  readonly inventory: string;
  /** Requests a client may make per window. */
  readonly limit: number;
  readonly windowSeconds: number;
  readonly client?: DynamoDBClient;
}

/**
 * A fixed-window counter per client in DynamoDB: one conditional UpdateItem per request on
 * `rate#<inventory>#<client>#<window>` (`ADD hits 1` only while `hits < limit`, TTL set past the window's end). The
 * condition makes the count exact however many containers update it at once; a refused request adds nothing. A
 * fixed window lets a client make up to twice the limit across a window boundary, the price of one write per
 * request with no read.
 */
export class DynamoDbRateLimit implements SharedRateLimit {
  private readonly doc: DynamoDBDocumentClient;

  constructor(private readonly options: DynamoDbRateLimitOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1)
      throw new UsageError(`rate limit ${options.limit}: expected a whole number ≥ 1`);
    if (!Number.isInteger(options.windowSeconds) || options.windowSeconds < 1)
      throw new UsageError(`rate limit window ${options.windowSeconds}: expected a whole number of seconds ≥ 1`);
    const client = options.client ?? new DynamoDBClient(clientConfig(options));
    this.doc = DynamoDBDocumentClient.from(client);
  }

  /** The counter's key; a long client name (a token subject is the caller's choice) is hashed to keep keys short. */
  private keyOf(client: string, window: number): string {
    const who = client.length <= 128 ? client : `sha256:${createHash('sha256').update(client).digest('hex')}`;
    return `${RATE_WINDOW_PREFIX}${this.options.inventory}#${who}#${window}`;
  }

  async take(client: string, nowMs: number): Promise<number> {
    const { windowSeconds, limit, tableName } = this.options;
    const window = Math.floor(nowMs / 1000 / windowSeconds);
    const windowEnd = (window + 1) * windowSeconds;
    try {
      await awsCall({ operation: 'DynamoDB UpdateItem (rate window)', target: tableName }, () =>
        this.doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [JournalTable.partitionKey]: this.keyOf(client, window) },
            UpdateExpression: 'ADD hits :one SET #ttl = :ttl',
            ConditionExpression: 'attribute_not_exists(hits) OR hits < :limit',
            ExpressionAttributeNames: { '#ttl': JournalTable.ttlAttribute },
            ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':ttl': windowEnd + KEEP_AFTER_WINDOW_SECONDS },
          }),
        ),
      );
      return 0;
    } catch (e) {
      if (e instanceof ConflictError) return Math.max(1, Math.ceil(windowEnd - nowMs / 1000));
      throw e;
    }
  }
}
