/**
 * SQS behind the `send(command)` of the client the real SqsStepQueue uses: the FIFO step queue (groups,
 * deduplication, visibility; see fifo-queue.ts), the standard delay queue (DelaySeconds, then the delay function
 * moves the step into the FIFO queue), and the dead-letter queue (kept for the report).
 */
import { FifoQueue } from './fifo-queue.js';
import { SdkError } from './secrets-manager.js';
import type { VirtualTime } from './virtual-time.js';

interface Command {
  readonly input: Record<string, unknown>;
}

export const QueueUrls = {
  steps: 'https://sqs.sim/steps.fifo',
  delay: 'https://sqs.sim/delay',
  deadLetters: 'https://sqs.sim/steps-dlq.fifo',
} as const;

export interface SqsOptions {
  /** Latency of one call, ms. */
  readonly callMs?: number;
  /** The step function's visibility timeout (six times its timeout of 60 s). */
  readonly visibilityTimeoutMs?: number;
}

export class EmulatedSqs {
  readonly steps: FifoQueue<string>;
  readonly calls = new Map<string, number>();
  readonly deadLetters: { body: string; reason: string }[] = [];
  /** Receives a delayed step's body when its DelaySeconds are over (the delay function's event source). */
  onDelayed: (body: string) => void = () => undefined;

  constructor(
    private readonly time: VirtualTime,
    private readonly options: SqsOptions = {},
  ) {
    this.steps = new FifoQueue<string>(
      { nowMs: () => time.ms, schedule: (ms, fire) => time.schedule(ms, fire) },
      options.visibilityTimeoutMs ?? 360_000,
    );
  }

  async send(command: Command): Promise<unknown> {
    const op = command.constructor.name;
    await this.time.sleep(this.options.callMs ?? 10);
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    const input = command.input;
    switch (op) {
      case 'SendMessageCommand': {
        const url = String(input.QueueUrl);
        const body = String(input.MessageBody);
        if (url === QueueUrls.steps) {
          this.steps.send(String(input.MessageGroupId), String(input.MessageDeduplicationId), body);
        } else if (url === QueueUrls.delay) {
          const seconds = typeof input.DelaySeconds === 'number' ? input.DelaySeconds : 0;
          this.time.schedule(seconds * 1000, () => this.onDelayed(body));
        } else if (url === QueueUrls.deadLetters) {
          const attrs = input.MessageAttributes as Record<string, { StringValue?: string }> | undefined;
          this.deadLetters.push({ body, reason: attrs?.reason?.StringValue ?? '' });
        } else {
          throw new SdkError('QueueDoesNotExist', `no queue ${url}`);
        }
        return { MessageId: `sim-${this.calls.get(op)}` };
      }
      case 'ChangeMessageVisibilityCommand':
        this.steps.changeVisibility(String(input.ReceiptHandle), Number(input.VisibilityTimeout));
        return {};
      default:
        throw new SdkError('InvalidAction', `the emulator does not implement ${op}`);
    }
  }
}
