import type { SqsStepQueue } from '../shared/adapters/aws/sqs-step-queue.js';
import { UsageError } from '../shared/domain/errors.js';
import type { Logger } from '../shared/ports/logger.js';
import { delayedStepSchema, parseJson } from '../events/schemas.js';
import type { LambdaContext, SqsBatchResponse } from './lib/lambda.js';
import { jsonLogger } from './lib/logger.js';
import { onFirstUse } from './lib/on-first-use.js';
import { processBatch } from './lib/sqs-batch.js';

export interface DelayRuntime {
  readonly queue: Pick<SqsStepQueue, 'relay' | 'deadLetter'>;
  readonly log: Logger;
  /** Where malformed delayed steps go (a standard queue). */
  readonly deadLetterQueueUrl?: string;
}

/**
 * The delay queue's consumer: FIFO queues have no per-message delay, so waiting steps sit in a standard queue
 * with DelaySeconds and come through here, which moves each into the FIFO step queue when it is due (or back into
 * the delay queue for the time left, 15 minutes at most per hop). Needs no inventory and no cluster, and loads
 * only the SQS client.
 */
export function delayHandler(runtime: () => DelayRuntime | Promise<DelayRuntime>) {
  return async (event: unknown, _context?: LambdaContext): Promise<SqsBatchResponse> => {
    const rt = await runtime();
    return processBatch(
      event,
      async (record) => {
        const parsed = parseJson(delayedStepSchema, record.body);
        if (!parsed.ok) {
          const reason = `malformed delayed step: ${parsed.reason}`;
          rt.log.error('delayed step dead-lettered', { messageId: record.messageId, reason });
          await rt.queue.deadLetter(record.body, reason, { sourceMessageId: record.messageId }, rt.deadLetterQueueUrl);
          return;
        }
        const outcome = await rt.queue.relay(parsed.value);
        rt.log.debug('delayed step relayed', { rotationId: parsed.value.message.rotationId, step: parsed.value.message.step, outcome });
      },
      {
        fifo: false,
        log: rt.log,
        onError: (record, e) =>
          rt.log.warn('delayed step not relayed, will retry', { messageId: record.messageId, error: (e as Error).message }),
      },
    );
  };
}

/** The runtime from the environment; the SQS client is loaded here, by the first invocation, not at import. */
async function fromEnv(env: NodeJS.ProcessEnv = process.env): Promise<DelayRuntime> {
  const queueUrl = env.REKEY_STEP_QUEUE_URL;
  const delayQueueUrl = env.REKEY_DELAY_QUEUE_URL;
  if (!queueUrl || !delayQueueUrl) throw new UsageError('missing environment variable(s) REKEY_STEP_QUEUE_URL, REKEY_DELAY_QUEUE_URL');
  const dlq = env.REKEY_EVENTS_DLQ_URL;
  const { SqsStepQueue } = await import('../shared/adapters/aws/sqs-step-queue.js');
  return {
    queue: new SqsStepQueue({ queueUrl, delayQueueUrl, ...(env.AWS_REGION && { region: env.AWS_REGION }) }),
    log: jsonLogger({ level: env.LOG_LEVEL }),
    ...(dlq && { deadLetterQueueUrl: dlq }),
  };
}

export const handler = delayHandler(onFirstUse(() => fromEnv()));
