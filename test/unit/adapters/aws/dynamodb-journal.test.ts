import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbJournal } from '../../../../shared/adapters/aws/dynamodb-journal.js';
import { ConflictError, RotationLockedError, TransientError } from '../../../../shared/domain/errors.js';
import { RotationStatus, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { leafRecord } from '../../../fixtures/rotation-record.js';

expect.extend(allCustomMatcher);

const TABLE = 'rekey-dev-journal';
const doc = mockClient(DynamoDBDocumentClient);
let journal: DynamoDbJournal;

const record = (id: string, overrides: Partial<RotationRecord> = {}): RotationRecord => leafRecord({ id, ...overrides });

const cancelled = (codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

beforeEach(() => {
  doc.reset();
  journal = new DynamoDbJournal({ tableName: TABLE, client: new DynamoDBClient({ region: 'us-east-1' }) });
});

describe('DynamoDbJournal.create', () => {
  it('writes the record and the item lock in one transaction, both conditional on not existing', async () => {
    // Prepare
    doc.on(TransactWriteCommand).resolves({});

    // Act
    await journal.create(record('r-1'));

    // Assess
    const items = doc.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items[0]!.Put).toMatchObject({
      TableName: TABLE,
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: { pk: 'rotation#r-1', itemKey: 'shop#web', status: 'running', revision: 1 },
    });
    expect(items[1]!.Put).toMatchObject({
      TableName: TABLE,
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: { pk: 'lock#shop#web', rotationId: 'r-1' },
    });
  });

  it('a record that exists already is a ConflictError', async () => {
    // Prepare
    doc.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None']));

    // Act + Assess
    await expect(journal.create(record('r-1'))).rejects.toBeInstanceOf(ConflictError);
  });

  it('a running rotation of the same item holds the lock: RotationLockedError naming it', async () => {
    // Prepare
    doc.on(TransactWriteCommand).rejects(cancelled(['None', 'ConditionalCheckFailed']));
    doc.on(GetCommand, { Key: { pk: 'lock#shop#web' } }).resolves({ Item: { pk: 'lock#shop#web', rotationId: 'r-0' } });
    doc.on(GetCommand, { Key: { pk: 'rotation#r-0' } }).resolves({ Item: { ...record('r-0'), pk: 'rotation#r-0', itemKey: 'shop#web' } });

    // Act
    const error = await journal.create(record('r-1')).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RotationLockedError);
    expect((error as RotationLockedError).context).toMatchObject({ heldBy: 'r-0', rotationId: 'r-1' });
  });

  it('takes over a lock left by a finished rotation, conditionally on it still being that one', async () => {
    // Prepare
    doc
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(['None', 'ConditionalCheckFailed']))
      .resolves({});
    doc.on(GetCommand, { Key: { pk: 'lock#shop#web' } }).resolves({ Item: { pk: 'lock#shop#web', rotationId: 'r-0' } });
    doc
      .on(GetCommand, { Key: { pk: 'rotation#r-0' } })
      .resolves({ Item: { ...record('r-0', { status: RotationStatus.Completed }), pk: 'rotation#r-0', itemKey: 'shop#web' } });

    // Act
    await journal.create(record('r-1'));

    // Assess
    const second = doc.commandCalls(TransactWriteCommand)[1]!.args[0].input.TransactItems![1]!.Put!;
    expect(second.ConditionExpression).toBe('rotationId = :stale');
    expect(second.ExpressionAttributeValues).toEqual({ ':stale': 'r-0' });
  });

  it('a finished record (an import) is written without the lock', async () => {
    // Prepare
    doc.on(PutCommand).resolves({});

    // Act
    await journal.create(record('r-9', { status: RotationStatus.Completed }));

    // Assess
    expect(doc).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    expect(doc).toHaveReceivedCommandWith(PutCommand, { ConditionExpression: 'attribute_not_exists(pk)' });
  });
});

describe('DynamoDbJournal.update', () => {
  it('replaces the record on condition revision = record.revision - 1', async () => {
    // Prepare
    doc.on(PutCommand).resolves({});

    // Act
    await journal.update(record('r-1', { revision: 4, step: 'promote' }));

    // Assess
    expect(doc).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      ConditionExpression: 'attribute_exists(pk) AND revision = :prev',
      ExpressionAttributeValues: { ':prev': 3 },
    });
    expect(doc).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('a lost condition is a ConflictError (another worker advanced the rotation)', async () => {
    // Prepare
    doc.on(PutCommand).rejects(conditionFailed());

    // Act
    const error = await journal.update(record('r-1', { revision: 2 })).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toMatch(/expected revision 1/);
  });

  it('finishing a rotation stores expiresAt (TTL) and releases the item lock in the same transaction', async () => {
    // Prepare
    doc.on(TransactWriteCommand).resolves({});

    // Act
    await journal.update(record('r-1', { revision: 7, status: RotationStatus.Completed, expiresAt: 1_900_000_000 }));

    // Assess
    const items = doc.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items[0]!.Put).toMatchObject({
      Item: { expiresAt: 1_900_000_000, status: 'completed' },
      ConditionExpression: 'attribute_exists(pk) AND revision = :prev',
      ExpressionAttributeValues: { ':prev': 6 },
    });
    expect(items[1]!.Delete).toMatchObject({
      Key: { pk: 'lock#shop#web' },
      ConditionExpression: 'attribute_not_exists(pk) OR rotationId = :id',
      ExpressionAttributeValues: { ':id': 'r-1' },
    });
    expect(doc).toHaveReceivedCommandTimes(PutCommand, 0);
  });

  it('a lock already taken over by a newer rotation is left alone: the record is written without it', async () => {
    // Prepare
    doc.on(TransactWriteCommand).rejects(cancelled(['None', 'ConditionalCheckFailed']));
    doc.on(PutCommand).resolves({});

    // Act
    await expect(journal.update(record('r-1', { revision: 3, status: RotationStatus.Failed }))).resolves.toBeUndefined();

    // Assess
    expect(doc).toHaveReceivedCommandWith(PutCommand, {
      ConditionExpression: 'attribute_exists(pk) AND revision = :prev',
      ExpressionAttributeValues: { ':prev': 2 },
    });
  });

  it('finishing a record that moved on is a ConflictError', async () => {
    // Prepare
    doc.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None']));

    // Act
    const error = await journal.update(record('r-1', { revision: 3, status: RotationStatus.Completed })).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(doc).toHaveReceivedCommandTimes(PutCommand, 0);
  });

  it('a run that promoted writes its renewal rows in the same transaction as the record (one call)', async () => {
    // Prepare
    doc.on(TransactWriteCommand).resolves({});
    const entry = { unit: 'rekey/shop/web', renewAt: '2030-03-01T00:00:00.000Z', versionId: 'r-9' };

    // Act
    await journal.update(record('r-9', { revision: 3, step: 'restart' }), { renewals: [entry] });

    // Assess
    expect(doc).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(doc).toHaveReceivedCommandTimes(PutCommand, 0);
    const items = doc.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items).toHaveLength(2);
    expect(items[1]!.Put!.Item).toEqual({
      pk: 'renew#rekey/shop/web',
      renewPart: 'shop',
      renewKey: '2030-03-01T00:00:00.000Z#rekey/shop/web',
      unit: 'rekey/shop/web',
      renewAt: '2030-03-01T00:00:00.000Z',
      versionId: 'r-9',
    });
  });

  it('dueRenewals queries the byRenewal index up to the instant, every unit due by then included', async () => {
    // Prepare
    doc.on(QueryCommand).resolves({ Items: [{ unit: 'rekey/shop/web', renewAt: '2030-01-01T00:00:00.000Z', versionId: 'v1' }] });

    // Act
    const due = await journal.dueRenewals('shop', new Date('2030-01-02T00:00:00.000Z'));

    // Assess
    expect(due).toEqual([{ unit: 'rekey/shop/web', renewAt: '2030-01-01T00:00:00.000Z', versionId: 'v1' }]);
    expect(doc).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'byRenewal',
      KeyConditionExpression: '#p = :p AND #k < :until',
      ExpressionAttributeValues: { ':p': 'shop', ':until': '2030-01-02T00:00:00.000Z$' },
    });
  });

  it('throttling is a TransientError', async () => {
    // Prepare
    doc
      .on(PutCommand)
      .rejects(Object.assign(new Error('slow'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } }));

    // Act + Assess
    await expect(journal.update(record('r-1', { revision: 2 }))).rejects.toBeInstanceOf(TransientError);
  });
});

describe('DynamoDbJournal reads', () => {
  it('get reads consistently and strips the table keys', async () => {
    // Prepare
    doc.on(GetCommand).resolves({ Item: { ...record('r-1'), pk: 'rotation#r-1', itemKey: 'shop#web' } });

    // Act
    const r = await journal.get('r-1');

    // Assess
    expect(r).toEqual(record('r-1'));
    expect(doc).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: { pk: 'rotation#r-1' }, ConsistentRead: true });
  });

  it('get of a missing rotation is undefined', async () => {
    doc.on(GetCommand).resolves({});
    expect(await journal.get('nope')).toBeUndefined();
  });

  it('listByItem queries the byItem index through every page, oldest first', async () => {
    // Prepare
    doc
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ ...record('r-2', { startedAt: '2030-02-01T00:00:00.000Z' }), pk: 'rotation#r-2', itemKey: 'shop#web' }],
        LastEvaluatedKey: { pk: 'rotation#r-2' },
      })
      .resolvesOnce({ Items: [{ ...record('r-1'), pk: 'rotation#r-1', itemKey: 'shop#web' }] });

    // Act
    const list = await journal.listByItem('shop', 'web');

    // Assess
    expect(list.map((r) => r.id)).toEqual(['r-1', 'r-2']);
    expect(doc).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      IndexName: 'byItem',
      KeyConditionExpression: 'itemKey = :k',
      ExpressionAttributeValues: { ':k': 'shop#web' },
    });
    expect(doc).toHaveReceivedNthCommandWith(QueryCommand, 2, { ExclusiveStartKey: { pk: 'rotation#r-2' } });
  });

  it('listByStatus queries the byStatus index (status is a reserved word)', async () => {
    // Prepare
    doc.on(QueryCommand).resolves({ Items: [] });

    // Act
    await journal.listByStatus(RotationStatus.Failed);

    // Assess
    expect(doc).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'byStatus',
      KeyConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': 'failed' },
    });
  });
});
