import { createHash } from 'node:crypto';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import { RekeyError } from '../../domain/errors.js';
import type { StepMessage, StepQueue } from '../../ports/step-queue.js';
import type { RestartCheck, RestartCheckQueue } from '../../ports/restart-checks.js';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { awsCall } from './errors.js';

/** SQS's longest DelaySeconds (15 minutes); longer waits hop through the delay queue several times. */
export const MAX_DELAY_SECONDS = 900;
/** SQS's longest visibility timeout (12 hours). */
export const MAX_VISIBILITY_SECONDS = 43_200;

/** A restart check waiting in the delay queue (the delay function runs it when due). */
export interface DelayedRestartCheck {
  readonly restartCheck: RestartCheck;
  /** ISO time before which the check must not run. */
  readonly notBefore: string;
}

/** A step waiting in the delay queue: the step message and when it may run. */
export interface DelayedStep {
  readonly message: StepMessage;
  /** ISO time before which the step must not run. */
  readonly notBefore: string;
}

export interface SqsStepQueueOptions extends AwsClientSettings {
  /** The FIFO queue the step function consumes (URL ends in `.fifo`). */
  readonly queueUrl: string;
  /**
   * A standard queue for waiting steps. FIFO queues ignore per-message DelaySeconds (only a queue-wide delay
   * exists), so a step that must wait goes here with its delay, and the delay function moves it into the FIFO
   * queue when it is due. Without it, delayed enqueues fail clearly.
   */
  readonly delayQueueUrl?: string;
  /** The FIFO queue's dead-letter queue (also FIFO), for messages dead-lettered with a reason. */
  readonly deadLetterQueueUrl?: string;
  readonly client?: SQSClient;
  readonly now?: () => Date;
}

/** Message group: one item never runs two steps at once (perReplica units belong to their item). */
export const messageGroupOf = (m: Pick<StepMessage, 'inventory' | 'item'>): string => `${m.inventory}/${m.item}`;

/**
 * Deduplication id: a step message sent twice within SQS's 5-minute window is delivered once. A step queued again
 * after throttled attempts carries its requeue count, so it is not taken for the message it replaces.
 */
export const deduplicationIdOf = (m: Pick<StepMessage, 'rotationId' | 'step' | 'attempt' | 'requeue'>): string =>
  createHash('sha256')
    .update(`${m.rotationId}:${m.step}:${m.attempt}${m.requeue === undefined ? '' : `:requeue-${m.requeue}`}`)
    .digest('hex');

/**
 * StepQueue on SQS: ready steps go to the FIFO queue (group = item, dedup = rotation + step + attempt); steps
 * that wait go to the standard delay queue with DelaySeconds and come back through `relay`.
 */
export class SqsStepQueue implements StepQueue, RestartCheckQueue {
  readonly client: SQSClient;
  private readonly now: () => Date;

  constructor(private readonly options: SqsStepQueueOptions) {
    if (!options.queueUrl.endsWith('.fifo'))
      throw new RekeyError(`step queue ${options.queueUrl} is not a FIFO queue (its URL must end in .fifo)`);
    this.client = options.client ?? new SQSClient(clientConfig(options));
    this.now = options.now ?? (() => new Date());
  }

  async enqueue(message: StepMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    const delay = Math.max(0, Math.ceil(options.delaySeconds ?? 0));
    if (delay === 0) return this.sendReady(message);
    const notBefore = new Date(this.now().getTime() + delay * 1000).toISOString();
    await this.sendDelayed({ message, notBefore }, delay);
  }

  private async sendReady(message: StepMessage): Promise<void> {
    await awsCall(
      { operation: 'SQS SendMessage', target: this.options.queueUrl, context: { rotationId: message.rotationId, step: message.step } },
      () =>
        this.client.send(
          new SendMessageCommand({
            QueueUrl: this.options.queueUrl,
            MessageBody: JSON.stringify(message),
            MessageGroupId: messageGroupOf(message),
            MessageDeduplicationId: deduplicationIdOf(message),
          }),
        ),
    );
  }

  /** Whether waits can go through the delay queue (restart checks need it). */
  get hasDelayQueue(): boolean {
    return this.options.delayQueueUrl !== undefined;
  }

  /** Queues a restart check in the delay queue; the delay function runs it after `delaySeconds` (hops past 15 minutes). */
  async scheduleRestartCheck(check: RestartCheck, delaySeconds: number): Promise<void> {
    const delay = Math.max(0, Math.ceil(delaySeconds));
    const notBefore = new Date(this.now().getTime() + delay * 1000).toISOString();
    await this.sendDelayedCheck({ restartCheck: check, notBefore }, delay);
  }

  /** Puts a restart check that is not due yet back into the delay queue for the time left; false when it is due. */
  async holdRestartCheck(delayed: DelayedRestartCheck): Promise<boolean> {
    const left = Math.ceil((Date.parse(delayed.notBefore) - this.now().getTime()) / 1000);
    if (left <= 0) return false;
    await this.sendDelayedCheck(delayed, left);
    return true;
  }

  private sendDelayedCheck(delayed: DelayedRestartCheck, seconds: number): Promise<void> {
    const { request } = delayed.restartCheck;
    return this.sendToDelayQueue(delayed, seconds, {
      waiting: `a restart check of ${request.item} in ${request.cluster} must wait`,
      context: { cluster: request.cluster, item: request.item, ...(request.rotationId && { rotationId: request.rotationId }) },
    });
  }

  private sendDelayed(delayed: DelayedStep, seconds: number): Promise<void> {
    return this.sendToDelayQueue(delayed, seconds, {
      waiting: `step ${delayed.message.step} of rotation ${delayed.message.rotationId} must wait ${seconds}s`,
      context: { rotationId: delayed.message.rotationId, step: delayed.message.step },
    });
  }

  /** One message into the delay queue, visible after `seconds` (at most SQS's 15 minutes; the relay hops on). */
  private async sendToDelayQueue(
    body: DelayedStep | DelayedRestartCheck,
    seconds: number,
    what: { readonly waiting: string; readonly context: Record<string, string> },
  ): Promise<void> {
    const url = this.options.delayQueueUrl;
    if (!url) throw new RekeyError(`${what.waiting}, but no delay queue is configured (REKEY_DELAY_QUEUE_URL)`);
    await awsCall({ operation: 'SQS SendMessage', target: url, context: what.context }, () =>
      this.client.send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(body), DelaySeconds: Math.min(seconds, MAX_DELAY_SECONDS) }),
      ),
    );
  }

  /**
   * Moves a step from the delay queue on: into the FIFO queue when due, else back into the delay queue for the
   * time left (at most 15 minutes per hop). Returns what it did.
   */
  async relay(delayed: DelayedStep): Promise<'ready' | 'delayed'> {
    const left = Math.ceil((Date.parse(delayed.notBefore) - this.now().getTime()) / 1000);
    if (left <= 0) {
      await this.sendReady(delayed.message);
      return 'ready';
    }
    await this.sendDelayed(delayed, left);
    return 'delayed';
  }

  /** Keeps a received message invisible for `seconds` (backoff before SQS delivers it again). */
  async postpone(receiptHandle: string, seconds: number, queueUrl = this.options.queueUrl): Promise<void> {
    await awsCall({ operation: 'SQS ChangeMessageVisibility', target: queueUrl }, () =>
      this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: Math.min(Math.max(0, Math.round(seconds)), MAX_VISIBILITY_SECONDS),
        }),
      ),
    );
  }

  /**
   * Sends a message that will never succeed to the dead-letter queue with the reason as a message attribute, so
   * the caller can acknowledge it instead of letting it fail until SQS's redrive (no crash loop).
   */
  async deadLetter(
    body: string,
    reason: string,
    attributes: { group?: string; sourceMessageId: string; receiveCount?: number; rotationId?: string },
    queueUrl?: string,
  ): Promise<void> {
    const url = queueUrl ?? this.options.deadLetterQueueUrl;
    if (!url)
      throw new RekeyError(
        `cannot dead-letter message ${attributes.sourceMessageId} (${reason}): no dead-letter queue is configured (REKEY_DLQ_URL)`,
      );
    const attrs: Record<string, MessageAttributeValue> = {
      reason: { DataType: 'String', StringValue: reason.slice(0, 4096) },
      sourceMessageId: { DataType: 'String', StringValue: attributes.sourceMessageId },
      ...(attributes.rotationId && { rotationId: { DataType: 'String', StringValue: attributes.rotationId } }),
      ...(attributes.receiveCount !== undefined && { receiveCount: { DataType: 'Number', StringValue: String(attributes.receiveCount) } }),
    };
    const fifo = url.endsWith('.fifo');
    await awsCall({ operation: 'SQS SendMessage', target: url }, () =>
      this.client.send(
        new SendMessageCommand({
          QueueUrl: url,
          // SQS rejects bodies that are empty; keep what arrived, however broken.
          MessageBody: body.length ? body : '(empty body)',
          MessageAttributes: attrs,
          ...(fifo && {
            MessageGroupId: attributes.group ?? 'dead-letters',
            MessageDeduplicationId: createHash('sha256').update(attributes.sourceMessageId).digest('hex'),
          }),
        }),
      ),
    );
  }
}
