import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbJournal } from '../../../../shared/adapters/aws/dynamodb-journal.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { LeaseHeldError } from '../../../../shared/ports/journal.js';
import { leafRecord } from '../../../fixtures/rotation-record.js';

const TABLE = 'rekey-dev-journal';
const doc = mockClient(DynamoDBDocumentClient);
let journal: DynamoDbJournal;

const record = (id: string, overrides: Partial<RotationRecord> = {}): RotationRecord =>
  leafRecord({ id, step: 'sync', revision: 4, trigger: Trigger.Schedule, reason: 'due', ...overrides });
const stored = (r: RotationRecord) => ({ ...r, pk: `rotation#${r.id}`, itemKey: 'shop#web' });
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const claim = { owner: 'lambda:req-2', expiresAt: '2030-01-01T00:04:00.000Z', now: '2030-01-01T00:02:00.000Z' };

beforeEach(() => {
  doc.reset();
  journal = new DynamoDbJournal({ tableName: TABLE, client: new DynamoDBClient({ region: 'us-east-1' }) });
});

describe('DynamoDbJournal.claimLease', () => {
  it('is one UpdateItem, conditional on the rotation running and its lease being free, its own, or ended by now', async () => {
    // Prepare
    const granted = record('r-1', { revision: 5, lease: { owner: claim.owner, expiresAt: claim.expiresAt } });
    doc.on(UpdateCommand).resolves({ Attributes: stored(granted) });
    // Act
    const out = await journal.claimLease('r-1', claim);
    // Assess
    const input = doc.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      TableName: TABLE,
      Key: { pk: 'rotation#r-1' },
      UpdateExpression: 'SET #lease = :lease, #rev = #rev + :one',
      ConditionExpression:
        'attribute_exists(pk) AND #status = :running AND (attribute_not_exists(#lease) OR #lease.#owner = :owner OR #lease.#expires <= :now)',
      ExpressionAttributeValues: {
        ':lease': { owner: claim.owner, expiresAt: claim.expiresAt },
        ':one': 1,
        ':running': 'running',
        ':owner': claim.owner,
        ':now': claim.now,
      },
      ReturnValues: 'ALL_NEW',
    });
    expect(out).toEqual(granted);
  });

  it('force drops the lease clause but keeps the running condition', async () => {
    // Prepare
    doc.on(UpdateCommand).resolves({ Attributes: stored(record('r-1')) });
    // Act
    await journal.claimLease('r-1', { ...claim, force: true });
    // Assess
    const input = doc.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('attribute_exists(pk) AND #status = :running');
    expect(input.ExpressionAttributeValues).not.toHaveProperty(':now');
  });

  it('a live lease of another worker: the condition fails and the error names the holder (retryable: SQS redelivers later)', async () => {
    // Prepare
    doc.on(UpdateCommand).rejects(conditionFailed());
    doc
      .on(GetCommand)
      .resolves({ Item: stored(record('r-1', { lease: { owner: 'lambda:req-1', expiresAt: '2030-01-01T00:03:00.000Z' } })) });
    // Act
    const error = await journal.claimLease('r-1', claim).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(LeaseHeldError);
    expect((error as LeaseHeldError).retryable).toBe(true);
    expect((error as LeaseHeldError).lease).toEqual({ owner: 'lambda:req-1', expiresAt: '2030-01-01T00:03:00.000Z' });
  });

  it('a finished rotation comes back unchanged, a missing one as undefined', async () => {
    // Prepare
    doc.on(UpdateCommand).rejects(conditionFailed());
    doc.on(GetCommand, { Key: { pk: 'rotation#done' } }).resolves({ Item: stored(record('done', { status: RotationStatus.Completed })) });
    doc.on(GetCommand, { Key: { pk: 'rotation#gone' } }).resolves({});
    // Act
    const done = await journal.claimLease('done', claim);
    const gone = await journal.claimLease('gone', claim);
    // Assess
    expect(done?.status).toBe(RotationStatus.Completed);
    expect(gone).toBeUndefined();
  });
});
