import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, RotationLockedError, TransientError } from '../../domain/errors.js';
import { isFinished, RotationStatus, type ClusterRestart, type RotationRecord } from '../../domain/rotation/record.js';
import { LeaseHeldError, type Journal, type JournalWriteExtras, type LeaseClaim } from '../../ports/journal.js';
import type { ReconcileMark, RenewalEntry, RenewalIndex } from '../../ports/renewal-index.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { awsCall, awsErrorName, translateAwsError } from './errors.js';

/** The table's shape; serverless.yml and the local provisioning create exactly this. */
export const JournalTable = {
  partitionKey: 'pk',
  itemIndex: 'byItem',
  itemKey: 'itemKey',
  statusIndex: 'byStatus',
  statusKey: 'status',
  sortKey: 'startedAt',
  ttlAttribute: 'expiresAt',
  /** Renewal index: one row per unit (`renew#<unit>`), partitioned by inventory, sorted by `<renewAt>#<unit>`. */
  renewalIndex: 'byRenewal',
  renewalPartition: 'renewPart',
  renewalSort: 'renewKey',
} as const;

const RENEWAL_PREFIX = 'renew#';
const MARK_PREFIX = 'renewmark#';
/** DynamoDB's limits: 25 requests per BatchWriteItem, 100 items per TransactWriteItems. */
const BATCH_WRITE = 25;
const TRANSACTION_ITEMS = 100;

/** The table row of a renewal entry. ISO instants of toISOString have one width, so the sort key orders by time. */
export function renewalRow(inventory: string, e: RenewalEntry): Record<string, string> {
  return {
    pk: `${RENEWAL_PREFIX}${e.unit}`,
    [JournalTable.renewalPartition]: inventory,
    [JournalTable.renewalSort]: `${e.renewAt}#${e.unit}`,
    unit: e.unit,
    renewAt: e.renewAt,
    versionId: e.versionId,
  };
}

const entryOf = (item: Record<string, unknown>): RenewalEntry => ({
  unit: String(item.unit),
  renewAt: String(item.renewAt),
  versionId: String(item.versionId),
});

const ROTATION_PREFIX = 'rotation#';
const LOCK_PREFIX = 'lock#';

export const rotationKeyOf = (id: string): string => `${ROTATION_PREFIX}${id}`;
export const itemKeyOf = (inventory: string, item: string): string => `${inventory}#${item}`;
const lockKeyOf = (inventory: string, item: string): string => `${LOCK_PREFIX}${itemKeyOf(inventory, item)}`;

export interface DynamoDbJournalOptions extends AwsClientSettings {
  readonly tableName: string;
  /** A DynamoDB client (the document client is built on it); tests pass a mocked one. */
  readonly client?: DynamoDBClient;
}

type StoredRecord = RotationRecord & { pk: string; itemKey: string };

function toItem(record: RotationRecord): StoredRecord {
  return { ...record, pk: rotationKeyOf(record.id), itemKey: itemKeyOf(record.inventory, record.item) };
}

function fromItem(item: Record<string, unknown>): RotationRecord {
  const { pk: _pk, itemKey: _itemKey, ...record } = item as unknown as StoredRecord;
  return record;
}

/** Why a transaction was cancelled, per item in request order (lib-dynamodb passes the service's reasons through). */
function cancellationCodes(e: unknown): (string | undefined)[] {
  const reasons = (e as { CancellationReasons?: { Code?: string }[] } | undefined)?.CancellationReasons ?? [];
  return reasons.map((r) => (r.Code && r.Code !== 'None' ? r.Code : undefined));
}

/**
 * Journal on DynamoDB. Records are items keyed `rotation#<id>` with `itemKey` = `<inventory>#<item>`; GSIs
 * `byItem` (itemKey, startedAt) and `byStatus` (status, startedAt) answer the two listings (eventually
 * consistent); `expiresAt` is the table's TTL attribute. Every update is conditional on the revision it read, so
 * two workers never both advance a step. A running rotation also holds the item's lock item (`lock#<itemKey>`,
 * written in the same transaction as the record), so two rotations of one item are never both started, even by
 * two schedulers at once; the update that finishes the rotation releases it.
 *
 * The same table holds the renewal index (RenewalIndex): a row per unit, `renew#<unit>`, with GSI `byRenewal`
 * (`renewPart` = inventory, `renewKey` = `<renewAt>#<unit>`). A run's record write carries the rows of the units it
 * promoted in the same transaction, so keeping the index current costs a leaf rotation no extra call.
 */
export class DynamoDbJournal implements Journal, RenewalIndex {
  readonly client: DynamoDBClient;
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(options: DynamoDbJournalOptions) {
    this.client = options.client ?? new DynamoDBClient(clientConfig(options));
    this.doc = DynamoDBDocumentClient.from(this.client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
    this.table = options.tableName;
  }

  async create(record: RotationRecord): Promise<void> {
    const item = toItem(record);
    const context = { rotationId: record.id, item: record.item };
    if (isFinished(record)) {
      await this.putNew(item);
      return;
    }
    let holder: string | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const lock = { pk: lockKeyOf(record.inventory, record.item), rotationId: record.id, startedAt: record.startedAt };
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
              {
                Put: {
                  TableName: this.table,
                  Item: lock,
                  // Free, or held by a rotation that has finished (its release was lost) and was seen as such.
                  ConditionExpression: holder === undefined ? 'attribute_not_exists(pk)' : 'rotationId = :stale',
                  ...(holder !== undefined && { ExpressionAttributeValues: { ':stale': holder } }),
                },
              },
            ],
          }),
        );
        return;
      } catch (e) {
        const codes = cancellationCodes(e);
        if (awsErrorName(e) !== 'TransactionCanceledException' || !codes.some(Boolean)) {
          throw translateAwsError(e, { operation: 'DynamoDB TransactWriteItems', target: this.table, context });
        }
        if (codes[0]) throw new ConflictError(`rotation ${record.id} already exists`, context);
        const current = await this.lockHolder(record.inventory, record.item);
        if (current === undefined) {
          holder = undefined;
          continue;
        }
        const held = await this.get(current);
        if (held && !isFinished(held)) throw new RotationLockedError(record.item, current, record.id);
        holder = current; // stale: take it over, conditionally on it still being this one
      }
    }
    throw new ConflictError(`rotation ${record.id}: the lock of item ${record.item} kept changing; try again`, context);
  }

  private async putNew(item: StoredRecord): Promise<void> {
    try {
      await awsCall({ operation: 'DynamoDB PutItem', target: this.table, context: { rotationId: item.id } }, () =>
        this.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })),
      );
    } catch (e) {
      if (e instanceof ConflictError) throw new ConflictError(`rotation ${item.id} already exists`, { rotationId: item.id });
      throw e;
    }
  }

  private async lockHolder(inventory: string, item: string): Promise<string | undefined> {
    const out = await awsCall({ operation: 'DynamoDB GetItem', target: this.table }, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: lockKeyOf(inventory, item) }, ConsistentRead: true })),
    );
    return out.Item?.rotationId as string | undefined;
  }

  async get(rotationId: string): Promise<RotationRecord | undefined> {
    const out = await awsCall({ operation: 'DynamoDB GetItem', target: this.table, context: { rotationId } }, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: rotationKeyOf(rotationId) }, ConsistentRead: true })),
    );
    return out.Item ? fromItem(out.Item) : undefined;
  }

  async update(record: RotationRecord, extras: JournalWriteExtras = {}): Promise<void> {
    const context = { rotationId: record.id, item: record.item };
    const put = {
      TableName: this.table,
      Item: toItem(record),
      ConditionExpression: 'attribute_exists(pk) AND revision = :prev',
      ExpressionAttributeValues: { ':prev': record.revision - 1 },
    };
    const conflict = () =>
      new ConflictError(`rotation ${record.id} changed since it was read (expected revision ${record.revision - 1})`, context);
    const finishing = isFinished(record);
    const rows = (extras.renewals ?? []).map((e) => renewalRow(record.inventory, e));
    // Rows beyond one transaction's room (a perReplica certificate with very many replicas) follow in batches.
    const room = TRANSACTION_ITEMS - (finishing ? 2 : 1);
    const [inline, later] = [rows.slice(0, room), rows.slice(room)];
    let written = false;
    if (finishing || inline.length) {
      // The record, the lock's release when it finishes (a lock another rotation took over meanwhile cancels the
      // transaction; the record is then written alone, the lock not being ours to free) and the renewal rows.
      const lock = {
        Delete: {
          TableName: this.table,
          Key: { pk: lockKeyOf(record.inventory, record.item) },
          ConditionExpression: 'attribute_not_exists(pk) OR rotationId = :id',
          ExpressionAttributeValues: { ':id': record.id },
        },
      };
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: put },
              ...(finishing ? [lock] : []),
              ...inline.map((Item) => ({ Put: { TableName: this.table, Item } })),
            ],
          }),
        );
        written = true;
      } catch (e) {
        const codes = cancellationCodes(e);
        if (awsErrorName(e) !== 'TransactionCanceledException' || !codes.some(Boolean))
          throw translateAwsError(e, { operation: 'DynamoDB TransactWriteItems', target: this.table, context });
        if (codes[0]) throw conflict();
      }
    }
    if (!written) {
      try {
        await awsCall({ operation: 'DynamoDB PutItem', target: this.table, context }, () => this.doc.send(new PutCommand(put)));
      } catch (e) {
        if (e instanceof ConflictError) throw conflict();
        throw e;
      }
    }
    const rest = written ? later : rows;
    if (rest.length) await this.batchWrite(rest.map((Item) => ({ PutRequest: { Item } })));
  }

  async putRenewals(inventory: string, entries: readonly RenewalEntry[]): Promise<void> {
    await this.batchWrite(entries.map((e) => ({ PutRequest: { Item: renewalRow(inventory, e) } })));
  }

  async removeRenewals(_inventory: string, units: readonly string[]): Promise<void> {
    await this.batchWrite(units.map((u) => ({ DeleteRequest: { Key: { pk: `${RENEWAL_PREFIX}${u}` } } })));
  }

  /** One Query of the GSI (more only past 1 MB of due rows): `renewKey < "<until>$"` takes every unit due by then. */
  async dueRenewals(inventory: string, until: Date): Promise<RenewalEntry[]> {
    return (await this.renewalQuery(inventory, until.toISOString())).sort((a, b) => a.renewAt.localeCompare(b.renewAt));
  }

  async allRenewals(inventory: string): Promise<RenewalEntry[]> {
    return this.renewalQuery(inventory);
  }

  async reconcileMark(inventory: string): Promise<ReconcileMark | undefined> {
    const out = await awsCall({ operation: 'DynamoDB GetItem', target: this.table }, () =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: `${MARK_PREFIX}${inventory}` }, ConsistentRead: true })),
    );
    const item = out.Item;
    return item ? { digest: String(item.digest), reconciledAt: String(item.reconciledAt) } : undefined;
  }

  async markReconciled(inventory: string, mark: ReconcileMark): Promise<void> {
    await awsCall({ operation: 'DynamoDB PutItem', target: this.table }, () =>
      this.doc.send(new PutCommand({ TableName: this.table, Item: { pk: `${MARK_PREFIX}${inventory}`, ...mark } })),
    );
  }

  private async renewalQuery(inventory: string, until?: string): Promise<RenewalEntry[]> {
    const entries: RenewalEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await awsCall({ operation: `DynamoDB Query ${JournalTable.renewalIndex}`, target: this.table }, () =>
        this.doc.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: JournalTable.renewalIndex,
            KeyConditionExpression: until ? '#p = :p AND #k < :until' : '#p = :p',
            ExpressionAttributeNames: { '#p': JournalTable.renewalPartition, ...(until && { '#k': JournalTable.renewalSort }) },
            ExpressionAttributeValues: { ':p': inventory, ...(until && { ':until': `${until}$` }) },
            ...(start && { ExclusiveStartKey: start }),
          }),
        ),
      );
      for (const item of page.Items ?? []) entries.push(entryOf(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return entries;
  }

  /** BatchWriteItem in groups of 25, sending again what DynamoDB left unprocessed (with a growing pause). */
  private async batchWrite(requests: readonly Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH_WRITE) {
      let pending: Record<string, unknown>[] = requests.slice(i, i + BATCH_WRITE);
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 2000)));
        const out = await awsCall({ operation: 'DynamoDB BatchWriteItem', target: this.table }, () =>
          this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } })),
        );
        pending = out.UnprocessedItems?.[this.table] ?? [];
        if (attempt >= 8 && pending.length)
          throw new TransientError(`DynamoDB left ${pending.length} renewal row(s) unprocessed after ${attempt + 1} attempts; try again`);
      }
    }
  }

  /**
   * One conditional UpdateItem: the lease is granted only while the rotation runs and its lease is missing, the
   * claimer's, or ended by `claim.now` (ISO instants compare as strings). On Lambda this is how a redelivered step
   * message takes over the rotation of a worker that died: it is refused until the dead worker's lease expires.
   */
  async claimLease(rotationId: string, claim: LeaseClaim): Promise<RotationRecord | undefined> {
    const context = { rotationId };
    const free = claim.force ? '' : ' AND (attribute_not_exists(#lease) OR #lease.#owner = :owner OR #lease.#expires <= :now)';
    try {
      const out = await awsCall({ operation: 'DynamoDB UpdateItem', target: this.table, context }, () =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: rotationKeyOf(rotationId) },
            UpdateExpression: 'SET #lease = :lease, #rev = #rev + :one',
            ConditionExpression: `attribute_exists(pk) AND #status = :running${free}`,
            ExpressionAttributeNames: {
              '#lease': 'lease',
              '#rev': 'revision',
              '#status': 'status',
              ...(!claim.force && { '#owner': 'owner', '#expires': 'expiresAt' }),
            },
            ExpressionAttributeValues: {
              ':lease': { owner: claim.owner, expiresAt: claim.expiresAt },
              ':one': 1,
              ':running': RotationStatus.Running,
              ...(!claim.force && { ':owner': claim.owner, ':now': claim.now }),
            },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return out.Attributes ? fromItem(out.Attributes) : await this.get(rotationId);
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
    // The condition failed: say why from what is there now.
    const current = await this.get(rotationId);
    if (!current || isFinished(current)) return current;
    if (current.lease) throw new LeaseHeldError(rotationId, current.lease);
    throw new ConflictError(`rotation ${rotationId}: its lease changed while it was claimed; try again`, context);
  }

  /** One UpdateItem of the record's `restarts` map entry: restart workers of several clusters never overwrite each other. */
  async recordRestart(rotationId: string, cluster: string, restart: ClusterRestart, at: string): Promise<RotationRecord | undefined> {
    try {
      const out = await awsCall({ operation: 'DynamoDB UpdateItem', target: this.table, context: { rotationId, cluster } }, () =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: rotationKeyOf(rotationId) },
            UpdateExpression: 'SET #restarts.#cluster = :restart, #rev = #rev + :one, #updated = :at',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#restarts': 'restarts', '#cluster': cluster, '#rev': 'revision', '#updated': 'updatedAt' },
            ExpressionAttributeValues: { ':restart': restart, ':one': 1, ':at': at },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return out.Attributes ? fromItem(out.Attributes) : undefined;
    } catch (e) {
      if (e instanceof ConflictError) return undefined;
      throw e;
    }
  }

  /**
   * Nothing to sweep here: a lock item is written in the same transaction as its record, so it never exists
   * without one, and a lock whose rotation finished without releasing it is taken over by the next `create`.
   */
  async sweepLocks(_options: { readonly orphanAfterMs: number }): Promise<string[]> {
    return [];
  }

  listByItem(inventory: string, item: string): Promise<RotationRecord[]> {
    return this.query({
      IndexName: JournalTable.itemIndex,
      KeyConditionExpression: 'itemKey = :k',
      ExpressionAttributeValues: { ':k': itemKeyOf(inventory, item) },
    });
  }

  listByStatus(status: RotationRecord['status']): Promise<RotationRecord[]> {
    return this.query({
      IndexName: JournalTable.statusIndex,
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': status },
    });
  }

  private async query(input: Omit<QueryCommandInput, 'TableName'>): Promise<RotationRecord[]> {
    const records: RotationRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await awsCall({ operation: `DynamoDB Query ${input.IndexName}`, target: this.table }, () =>
        this.doc.send(new QueryCommand({ TableName: this.table, ...input, ...(start && { ExclusiveStartKey: start }) })),
      );
      for (const item of page.Items ?? []) records.push(fromItem(item));
      start = page.LastEvaluatedKey;
    } while (start);
    // Oldest first, like the embedded journal.
    return records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }
}
