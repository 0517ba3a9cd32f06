import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepHandler } from '../../../functions/step.js';
import { scheduleHandler } from '../../../functions/schedule.js';
import { TransientError } from '../../../shared/domain/errors.js';
import { StepRetry } from '../../../shared/domain/rotation/retry.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { RotationStatus } from '../../../shared/domain/rotation/record.js';
import type { SecretStore } from '../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { sqsRecord, testRuntime, type TestRuntime } from './fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir('rekey-fn-step-');
});
afterEach(() => removeTempDir(dir));

/** Scans (the schedule function), which issues the root and starts the leaf's rotation; returns its first message. */
async function startedRotation(rt: TestRuntime) {
  const summary = await scheduleHandler(() => rt)({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
  expect(summary.started).toBe(1);
  const [first] = rt.queue.take();
  return first!;
}

describe('step function', () => {
  it('runs a leaf rotation from its first message to done, one message at a time, as SQS would deliver them', async () => {
    // Prepare
    const rt = testRuntime(dir);
    const handler = stepHandler(() => rt);
    let messages = [await startedRotation(rt)];
    const steps: string[] = [];

    // Act
    while (messages.length) {
      for (const m of messages) {
        steps.push(m.step);
        const response = await handler({ Records: [sqsRecord(m)] });
        expect(response.batchItemFailures).toEqual([]);
      }
      messages = rt.queue.take();
    }

    // Assess: no live cluster, so nothing waits: one message runs the whole machine, recorded step by step
    expect(steps).toEqual(['issue']);
    const [record] = await rt.journal.listByItem('shop', 'web');
    expect(record?.status).toBe(RotationStatus.Completed);
    expect(record?.history.map((h) => h.step)).toEqual(['issue', 'test', 'promote', 'sync', 'restart', 'verify']);
    expect((await rt.vault.getVersion('rekey/shop/web'))?.versionId).toBe(record?.id);
    expect(rt.bus.published.map((e) => e.type)).toContain(EventType.RotationCompleted);
    expect(rt.queue.deadLetters).toEqual([]);
  });

  it('dead-letters a message that is not JSON, with the reason, and acknowledges it (no crash loop)', async () => {
    // Prepare
    const rt = testRuntime(dir);
    const record = sqsRecord('{not json');

    // Act
    const response = await stepHandler(() => rt)({ Records: [record] });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(rt.queue.deadLetters).toHaveLength(1);
    expect(rt.queue.deadLetters[0]).toMatchObject({
      body: '{not json',
      attributes: { sourceMessageId: record.messageId, group: 'shop/web' },
    });
    expect(rt.queue.deadLetters[0]!.reason).toMatch(/^malformed step message: not JSON/);
  });

  it.each([
    ['a missing field', { rotationId: 'r', inventory: 'shop', item: 'web', step: 'issue' }, /attempt: /],
    ['a wrong type', { rotationId: 'r', inventory: 'shop', item: 'web', step: 'issue', attempt: '0' }, /attempt: /],
    ['an unknown field', { rotationId: 'r', inventory: 'shop', item: 'web', step: 'issue', attempt: 0, extra: true }, /extra/],
    ['a step name that is not one', { rotationId: 'r', inventory: 'shop', item: 'web', step: 'DROP TABLE', attempt: 0 }, /step: /],
  ])('dead-letters a message with %s, naming the field', async (_, body, reason) => {
    // Prepare
    const rt = testRuntime(dir);

    // Act
    const response = await stepHandler(() => rt)({ Records: [sqsRecord(JSON.stringify(body))] });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(rt.queue.deadLetters[0]!.reason).toMatch(/^malformed step message: /);
    expect(rt.queue.deadLetters[0]!.reason).toMatch(reason);
  });

  it('dead-letters a message for another inventory', async () => {
    // Prepare
    const rt = testRuntime(dir);

    // Act
    await stepHandler(() => rt)({ Records: [sqsRecord({ rotationId: 'r', inventory: 'other', item: 'web', step: 'issue', attempt: 0 })] });

    // Assess
    expect(rt.queue.deadLetters[0]!.reason).toBe('step message for inventory "other", but this function serves "shop"');
  });

  it('dead-letters a step of a rotation the journal does not know (not retryable)', async () => {
    // Prepare
    const rt = testRuntime(dir);

    // Act
    const response = await stepHandler(() => rt)({
      Records: [sqsRecord({ rotationId: 'ghost', inventory: 'shop', item: 'web', step: 'issue', attempt: 0 })],
    });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(rt.queue.deadLetters[0]!.reason).toMatch(/step issue failed \(not retryable\): rotation ghost is not in the journal/);
  });

  it('a retryable failure is reported as a batch item failure after setting a backoff; the rotation stays running', async () => {
    // Prepare
    let failing = true;
    const rt = testRuntime(dir, { store: (vault) => flakyPuts(vault, () => failing) });
    const first = await startedRotation(rt);
    const record = sqsRecord(first, { receiveCount: 2 });

    // Act
    const response = await stepHandler(() => rt)({ Records: [record] });

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(rt.queue.postponed).toEqual([{ receiptHandle: record.receiptHandle, seconds: 4 }]);
    // material made and tested in memory is not recorded before its store write: the run starts over at issue
    const running = await rt.journal.get(first.rotationId);
    expect(running?.status).toBe(RotationStatus.Running);
    expect(running?.step).toBe('issue');
    expect(rt.queue.deadLetters).toEqual([]);

    // Act again: the next delivery succeeds.
    failing = false;
    const retry = await stepHandler(() => rt)({ Records: [sqsRecord(first, { receiveCount: 3 })] });

    // Assess
    expect(retry.batchItemFailures).toEqual([]);
    expect((await rt.journal.get(first.rotationId))?.status).toBe(RotationStatus.Completed);
  });

  it('on the last attempt a retryable failure fails the rotation (RotationFailed, pending discarded) and dead-letters the message', async () => {
    // Prepare
    const rt = testRuntime(dir, { store: (vault) => flakyPuts(vault, () => true), stepMaxAttempts: 3 });
    const first = await startedRotation(rt);

    // Act
    const response = await stepHandler(() => rt)({ Records: [sqsRecord(first, { receiveCount: 3 })] });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const record = await rt.journal.get(first.rotationId);
    expect(record?.status).toBe(RotationStatus.Failed);
    expect(rt.bus.published.filter((e) => e.type === EventType.RotationFailed)).toHaveLength(1);
    expect(rt.queue.deadLetters[0]!.reason).toMatch(/^step issue failed \(gave up after 3 attempt\(s\)\): /);
    expect(rt.queue.deadLetters[0]!.attributes).toMatchObject({ rotationId: first.rotationId, receiveCount: 3 });
    expect(await rt.vault.getVersion('rekey/shop/web', { stage: 'AWSPENDING' })).toBeUndefined();
  });

  it('on the last attempt a throttled step (quota saturated, nothing written) is queued again for later; the rotation stays running', async () => {
    // Prepare
    let failing = true;
    const rt = testRuntime(dir, { store: (vault) => flakyPuts(vault, () => failing, { throttled: true }), stepMaxAttempts: 3 });
    const first = await startedRotation(rt);

    // Act
    const response = await stepHandler(() => rt)({ Records: [sqsRecord(first, { receiveCount: 3 })] });

    // Assess: acknowledged, a message of its own (its requeue count), nothing failed or dead-lettered
    expect(response.batchItemFailures).toEqual([]);
    expect(rt.queue.delayed).toEqual([{ message: { ...first, requeue: 1 }, delaySeconds: expect.any(Number) }]);
    expect(rt.queue.delayed[0]!.delaySeconds).toBeGreaterThanOrEqual(StepRetry.throttledRequeueSeconds.min);
    expect((await rt.journal.get(first.rotationId))?.status).toBe(RotationStatus.Running);
    expect(rt.queue.deadLetters).toEqual([]);

    // Act again: the quota has room when it comes back
    failing = false;
    const later = rt.queue.take()[0]!;
    const retry = await stepHandler(() => rt)({ Records: [sqsRecord(later, { receiveCount: 1 })] });

    // Assess
    expect(retry.batchItemFailures).toEqual([]);
    expect((await rt.journal.get(first.rotationId))?.status).toBe(RotationStatus.Completed);
  });

  it('a throttled step of a rotation older than the budget fails as any retryable failure on its last attempt', async () => {
    // Prepare
    const rt = testRuntime(dir, { store: (vault) => flakyPuts(vault, () => true, { throttled: true }), stepMaxAttempts: 3 });
    const first = await startedRotation(rt);
    const old = new Date(Date.now() - StepRetry.throttledBudgetMs - 1_000).toISOString();
    const started = (await rt.journal.get(first.rotationId))!;
    await rt.journal.update({ ...started, startedAt: old, revision: started.revision + 1 });

    // Act
    const response = await stepHandler(() => rt)({ Records: [sqsRecord(first, { receiveCount: 3 })] });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect((await rt.journal.get(first.rotationId))?.status).toBe(RotationStatus.Failed);
    expect(rt.queue.deadLetters[0]!.reason).toMatch(/^step issue failed \(gave up after 3 attempt\(s\)\): /);
    expect(rt.queue.delayed).toEqual([]);
  });

  it('on a FIFO queue a failure skips the rest of its message group in the batch, other groups go on', async () => {
    // Prepare
    const rt = testRuntime(dir, { store: (vault) => flakyPuts(vault, () => true) });
    const first = await startedRotation(rt);
    const a = sqsRecord(first);
    const b = sqsRecord(first);
    const c = sqsRecord('garbage', { group: 'shop/other' });

    // Act
    const response = await stepHandler(() => rt)({ Records: [a, b, c] });

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: a.messageId }, { itemIdentifier: b.messageId }]);
    // a is postponed by its backoff; b never ran and is made visible again at once (its group stays blocked by a).
    expect(rt.queue.postponed).toEqual([
      { receiptHandle: a.receiptHandle, seconds: 2 },
      { receiptHandle: b.receiptHandle, seconds: 0 },
    ]);
    expect(rt.queue.deadLetters.map((d) => d.attributes.sourceMessageId)).toEqual([c.messageId]);
  });

  it('a step whose journal write races a writer that does not advance (the restart worker) still advances, keeping that write', async () => {
    // Prepare: between the step and its journal write, another writer bumps the record's revision.
    const rt = testRuntime(dir);
    const first = await startedRotation(rt);
    const journal = rt.aws.journal;
    let raced = false;
    const racing = Object.assign(Object.create(Object.getPrototypeOf(journal)), journal, {
      update: async (r: Parameters<typeof journal.update>[0]) => {
        if (!raced) {
          raced = true;
          const now = (await journal.get(r.id))!;
          await journal.update({
            ...now,
            revision: now.revision + 1,
            restarts: { dc1: { state: 'completed', at: new Date().toISOString() } },
          });
        }
        return journal.update(r);
      },
    });
    const racy = { ...rt, aws: { ...rt.aws, journal: racing } };
    const record = sqsRecord(first);

    // Act
    const response = await stepHandler(() => racy)({ Records: [record] });

    // Assess: executeStep re-applied its advance on the record the other writer left
    expect(raced).toBe(true);
    expect(response.batchItemFailures).toEqual([]);
    const after = await rt.journal.get(first.rotationId);
    expect(after?.status).toBe(RotationStatus.Completed);
    expect(after?.history.map((h) => h.step)).toEqual(['issue', 'test', 'promote', 'sync', 'restart', 'verify']);
    expect(after?.restarts).toMatchObject({ dc1: { state: 'completed' } });
    expect((await rt.vault.describe('rekey/shop/web'))?.versions).toHaveLength(1);
  });

  it('a duplicate delivery of a step already done is acknowledged without running it again', async () => {
    // Prepare
    const rt = testRuntime(dir);
    const first = await startedRotation(rt);
    const handler = stepHandler(() => rt);
    await handler({ Records: [sqsRecord(first)] });
    const issued = rt.bus.published.filter((e) => e.type === EventType.CertificateIssued).length;

    // Act
    const response = await handler({ Records: [sqsRecord(first, { receiveCount: 2 })] });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(rt.bus.published.filter((e) => e.type === EventType.CertificateIssued)).toHaveLength(issued);
    expect((await rt.vault.describe('rekey/shop/web'))?.versions).toHaveLength(1);
  });
});

/** A store whose putPending of the leaf throws a TransientError while `failing()` says so (Secrets Manager throttling). */
function flakyPuts(store: SecretStore, failing: () => boolean, options: { throttled?: boolean } = {}): SecretStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'putPending' || prop === 'putCurrent') {
        return async (...args: Parameters<SecretStore['putCurrent']>) => {
          if (args[0] === 'rekey/shop/web' && failing())
            throw new TransientError('Secrets Manager PutSecretValue: ThrottlingException', {
              ...(options.throttled && { context: { throttled: true } }),
            });
          return prop === 'putPending' ? target.putPending(...args) : target.putCurrent(...args);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
