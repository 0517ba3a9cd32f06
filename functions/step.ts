import type { SqsBatchResponse } from './lib/lambda.js';
import { withInvocation } from './lib/invocation.js';
import { lazyRuntime, type RuntimeSource } from './lib/runtime-source.js';
import { processBatch } from './lib/sqs-batch.js';
import { handleStepRecord } from './lib/step-record.js';

/**
 * The step executor: SQS FIFO batch -> one rotation step per message, partial batch failures. Every record is
 * checked before the clusters are connected, and they are connected only for the first valid step.
 */
export function stepHandler(runtime: RuntimeSource) {
  return withInvocation(runtime, (event: unknown, { rt, log, deps }): Promise<SqsBatchResponse> =>
    processBatch(
      event,
      async (record) => {
        await handleStepRecord(rt, deps, record);
      },
      {
        fifo: true,
        log,
        onSkipped: (record) => rt.aws.queue.postpone(record.receiptHandle, 0),
      },
    ),
  );
}

export const handler = stepHandler(lazyRuntime());
