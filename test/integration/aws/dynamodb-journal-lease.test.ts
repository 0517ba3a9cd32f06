import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbJournal } from '../../../shared/adapters/aws/dynamodb-journal.js';
import { RotationStatus, Trigger, type RotationRecord } from '../../../shared/domain/rotation/record.js';
import { LeaseHeldError } from '../../../shared/ports/journal.js';
import { freshResources, useMoto } from './moto.js';
import { leafRecord } from '../../fixtures/rotation-record.js';

let journal: DynamoDbJournal;
let inventory: string;

beforeAll(async () => {
  await useMoto();
  const r = await freshResources('lease');
  journal = new DynamoDbJournal({ tableName: r.journalTable, region: 'us-east-1' });
  inventory = r.prefix;
});

const at = (minutes: number) => new Date(Date.UTC(2030, 0, 1, 0, minutes)).toISOString();

const record = (item: string, overrides: Partial<RotationRecord> = {}): RotationRecord =>
  leafRecord({
    id: randomUUID(),
    inventory,
    item,
    step: 'sync',
    trigger: Trigger.Schedule,
    reason: 'due',
    startedAt: at(0),
    updatedAt: at(0),
    lease: { owner: 'lambda:dead', expiresAt: at(2) },
    ...overrides,
  });

describe('DynamoDbJournal leases on moto', () => {
  it("a dead worker's lease: refused while live, taken over once expired, then renewed by its new owner", async () => {
    // Prepare
    const r = record('web');
    await journal.create(r);
    // Act
    const early = await journal.claimLease(r.id, { owner: 'lambda:next', expiresAt: at(3), now: at(1) }).catch((e: unknown) => e);
    const taken = await journal.claimLease(r.id, { owner: 'lambda:next', expiresAt: at(4), now: at(2) });
    const renewed = await journal.claimLease(r.id, { owner: 'lambda:next', expiresAt: at(5), now: at(3) });
    const late = await journal.claimLease(r.id, { owner: 'lambda:dead', expiresAt: at(6), now: at(3) }).catch((e: unknown) => e);
    // Assess
    expect(early).toBeInstanceOf(LeaseHeldError);
    expect(taken?.lease).toEqual({ owner: 'lambda:next', expiresAt: at(4) });
    expect(renewed?.revision).toBe(3);
    expect(late).toBeInstanceOf(LeaseHeldError);
    expect(await journal.get(r.id)).toEqual({ ...r, revision: 3, lease: { owner: 'lambda:next', expiresAt: at(5) } });
  });

  it('five workers claim an expired lease at once: exactly one gets it', async () => {
    // Prepare
    const r = record('db');
    await journal.create(r);
    // Act
    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((n) => journal.claimLease(r.id, { owner: `lambda:${n}`, expiresAt: at(10), now: at(5) })),
    );
    // Assess
    const winners = results.filter((x): x is PromiseFulfilledResult<RotationRecord | undefined> => x.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    expect(results.filter((x) => x.status === 'rejected').every((x) => x.reason instanceof LeaseHeldError)).toBe(true);
    expect((await journal.get(r.id))?.lease?.owner).toBe(winners[0]!.value?.lease?.owner);
  });

  it('a finished rotation is not claimed; a revision-conditional update after a takeover loses (the old worker cannot write)', async () => {
    // Prepare
    const r = record('api');
    await journal.create(r);
    await journal.claimLease(r.id, { owner: 'lambda:next', expiresAt: at(10), now: at(5) });
    // Act: the dead worker comes back and writes from the revision it had read
    const stale = await journal.update({ ...r, step: 'restart', revision: 2 }).catch((e: unknown) => e);
    const finished = { ...(await journal.get(r.id))!, status: RotationStatus.Completed, revision: 3 };
    await journal.update(finished);
    const after = await journal.claimLease(r.id, { owner: 'lambda:other', expiresAt: at(20), now: at(15) });
    // Assess
    expect(stale).toBeInstanceOf(Error);
    expect(after).toEqual(finished);
  });
});
