import { check, sqsEventSchema, sqsRecordSchema } from '../../events/schemas.js';
import type { Logger } from '../../shared/ports/logger.js';
import type { SqsBatchResponse, SqsRecord } from './lambda.js';

/** The message id of a record that failed its check, when it has one (so it can be reported as failed). */
function messageIdOf(raw: unknown): string | undefined {
  const id = raw && typeof raw === 'object' ? (raw as { messageId?: unknown }).messageId : undefined;
  return typeof id === 'string' && id ? id : undefined;
}

function groupOf(raw: unknown): string | undefined {
  const attributes = raw && typeof raw === 'object' ? (raw as { attributes?: unknown }).attributes : undefined;
  const group = attributes && typeof attributes === 'object' ? (attributes as { MessageGroupId?: unknown }).MessageGroupId : undefined;
  return typeof group === 'string' ? group : undefined;
}

/**
 * Runs the records of an SQS batch one after another and reports the ones that failed, so SQS deletes the rest
 * (ReportBatchItemFailures). Each record is checked first: one that is not an SQS record (null, no attributes)
 * is reported failed on its own (SQS redelivers it, then its redrive policy dead-letters it); an event that is no
 * batch at all is logged and acknowledged. On a FIFO queue a failure also fails every later record of the same
 * message group without running it, so a group's order holds; other groups go on.
 */
export async function processBatch(
  event: unknown,
  handle: (record: SqsRecord) => Promise<void>,
  options: {
    fifo: boolean;
    log: Logger;
    onError?: (record: SqsRecord, error: unknown) => void;
    onSkipped?: (record: SqsRecord) => Promise<void>;
  },
): Promise<SqsBatchResponse> {
  const failed: { itemIdentifier: string }[] = [];
  const batch = check(sqsEventSchema, event);
  if (!batch.ok) {
    options.log.error('not an SQS batch: nothing processed', { reason: batch.reason });
    return { batchItemFailures: failed };
  }
  const failedGroups = new Set<string>();
  for (const raw of batch.value.Records) {
    const parsed = check(sqsRecordSchema, raw);
    if (!parsed.ok) {
      const id = messageIdOf(raw);
      options.log.error('malformed SQS record', { reason: parsed.reason, ...(id && { messageId: id }) });
      if (id) failed.push({ itemIdentifier: id });
      const group = options.fifo ? groupOf(raw) : undefined;
      if (group !== undefined) failedGroups.add(group);
      continue;
    }
    const record = parsed.value as SqsRecord;
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
