import { describe, expect, it } from 'vitest';
import { delayHandler } from '../../../functions/delay.js';
import type { DelayedStep } from '../../../shared/adapters/aws/sqs-step-queue.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import type { SqsRecord } from '../../../functions/lib/lambda.js';

const record = (body: string, id = 'm1'): SqsRecord => ({
  messageId: id,
  receiptHandle: `rh-${id}`,
  body,
  attributes: { ApproximateReceiveCount: '1' },
});
const delayed: DelayedStep = {
  message: { rotationId: 'r-1', inventory: 'shop', item: 'web', step: 'restart', attempt: 2 },
  notBefore: '2030-01-01T00:00:03.000Z',
};

function fakeQueue(failOn?: string) {
  const relayed: DelayedStep[] = [];
  const deadLetters: { reason: string; queueUrl?: string }[] = [];
  return {
    relayed,
    deadLetters,
    relay: async (d: DelayedStep) => {
      if (d.message.rotationId === failOn) throw new Error('SQS down');
      relayed.push(d);
      return 'ready' as const;
    },
    deadLetter: async (_body: string, reason: string, _a: unknown, queueUrl?: string) =>
      void deadLetters.push({ reason, ...(queueUrl && { queueUrl }) }),
  };
}

describe('delay function', () => {
  it('relays each waiting step (due or not: relay decides) and acknowledges the batch', async () => {
    // Prepare
    const queue = fakeQueue();

    // Act
    const response = await delayHandler(() => ({ queue, log: silentLogger }))({ Records: [record(JSON.stringify(delayed))] });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(queue.relayed).toEqual([delayed]);
  });

  it('dead-letters a malformed delayed step to the events DLQ with the reason', async () => {
    // Prepare
    const queue = fakeQueue();

    // Act
    const response = await delayHandler(() => ({ queue, log: silentLogger, deadLetterQueueUrl: 'http://q/events-dlq' }))({
      Records: [record(JSON.stringify({ ...delayed, notBefore: 'soon' }))],
    });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(queue.deadLetters).toEqual([
      { reason: expect.stringMatching(/^malformed delayed step: notBefore: /), queueUrl: 'http://q/events-dlq' },
    ]);
  });

  it('reports only the records that could not be relayed (standard queue: no group logic)', async () => {
    // Prepare
    const queue = fakeQueue('r-2');
    const other = { ...delayed, message: { ...delayed.message, rotationId: 'r-2' } };

    // Act
    const response = await delayHandler(() => ({ queue, log: silentLogger }))({
      Records: [record(JSON.stringify(other), 'a'), record(JSON.stringify(delayed), 'b')],
    });

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'a' }]);
    expect(queue.relayed).toEqual([delayed]);
  });
});
