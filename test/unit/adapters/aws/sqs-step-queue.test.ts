import { createHash } from 'node:crypto';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { deduplicationIdOf, messageGroupOf, SqsStepQueue } from '../../../../shared/adapters/aws/sqs-step-queue.js';
import { RekeyError, TransientError } from '../../../../shared/domain/errors.js';
import type { StepMessage } from '../../../../shared/ports/step-queue.js';

expect.extend(allCustomMatcher);

const FIFO = 'http://sqs.local/000000000000/rekey-dev-steps.fifo';
const DELAY = 'http://sqs.local/000000000000/rekey-dev-delay';
const DLQ = 'http://sqs.local/000000000000/rekey-dev-steps-dlq.fifo';
const NOW = new Date('2030-01-01T00:00:00.000Z');
const message: StepMessage = { rotationId: 'r-1', inventory: 'shop', item: 'web', step: 'issue', attempt: 0 };

const sqs = mockClient(SQSClient);
let now = NOW;
let queue: SqsStepQueue;

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
  now = NOW;
  queue = new SqsStepQueue({
    queueUrl: FIFO,
    delayQueueUrl: DELAY,
    deadLetterQueueUrl: DLQ,
    client: new SQSClient({ region: 'us-east-1' }),
    now: () => now,
  });
});

describe('SqsStepQueue.enqueue', () => {
  it('sends a ready step to the FIFO queue: group = inventory/item, dedup = sha256(rotation:step:attempt)', async () => {
    // Act
    await queue.enqueue(message);

    // Assess
    expect(sqs).toHaveReceivedCommandExactlyOnceWith(SendMessageCommand, {
      QueueUrl: FIFO,
      MessageBody: JSON.stringify(message),
      MessageGroupId: 'shop/web',
      MessageDeduplicationId: createHash('sha256').update('r-1:issue:0').digest('hex'),
    });
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.DelaySeconds).toBeUndefined();
  });

  it('dedup ids differ per attempt, per step and per requeue, and are stable', () => {
    expect(deduplicationIdOf(message)).toBe(deduplicationIdOf({ ...message }));
    expect(deduplicationIdOf({ ...message, attempt: 1 })).not.toBe(deduplicationIdOf(message));
    expect(deduplicationIdOf({ ...message, step: 'test' })).not.toBe(deduplicationIdOf(message));
    // A step queued again after throttled attempts is a message of its own, and each requeue another one.
    expect(deduplicationIdOf({ ...message, requeue: 1 })).not.toBe(deduplicationIdOf(message));
    expect(deduplicationIdOf({ ...message, requeue: 2 })).not.toBe(deduplicationIdOf({ ...message, requeue: 1 }));
    expect(deduplicationIdOf(message)).toHaveLength(64);
    expect(messageGroupOf({ inventory: 'shop', item: 'db' })).toBe('shop/db');
  });

  it('sends a waiting step to the standard delay queue with DelaySeconds and its due time (FIFO has no per-message delay)', async () => {
    // Act
    await queue.enqueue({ ...message, step: 'restart', attempt: 3 }, { delaySeconds: 3 });

    // Assess
    expect(sqs).toHaveReceivedCommandExactlyOnceWith(SendMessageCommand, {
      QueueUrl: DELAY,
      DelaySeconds: 3,
      MessageBody: JSON.stringify({ message: { ...message, step: 'restart', attempt: 3 }, notBefore: '2030-01-01T00:00:03.000Z' }),
    });
  });

  it('caps one hop at 15 minutes and keeps the real due time for waits longer than that', async () => {
    // Act
    await queue.enqueue(message, { delaySeconds: 3600 });

    // Assess
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.DelaySeconds).toBe(900);
    expect(JSON.parse(input.MessageBody!).notBefore).toBe('2030-01-01T01:00:00.000Z');
  });

  it('fails clearly when a step must wait and no delay queue is configured', async () => {
    // Prepare
    const plain = new SqsStepQueue({ queueUrl: FIFO, client: new SQSClient({ region: 'us-east-1' }) });

    // Act + Assess
    await expect(plain.enqueue(message, { delaySeconds: 5 })).rejects.toThrow(/no delay queue is configured/);
  });

  it('refuses a step queue that is not FIFO', () => {
    expect(() => new SqsStepQueue({ queueUrl: DELAY })).toThrow(RekeyError);
  });

  it('maps SQS throttling to a TransientError', async () => {
    // Prepare
    sqs
      .on(SendMessageCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'RequestThrottled', $metadata: { httpStatusCode: 403 } }));

    // Act + Assess
    await expect(queue.enqueue(message)).rejects.toBeInstanceOf(TransientError);
  });
});

describe('SqsStepQueue.relay (the delay function)', () => {
  it('moves a due step into the FIFO queue', async () => {
    // Act
    const outcome = await queue.relay({ message, notBefore: '2029-12-31T23:59:59.000Z' });

    // Assess
    expect(outcome).toBe('ready');
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, { QueueUrl: FIFO, MessageGroupId: 'shop/web' });
  });

  it('puts a step that is not due yet back for the time left, at most 15 minutes per hop', async () => {
    // Act
    const a = await queue.relay({ message, notBefore: '2030-01-01T00:00:40.000Z' });
    const b = await queue.relay({ message, notBefore: '2030-01-01T02:00:00.000Z' });

    // Assess
    expect([a, b]).toEqual(['delayed', 'delayed']);
    expect(sqs).toHaveReceivedNthCommandWith(SendMessageCommand, 1, { QueueUrl: DELAY, DelaySeconds: 40 });
    expect(sqs).toHaveReceivedNthCommandWith(SendMessageCommand, 2, { QueueUrl: DELAY, DelaySeconds: 900 });
  });
});

describe('SqsStepQueue dead letters and backoff', () => {
  it('dead-letters a message with its reason as an attribute, in its group on the FIFO DLQ', async () => {
    // Act
    await queue.deadLetter('{"bad":1}', 'malformed step message: step: Required', {
      sourceMessageId: 'm-1',
      group: 'shop/web',
      receiveCount: 2,
      rotationId: 'r-1',
    });

    // Assess
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: DLQ,
      MessageBody: '{"bad":1}',
      MessageGroupId: 'shop/web',
      MessageAttributes: {
        reason: { DataType: 'String', StringValue: 'malformed step message: step: Required' },
        sourceMessageId: { DataType: 'String', StringValue: 'm-1' },
        rotationId: { DataType: 'String', StringValue: 'r-1' },
        receiveCount: { DataType: 'Number', StringValue: '2' },
      },
    });
  });

  it('dead-letters to a standard queue without FIFO fields, and keeps an empty body sendable', async () => {
    // Act
    await queue.deadLetter('', 'empty', { sourceMessageId: 'm-2' }, DELAY);

    // Assess
    const input = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(input.QueueUrl).toBe(DELAY);
    expect(input.MessageBody).toBe('(empty body)');
    expect(input.MessageGroupId).toBeUndefined();
  });

  it('postpones a received message by changing its visibility (capped at 12 hours)', async () => {
    // Prepare
    sqs.on(ChangeMessageVisibilityCommand).resolves({});

    // Act
    await queue.postpone('rh-1', 8);
    await queue.postpone('rh-2', 100_000);

    // Assess
    expect(sqs).toHaveReceivedNthCommandWith(ChangeMessageVisibilityCommand, 1, {
      QueueUrl: FIFO,
      ReceiptHandle: 'rh-1',
      VisibilityTimeout: 8,
    });
    expect(sqs).toHaveReceivedNthCommandWith(ChangeMessageVisibilityCommand, 2, { VisibilityTimeout: 43_200 });
  });
});
