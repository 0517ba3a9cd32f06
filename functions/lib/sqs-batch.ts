import type { SqsBatchResponse, SqsRecord } from './lambda.js';

/**
 * Runs the records of an SQS batch one after another and reports the ones that failed, so SQS deletes the rest
 * (ReportBatchItemFailures). On a FIFO queue a failure also fails every later record of the same message group
 * without running it, so a group's order holds; other groups go on.
 */
export async function processBatch(
  records: readonly SqsRecord[],
  handle: (record: SqsRecord) => Promise<void>,
  options: { fifo: boolean; onError?: (record: SqsRecord, error: unknown) => void; onSkipped?: (record: SqsRecord) => Promise<void> },
): Promise<SqsBatchResponse> {
  const failed: { itemIdentifier: string }[] = [];
  const failedGroups = new Set<string>();
  for (const record of records) {
    const group = options.fifo ? (record.attributes.MessageGroupId ?? '') : undefined;
    if (group !== undefined && failedGroups.has(group)) {
      failed.push({ itemIdentifier: record.messageId });
      // Not run, so no reason to wait a whole visibility timeout: the group stays blocked by the failed message anyway.
      await options.onSkipped?.(record).catch(() => undefined);
      continue;
    }
    try {
      await handle(record);
    } catch (e) {
      options.onError?.(record, e);
      failed.push({ itemIdentifier: record.messageId });
      if (group !== undefined) failedGroups.add(group);
    }
  }
  return { batchItemFailures: failed };
}

/** How many times SQS has delivered this record (1 on the first delivery). */
export const receiveCountOf = (record: SqsRecord): number => Number(record.attributes.ApproximateReceiveCount ?? '1') || 1;

/** Backoff before the next delivery of a failed step: 2, 4, 8 ... seconds, at most 5 minutes. */
export const retryDelaySeconds = (receiveCount: number): number => Math.min(2 ** receiveCount, 300);
