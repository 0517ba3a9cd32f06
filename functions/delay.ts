import type { SqsStepQueue } from '../shared/adapters/aws/sqs-step-queue.js';
import { UsageError } from '../shared/domain/errors.js';
import type { Logger } from '../shared/ports/logger.js';
import { delayedWorkSchema, parseJson } from '../events/schemas.js';
import type { RestartCheck } from '../shared/ports/restart-checks.js';
import type { LambdaContext, SqsBatchResponse } from './lib/lambda.js';
import { jsonLogger } from './lib/logger.js';
import { onFirstUse } from './lib/on-first-use.js';
import { processBatch } from './lib/sqs-batch.js';

export interface DelayRuntime {
  /** `holdRestartCheck` where restart checks come through (absent: they fail like `restartChecks` below). */
  readonly queue: Pick<SqsStepQueue, 'relay' | 'deadLetter'> & Partial<Pick<SqsStepQueue, 'holdRestartCheck'>>;
  readonly log: Logger;
  /** Where malformed delayed steps go (a standard queue). */
  readonly deadLetterQueueUrl?: string;
  /**
   * Runs a restart check that is due (the restart worker's code, with the inventory and the clusters, loaded on
   * the first check only). Absent: a due check fails its record (SQS retries it, then its redrive policy).
   */
  readonly restartChecks?: (check: RestartCheck, context?: LambdaContext) => Promise<void>;
}

/**
 * The delay queue's consumer: FIFO queues have no per-message delay, so waiting steps sit in a standard queue
 * with DelaySeconds and come through here, which moves each into the FIFO step queue when it is due (or back into
 * the delay queue for the time left, 15 minutes at most per hop). Restart checks (rollouts the restart worker
 * started and did not wait for) come through here too and run here when due. A step needs no inventory and no
 * cluster, and loads only the SQS client; the restart side is loaded by the first due check.
 */
export function delayHandler(runtime: () => DelayRuntime | Promise<DelayRuntime>) {
  return async (event: unknown, context?: LambdaContext): Promise<SqsBatchResponse> => {
    const rt = await runtime();
    return processBatch(
      event,
      async (record) => {
        const parsed = parseJson(delayedWorkSchema, record.body);
        if (!parsed.ok) {
          const reason = `malformed delayed step: ${parsed.reason}`;
          rt.log.error('delayed step dead-lettered', { messageId: record.messageId, reason });
          await rt.queue.deadLetter(record.body, reason, { sourceMessageId: record.messageId }, rt.deadLetterQueueUrl);
          return;
        }
        const work = parsed.value;
        if ('restartCheck' in work) {
          if (!rt.queue.holdRestartCheck || !rt.restartChecks) throw new UsageError('this delay function cannot run restart checks');
          if (await rt.queue.holdRestartCheck(work)) return;
          await rt.restartChecks(work.restartCheck, context);
          return;
        }
        const outcome = await rt.queue.relay(work);
        rt.log.debug('delayed step relayed', { rotationId: work.message.rotationId, step: work.message.step, outcome });
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
    restartChecks: async (check, context) => (await import('./restart.js')).checkHandler(check, context),
  };
}

export const handler = delayHandler(onFirstUse(() => fromEnv()));
