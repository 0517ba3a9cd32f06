import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig, type AwsClientSettings } from './client-config.js';
import { awsCall } from './errors.js';
import { defined } from '../../domain/defined.js';

/** A received message, in the shape Lambda's SQS event records have. */
export interface PolledMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Record<string, string>;
}

/**
 * Receives and deletes messages, for running the functions locally against real queues (what Lambda's event source
 * mappings do in AWS). Not used by the functions themselves.
 */
export class SqsPoller {
  readonly client: SQSClient;

  constructor(options: AwsClientSettings & { client?: SQSClient } = {}) {
    this.client = options.client ?? new SQSClient(clientConfig(options));
  }

  async receive(queueUrl: string, options: { max?: number; waitSeconds?: number } = {}): Promise<PolledMessage[]> {
    const messages = await this.receiveWithAttributes(queueUrl, options);
    return messages.map(({ messageId, receiptHandle, body, attributes }) => ({ messageId, receiptHandle, body, attributes }));
  }

  /** Received messages with their message attributes (what dead letters carry their reason in). */
  async receiveWithAttributes(
    queueUrl: string,
    options: { max?: number; waitSeconds?: number } = {},
  ): Promise<(PolledMessage & { messageAttributes: Record<string, string> })[]> {
    const out = await awsCall({ operation: 'SQS ReceiveMessage', target: queueUrl }, () =>
      this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: options.max ?? 10,
          WaitTimeSeconds: options.waitSeconds ?? 1,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      ),
    );
    return (out.Messages ?? []).map((m) => ({
      messageId: defined(m.MessageId),
      receiptHandle: defined(m.ReceiptHandle),
      body: m.Body ?? '',
      attributes: { ...(m.Attributes ?? {}) },
      messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ''])),
    }));
  }

  async delete(queueUrl: string, receiptHandles: readonly string[]): Promise<void> {
    for (let i = 0; i < receiptHandles.length; i += 10) {
      const chunk = receiptHandles.slice(i, i + 10);
      await awsCall({ operation: 'SQS DeleteMessageBatch', target: queueUrl }, () =>
        this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle })),
          }),
        ),
      );
    }
  }
}
