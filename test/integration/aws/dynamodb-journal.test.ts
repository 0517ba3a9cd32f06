import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbJournal } from '../../../shared/adapters/aws/dynamodb-journal.js';
import { ConflictError, RotationLockedError } from '../../../shared/domain/errors.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../shared/domain/rotation/record.js';
import { freshResources, useMoto } from './moto.js';
import { leafRecord } from '../../fixtures/rotation-record.js';

let journal: DynamoDbJournal;
let inventory: string;

beforeAll(async () => {
  await useMoto();
  const r = await freshResources('journal');
  journal = new DynamoDbJournal({ tableName: r.journalTable, region: 'us-east-1' });
  inventory = r.prefix;
});

function record(item: string, overrides: Partial<RotationRecord> = {}): RotationRecord {
  const now = new Date().toISOString();
  return leafRecord({
    id: randomUUID(),
    inventory,
    item,
    trigger: Trigger.Schedule,
    reason: 'due',
    startedAt: now,
    updatedAt: now,
    ...overrides,
  });
}

describe('DynamoDbJournal on moto', () => {
  it('creates, reads back exactly, and updates only from the revision read', async () => {
    // Prepare
    const r = record('web', {
      restarts: { dc1: { state: 'requested', at: '2030-01-01T00:00:00.000Z', workloads: ['Deployment/shop/web'] } },
    });

    // Act
    await journal.create(r);
    const read = await journal.get(r.id);
    const next = { ...r, step: 'test' as const, revision: 2 };
    await journal.update(next);
    const stale = await journal.update({ ...r, step: 'promote', revision: 2 }).catch((e: unknown) => e);

    // Assess
    expect(read).toEqual(r);
    expect(stale).toBeInstanceOf(ConflictError);
    expect((await journal.get(r.id))?.step).toBe('test');
    await expect(journal.create(r)).rejects.toBeInstanceOf(ConflictError);
  });

  it('two concurrent rotations of one item: exactly one is created, the other is RotationLockedError', async () => {
    // Prepare
    const a = record('api');
    const b = record('api');

    // Act
    const results = await Promise.allSettled([journal.create(a), journal.create(b)]);

    // Assess
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(RotationLockedError);
    expect(await journal.listByItem(inventory, 'api')).toHaveLength(1);
  });

  it('finishing a rotation frees the item; the next one starts; queries by item and by status see both', async () => {
    // Prepare
    const first = record('db');
    await journal.create(first);

    // Act
    await journal.update({
      ...first,
      status: RotationStatus.Completed,
      revision: 2,
      finishedAt: new Date().toISOString(),
      expiresAt: Math.floor(Date.now() / 1000) + 86_400,
    });
    const second = record('db');
    await journal.create(second);

    // Assess
    const byItem = await journal.listByItem(inventory, 'db');
    expect(byItem.map((r) => r.id)).toEqual([first.id, second.id]);
    expect(byItem[0]?.expiresAt).toBeGreaterThan(0);
    expect((await journal.listByStatus(RotationStatus.Completed)).map((r) => r.id)).toContain(first.id);
    expect((await journal.listByStatus(RotationStatus.Running)).map((r) => r.id)).toContain(second.id);
  });

  it('updates racing on one revision: exactly one wins', async () => {
    // Prepare
    const r = record('race');
    await journal.create(r);

    // Act
    const results = await Promise.allSettled(
      (['test', 'promote', 'sync'] as const).map((step) => journal.update({ ...r, step, revision: 2 })),
    );

    // Assess
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((x) => x.status === 'rejected').every((x) => x.reason instanceof ConflictError)).toBe(true);
  });
});
