import { isRekeyError } from '../../shared/domain/errors.js';
import { shouldRetryStep, stepRetryDelaySeconds, throttledRequeueSeconds } from '../../shared/domain/rotation/retry.js';
import { isFinished } from '../../shared/domain/rotation/record.js';
import { failRotation } from '../../shared/app/rotation/index.js';
import { DEFAULT_LEASE_MS, executeLeasedStep } from '../../shared/app/rotation/lease.js';
import { LeaseHeldError } from '../../shared/ports/journal.js';
import type { Deps } from '../../shared/app/deps.js';
import { parseJson, stepMessageSchema } from '../../events/schemas.js';
import type { StepMessage } from '../../shared/ports/step-queue.js';
import type { SqsRecord } from './lambda.js';
import type { LambdaRuntime } from './runtime.js';
import { receiveCountOf } from './sqs-batch.js';

export const StepRecordOutcome = { Done: 'done', DeadLettered: 'dead-lettered' } as const;
export type StepRecordOutcome = (typeof StepRecordOutcome)[keyof typeof StepRecordOutcome];

/**
 * One step message from the FIFO queue. Resolves when the message may be deleted; throws to have SQS deliver it
 * again (after a backoff set on its visibility). A message that can never succeed (malformed, another inventory,
 * a non-retryable failure, or the last attempt of a retryable one) fails the rotation and goes to the DLQ with
 * its reason, so nothing loops. The message is checked before `deps` is asked for: a malformed one is
 * dead-lettered without connecting to any cluster. A failed dead-letter send throws (this record fails alone).
 */
export async function handleStepRecord(rt: LambdaRuntime, depsOf: () => Promise<Deps>, record: SqsRecord): Promise<StepRecordOutcome> {
  const receives = receiveCountOf(record);
  const deadLetter = async (reason: string, rotationId?: string) => {
    rt.log.error('step message dead-lettered', { messageId: record.messageId, reason, ...(rotationId && { rotationId }) });
    await rt.aws.queue.deadLetter(record.body, reason, {
      sourceMessageId: record.messageId,
      receiveCount: receives,
      ...(record.attributes.MessageGroupId && { group: record.attributes.MessageGroupId }),
      ...(rotationId && { rotationId }),
    });
    return StepRecordOutcome.DeadLettered;
  };

  const parsed = parseJson(stepMessageSchema, record.body);
  if (!parsed.ok) return deadLetter(`malformed step message: ${parsed.reason}`);
  const message = parsed.value;
  if (message.inventory !== rt.inventory.name)
    return deadLetter(
      `step message for inventory "${message.inventory}", but this function serves "${rt.inventory.name}"`,
      message.rotationId,
    );

  const fields = { rotationId: message.rotationId, item: message.item, step: message.step, attempt: message.attempt, receives };
  // Connecting the clusters can fail (kubeconfig secret unreachable): retryable, and the rotation is not failed for it.
  const deps = await depsOf().catch((e: unknown) => {
    rt.log.warn('clusters not connected, step will retry', { ...fields, error: e instanceof Error ? e.message : String(e) });
    throw e;
  });
  try {
    // Leased for this delivery only: a redelivery after this worker died is a new owner, which takes the rotation
    // over once this lease has expired; released when the step ends, so the next step's worker claims at once.
    const lease = { owner: `lambda:${record.messageId}:${receives}`, ttlMs: DEFAULT_LEASE_MS };
    const result = await executeLeasedStep(deps, rt.inventory, message, lease, { release: true });
    rt.log.info('step handled', { ...fields, result });
    return StepRecordOutcome.Done;
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    if (shouldRetryStep(error, receives, rt.stepMaxAttempts)) {
      const delay = stepRetryDelaySeconds(receives);
      rt.log.warn('step failed, will retry', { ...fields, error: error.message, retryInSeconds: delay });
      await rt.aws.queue
        .postpone(record.receiptHandle, delay)
        .catch((p: unknown) => rt.log.warn('could not set the retry delay', { ...fields, error: (p as Error).message }));
      throw error;
    }
    if (error instanceof LeaseHeldError) {
      // A live worker drives this rotation (this message is a duplicate): failing it would race that worker. If it
      // dies, its lease runs out and the schedule's scan re-queues the step.
      rt.log.warn('step left to the worker that holds the rotation', { ...fields, owner: error.lease.owner, until: error.lease.expiresAt });
      return StepRecordOutcome.Done;
    }
    if (await requeueThrottled(rt, deps, message, error, fields)) return StepRecordOutcome.Done;
    const why = isRekeyError(error) && error.retryable ? `gave up after ${receives} attempt(s)` : 'not retryable';
    await failRotation(deps, rt.inventory, message.rotationId, error);
    return deadLetter(`step ${message.step} failed (${why}): ${error.message}`, message.rotationId);
  }
}

/**
 * A step that used its attempts against a saturated quota (its last attempt throttled: nothing was written) goes back
 * to the queue for a later try instead of failing its rotation, within the rotation's budget (StepRetry). A fresh
 * message (its requeue count gives it its own deduplication id): its receive count starts again. True when queued.
 */
async function requeueThrottled(
  rt: LambdaRuntime,
  deps: Deps,
  message: StepMessage,
  error: Error,
  fields: Record<string, string | number>,
): Promise<boolean> {
  const record = await deps.journal.get(message.rotationId).catch(() => undefined);
  if (!record || isFinished(record)) return false;
  const delay = throttledRequeueSeconds(error, new Date(record.startedAt), deps.clock.now());
  if (delay === undefined) return false;
  await rt.aws.queue.enqueue({ ...message, requeue: (message.requeue ?? 0) + 1 }, { delaySeconds: delay });
  rt.log.warn('step throttled on every attempt, queued again for later', { ...fields, error: error.message, retryInSeconds: delay });
  return true;
}
