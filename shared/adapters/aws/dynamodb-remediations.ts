import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Remediation, RemediationStatus, RemediationStore } from '../../app/alerts/store.js';
import { ConflictError } from '../../domain/errors.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { JournalTable } from './dynamodb-journal.js';
import { awsCall } from './errors.js';

const CLAIM_PREFIX = 'alert-claim#';
const REMEDIATION_PREFIX = 'remediation#';

/** Remediations are kept this long after they were decided (rate limits and cool-downs look back far less). */
const KEEP_SECONDS = 30 * 86_400;

export interface DynamoDbRemediationsOptions extends AwsClientSettings {
  /** The journal table: claims and remediations live beside the rotation records, under their own key prefixes. */
  readonly tableName: string;
  /** The inventory (stack) whose remediations this store keeps; one table may serve several. */
  readonly inventory: string;
  readonly client?: DynamoDBClient;
  readonly now?: () => number;
}

interface StoredRemediation {
  readonly pk: string;
  /** byItem index: `remediation#<inventory>#<rule>#<item>`, sorted by decidedAt (never equal to a rotation's itemKey). */
  readonly itemKey: string;
  readonly startedAt: string;
  /** byStatus index: `remediation#<status>` (never equal to a rotation status). */
  readonly status: string;
  readonly expiresAt: number;
  readonly remediation: Remediation;
}

const statusKey = (s: RemediationStatus): string => `${REMEDIATION_PREFIX}${s}`;

/**
 * The RemediationStore on DynamoDB (the journal table). A delivery claim is a conditional put of
 * `alert-claim#<key>` that succeeds only if no unexpired claim exists; `expiresAt` is the table's TTL attribute, and
 * since TTL deletes lazily an expired claim still present is taken over by the same condition. A remediation is
 * `remediation#<id>`, indexed by rule and item (byItem) and by status (byStatus); a status change is a put
 * conditional on the status read, so two approvals never both act.
 */
export class DynamoDbRemediationStore implements RemediationStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly now: () => number;
  private readonly inventory: string;

  constructor(options: DynamoDbRemediationsOptions) {
    const client = options.client ?? new DynamoDBClient(clientConfig(options));
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false } });
    this.table = options.tableName;
    this.now = options.now ?? Date.now;
    this.inventory = options.inventory;
  }

  async claim(key: string, expiresAtSeconds: number): Promise<boolean> {
    try {
      await awsCall({ operation: 'DynamoDB PutItem (alert claim)', target: this.table }, () =>
        this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { pk: `${CLAIM_PREFIX}${key}`, [JournalTable.ttlAttribute]: expiresAtSeconds },
            ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
            ExpressionAttributeNames: { '#ttl': JournalTable.ttlAttribute },
            ExpressionAttributeValues: { ':now': Math.floor(this.now() / 1000) },
          }),
        ),
      );
      return true;
    } catch (e) {
      if (e instanceof ConflictError) return false;
      throw e;
    }
  }

  private itemOf(r: Remediation): StoredRemediation {
    return {
      pk: `${REMEDIATION_PREFIX}${r.id}`,
      itemKey: `${REMEDIATION_PREFIX}${r.inventory}#${r.rule}#${r.item}`,
      startedAt: r.decidedAt,
      status: statusKey(r.status),
      expiresAt: Math.floor(Date.parse(r.decidedAt) / 1000) + KEEP_SECONDS,
      remediation: r,
    };
  }

  async put(remediation: Remediation): Promise<void> {
    await awsCall({ operation: 'DynamoDB PutItem (remediation)', target: this.table, context: { item: remediation.item } }, () =>
      this.doc.send(new PutCommand({ TableName: this.table, Item: this.itemOf(remediation) })),
    );
  }

  async get(id: string): Promise<Remediation | undefined> {
    const out = await awsCall({ operation: 'DynamoDB GetItem (remediation)', target: this.table }, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: `${REMEDIATION_PREFIX}${id}` }, ConsistentRead: true })),
    );
    return (out.Item as StoredRemediation | undefined)?.remediation;
  }

  async recent(rule: string, item: string, sinceIso: string): Promise<Remediation[]> {
    return (
      await this.query({
        IndexName: JournalTable.itemIndex,
        KeyConditionExpression: '#k = :k AND #t >= :since',
        ExpressionAttributeNames: { '#k': JournalTable.itemKey, '#t': JournalTable.sortKey },
        ExpressionAttributeValues: { ':k': `${REMEDIATION_PREFIX}${this.inventory}#${rule}#${item}`, ':since': sinceIso },
      })
    ).filter((r) => r.rule === rule && r.item === item);
  }

  async listPending(): Promise<Remediation[]> {
    const pending = await this.query({
      IndexName: JournalTable.statusIndex,
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': JournalTable.statusKey },
      ExpressionAttributeValues: { ':s': statusKey('pending') },
    });
    // The index is eventually consistent: read each again so a just-approved one is not offered.
    const fresh = await Promise.all(pending.map((r) => this.get(r.id)));
    return fresh.filter((r): r is Remediation => r?.status === 'pending' && r.inventory === this.inventory);
  }

  async transition(id: string, from: RemediationStatus, next: Remediation): Promise<boolean> {
    try {
      await awsCall({ operation: 'DynamoDB PutItem (remediation transition)', target: this.table }, () =>
        this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...this.itemOf(next), pk: `${REMEDIATION_PREFIX}${id}` },
            ConditionExpression: '#s = :from',
            ExpressionAttributeNames: { '#s': JournalTable.statusKey },
            ExpressionAttributeValues: { ':from': statusKey(from) },
          }),
        ),
      );
      return true;
    } catch (e) {
      if (e instanceof ConflictError) return false;
      throw e;
    }
  }

  private async query(input: Omit<QueryCommandInput, 'TableName'>): Promise<Remediation[]> {
    const out: Remediation[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await awsCall({ operation: `DynamoDB Query ${input.IndexName ?? ''} (remediations)`, target: this.table }, () =>
        this.doc.send(new QueryCommand({ TableName: this.table, ...input, ...(start && { ExclusiveStartKey: start }) })),
      );
      for (const item of page.Items ?? []) out.push((item as StoredRemediation).remediation);
      start = page.LastEvaluatedKey;
    } while (start);
    return out.sort((a, b) => a.decidedAt.localeCompare(b.decidedAt));
  }
}
