import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbJournal, JournalTable } from '../../../shared/adapters/aws/dynamodb-journal.js';
import { provisionAwsResources, resourceNames } from '../../../shared/adapters/aws/provision.js';
import { useMoto } from './moto.js';

/**
 * A journal table made before the renewal index existed: provisioning again adds the missing GSI (UpdateTable), after
 * which the index answers; a third run changes nothing.
 */

const region = process.env.AWS_REGION ?? 'us-east-1';
let ddb: DynamoDBClient;

beforeAll(async () => {
  await useMoto();
  ddb = new DynamoDBClient({ region });
});

/** The table as rekey created it before the renewal index: byItem and byStatus only. */
async function createOldJournalTable(table: string): Promise<void> {
  const t = JournalTable;
  const index = (name: string, hash: string) => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: hash, KeyType: 'HASH' as const },
      { AttributeName: t.sortKey, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  await ddb.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [t.partitionKey, t.itemKey, t.statusKey, t.sortKey].map((a) => ({ AttributeName: a, AttributeType: 'S' })),
      KeySchema: [{ AttributeName: t.partitionKey, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [index(t.itemIndex, t.itemKey), index(t.statusIndex, t.statusKey)],
    }),
  );
}

const indexesOf = async (table: string) =>
  ((await ddb.send(new DescribeTableCommand({ TableName: table }))).Table?.GlobalSecondaryIndexes ?? []).map(
    (i) => `${i.IndexName ?? ''}:${i.IndexStatus ?? ''}`,
  );

describe('provisioning an existing journal table', () => {
  it('adds the renewal index a table from before it lacks, once; the index then answers', async () => {
    // Prepare
    const prefix = `upgrade-${randomBytes(4).toString('hex')}`;
    const table = resourceNames(prefix).journalTable;
    await createOldJournalTable(table);
    expect((await indexesOf(table)).sort()).toEqual(['byItem:ACTIVE', 'byStatus:ACTIVE']);
    const send = vi.spyOn(ddb, 'send');

    // Act
    await provisionAwsResources({ prefix, region, clients: { dynamodb: ddb } });
    const updates = send.mock.calls.filter(([c]) => c instanceof UpdateTableCommand).length;
    await provisionAwsResources({ prefix, region, clients: { dynamodb: ddb } });
    const updatesAgain = send.mock.calls.filter(([c]) => c instanceof UpdateTableCommand).length - updates;

    // Assess
    expect((await indexesOf(table)).sort()).toEqual(['byItem:ACTIVE', 'byRenewal:ACTIVE', 'byStatus:ACTIVE']);
    expect([updates, updatesAgain]).toEqual([1, 0]);
    const journal = new DynamoDbJournal({ tableName: table, client: ddb });
    const past = new Date(Date.now() - 60_000).toISOString();
    const future = new Date(Date.now() + 3600_000).toISOString();
    await journal.putRenewals(prefix, [
      { unit: `rekey/${prefix}/due`, renewAt: past, versionId: 'v1' },
      { unit: `rekey/${prefix}/later`, renewAt: future, versionId: 'v1' },
    ]);
    expect((await journal.dueRenewals(prefix, new Date())).map((e) => e.unit)).toEqual([`rekey/${prefix}/due`]);
  });
});
