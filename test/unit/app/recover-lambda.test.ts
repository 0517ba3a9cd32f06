import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scheduleHandler } from '../../../functions/schedule.js';
import { stepHandler } from '../../../functions/step.js';
import { RotationStatus } from '../../../shared/domain/rotation/record.js';
import type { StepMessage } from '../../../shared/ports/step-queue.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { sqsRecord, testRuntime, type TestRuntime } from '../functions/fixture.js';

// Takeover on Lambda: the step function claims the rotation's lease per delivery; the schedule re-queues
// rotations left stale. The runtime is the functions' test runtime (JSON journal, file vault, recording queue).

let dir: string;
let now: Date;
beforeEach(async () => {
  dir = await makeTempDir('rekey-recover-lambda-');
  now = new Date();
});
afterEach(() => removeTempDir(dir));

const runtime = (): TestRuntime => ({ ...testRuntime(dir), clock: { now: () => now } });
const schedule = (rt: TestRuntime) => scheduleHandler(() => rt)({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });

/** The schedule starts the leaf's rotation; its first step message. */
async function started(rt: TestRuntime): Promise<StepMessage> {
  expect((await schedule(rt)).started).toBe(1);
  return rt.queue.take()[0]!;
}

/** Delivers messages until none is left, as SQS would (one group, in order). */
async function deliverAll(rt: TestRuntime, first: StepMessage): Promise<void> {
  const handler = stepHandler(() => rt);
  let messages = [first];
  while (messages.length) {
    for (const m of messages) expect((await handler({ Records: [sqsRecord(m)] })).batchItemFailures).toEqual([]);
    messages = rt.queue.take();
  }
}

describe('takeover on Lambda', () => {
  it("a delivery while another worker's lease is live is retried, then left (the rotation is not failed); after the lease expires a redelivery takes over", async () => {
    // Prepare: a worker took the first step and died; its lease has a minute left
    const rt = runtime();
    const first = await started(rt);
    await rt.journal.claimLease(first.rotationId, {
      owner: 'lambda:dead:1',
      expiresAt: new Date(now.getTime() + 60_000).toISOString(),
      now: now.toISOString(),
    });
    const handler = stepHandler(() => rt);
    // Act
    const early = await handler({ Records: [sqsRecord(first, { receiveCount: 1 })] });
    const last = await handler({ Records: [sqsRecord(first, { receiveCount: 5 })] });
    const whileHeld = (await rt.journal.get(first.rotationId))!;
    now = new Date(now.getTime() + 120_000);
    await deliverAll(rt, first);
    // Assess
    expect(early.batchItemFailures).toHaveLength(1);
    expect(rt.queue.postponed).toHaveLength(1);
    expect(last.batchItemFailures).toEqual([]);
    expect(rt.queue.deadLetters).toEqual([]);
    expect(whileHeld.status).toBe(RotationStatus.Running);
    expect(whileHeld.step).toBe('issue');
    const final = (await rt.journal.get(first.rotationId))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect(final.lease?.owner).toMatch(/^lambda:msg-\d+:1$/);
  });

  it('each step releases its lease, so the next step runs at once in another invocation', async () => {
    // Prepare
    const rt = runtime();
    const first = await started(rt);
    // Act
    await deliverAll(rt, first);
    // Assess
    const final = (await rt.journal.get(first.rotationId))!;
    expect(final.status).toBe(RotationStatus.Completed);
    expect(final.history.map((h) => h.step)).toEqual(['issue', 'test', 'promote', 'sync', 'restart', 'verify']);
    expect(rt.queue.postponed).toEqual([]);
  });

  it('the schedule re-queues a rotation whose worker died and whose message was lost, once stale past a lease; the step completes it', async () => {
    // Prepare: a worker took the first message and died mid-run
    const rt = runtime();
    const first = await started(rt);
    // Its worker claimed it and died before recording anything; the message is lost.
    await rt.journal.claimLease(first.rotationId, {
      owner: 'lambda:dead:1',
      expiresAt: new Date(now.getTime() + 60_000).toISOString(),
      now: now.toISOString(),
    });
    rt.queue.take();
    // Act
    await schedule(rt);
    const tooEarly = rt.queue.take();
    now = new Date(now.getTime() + 10 * 60_000);
    await schedule(rt);
    const requeued = rt.queue.take();
    await deliverAll(rt, requeued[0]!);
    // Assess
    expect(tooEarly).toEqual([]);
    expect(requeued).toEqual([expect.objectContaining({ rotationId: first.rotationId, step: 'issue' })]);
    expect((await rt.journal.get(first.rotationId))!.status).toBe(RotationStatus.Completed);
  });
});
