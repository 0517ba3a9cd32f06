import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scheduleHandler } from '../../../functions/schedule.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { RotationStatus } from '../../../shared/domain/rotation/record.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { testRuntime } from './fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-fn-schedule-');
});
afterEach(() => removeTempDir(dir));

describe('schedule function', () => {
  it('issues the missing root, starts the rotation of the never-issued leaf, and queues its first step', async () => {
    // Prepare
    const rt = testRuntime(dir);

    // Act
    const summary = await scheduleHandler(() => rt)({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });

    // Assess
    expect(summary).toMatchObject({ started: 1, issued: 1 });
    const [record] = await rt.journal.listByItem('shop', 'web');
    expect(record?.status).toBe(RotationStatus.Running);
    expect(summary.rotations).toEqual([record?.id]);
    expect(rt.queue.ready).toEqual([{ rotationId: record?.id, inventory: 'shop', item: 'web', step: 'issue', attempt: 0 }]);
    // A leaf rotation's start is a journal write and a queued step: RotationStarted goes out with its first run.
    expect(rt.bus.published.map((e) => e.type)).not.toContain(EventType.RotationStarted);
  });

  it('a second scan while the rotation runs starts nothing new', async () => {
    // Prepare
    const rt = testRuntime(dir);
    const handler = scheduleHandler(() => rt);
    await handler({});

    // Act
    const again = await handler({});

    // Assess
    expect(again.started).toBe(0);
    expect(await rt.journal.listByItem('shop', 'web')).toHaveLength(1);
  });

  it('rejects an input of the wrong shape without scanning', async () => {
    // Prepare
    const rt = testRuntime(dir);

    // Act
    const summary = await scheduleHandler(() => rt)({ repair: 'yes' });

    // Assess
    expect(summary.started).toBe(0);
    expect(await rt.journal.listByItem('shop', 'web')).toEqual([]);
  });
});
