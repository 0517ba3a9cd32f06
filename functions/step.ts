import type { LambdaContext, SqsBatchResponse, SqsEvent } from './lib/lambda.js';
import { remainingTimeSignal } from './lib/lambda.js';
import { depsFor, lazyRuntime, type LambdaRuntime } from './lib/runtime.js';
import { processBatch } from './lib/sqs-batch.js';
import { handleStepRecord } from './lib/step-record.js';

/** The step executor: SQS FIFO batch -> one rotation step per message, partial batch failures. */
export function stepHandler(runtime: () => LambdaRuntime) {
  return async (event: SqsEvent, context?: LambdaContext): Promise<SqsBatchResponse> => {
    const rt = runtime();
    const { signal, dispose } = remainingTimeSignal(context);
    try {
      const deps = depsFor(rt, await rt.clusters(), { signal, log: rt.log });
      return await processBatch(event.Records, async (record) => void (await handleStepRecord(rt, deps, record)), {
        fifo: true,
        onSkipped: (record) => rt.aws.queue.postpone(record.receiptHandle, 0),
      });
    } finally {
      dispose();
    }
  };
}

export const handler = stepHandler(lazyRuntime());
