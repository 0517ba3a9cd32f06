import type { PolledMessage, SqsPoller } from '../../shared/adapters/aws/sqs-poller.js';
import type { Logger } from '../../shared/ports/logger.js';
import type { EventBridgeEvent, LambdaContext, SqsBatchResponse, SqsEvent, SqsRecord } from '../lib/lambda.js';

/**
 * A local stand-in for Lambda's event sources, against real queues (moto, or AWS itself): long-polls the FIFO step
 * queue and the delay queue and hands batches to the step and delay handlers like an SQS event source mapping
 * (deleting what the partial batch response does not name); polls the queue the restart rule delivers to and invokes
 * the restart handler once per event, like EventBridge's asynchronous invocation. Used by `npm run offline` and the
 * end-to-end tests; nothing in it runs in Lambda.
 */
export interface RunnerOptions {
  readonly poller: SqsPoller;
  readonly stepQueueUrl: string;
  readonly delayQueueUrl: string;
  readonly restartEventsQueueUrl: string;
  readonly step: (event: SqsEvent, context?: LambdaContext) => Promise<SqsBatchResponse>;
  readonly delay: (event: SqsEvent, context?: LambdaContext) => Promise<SqsBatchResponse>;
  readonly restart: (event: EventBridgeEvent, context?: LambdaContext) => Promise<unknown>;
  readonly log: Logger;
  /** Timeout given to each invocation, as Lambda's remaining time (default 60 s; restart 900 s). */
  readonly timeoutMs?: number;
  /** Seconds of one long poll (default 1: quick to stop). */
  readonly waitSeconds?: number;
  /** Called before a step batch is handed over; a test injects faults here. */
  readonly beforeStep?: (records: readonly SqsRecord[]) => void;
}

const toRecord = (m: PolledMessage, queueArn: string): SqsRecord => ({ ...m, eventSource: 'aws:sqs', eventSourceARN: queueArn });

const context = (timeoutMs: number): LambdaContext => {
  const end = Date.now() + timeoutMs;
  return { awsRequestId: `local-${Date.now()}`, getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
};

export class LocalRunner {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  /** Invocations per function, for tests and the console. */
  readonly invocations = { step: 0, delay: 0, restart: 0 };
  /** Errors thrown by handlers (a real event source would retry; so does this one). */
  readonly errors: { fn: string; error: string }[] = [];

  constructor(private readonly options: RunnerOptions) {}

  start(): this {
    const o = this.options;
    this.loops.push(this.loop('step', o.stepQueueUrl, 10, (records) => this.batch('step', o.stepQueueUrl, records, o.step)));
    this.loops.push(this.loop('delay', o.delayQueueUrl, 10, (records) => this.batch('delay', o.delayQueueUrl, records, o.delay)));
    this.loops.push(this.loop('restart', o.restartEventsQueueUrl, 10, (records) => this.events(records)));
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.loops);
  }

  private async loop(name: string, url: string, max: number, handle: (records: SqsRecord[]) => Promise<void>): Promise<void> {
    const arn = `arn:aws:sqs:local:000000000000:${url.split('/').pop()}`;
    while (!this.stopped) {
      let messages: PolledMessage[];
      try {
        messages = await this.options.poller.receive(url, { max, waitSeconds: this.options.waitSeconds ?? 1 });
      } catch (e) {
        this.options.log.warn(`${name}: receive failed`, { error: (e as Error).message });
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (messages.length) await handle(messages.map((m) => toRecord(m, arn)));
    }
  }

  private async batch(fn: 'step' | 'delay', url: string, records: SqsRecord[], handler: RunnerOptions['step']): Promise<void> {
    this.invocations[fn]++;
    if (fn === 'step') this.options.beforeStep?.(records);
    let failed = new Set<string>();
    try {
      const response = await handler({ Records: records }, context(this.options.timeoutMs ?? 60_000));
      failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    } catch (e) {
      // The whole batch failed (the worker died): nothing is deleted, everything comes back after its visibility timeout.
      this.errors.push({ fn, error: (e as Error).message });
      this.options.log.warn(`${fn}: invocation failed`, { error: (e as Error).message });
      return;
    }
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length)
      await this.options.poller.delete(
        url,
        done.map((r) => r.receiptHandle),
      );
  }

  private async events(records: SqsRecord[]): Promise<void> {
    // EventBridge invokes the function once per event, asynchronously: run them side by side.
    await Promise.all(
      records.map(async (record) => {
        this.invocations.restart++;
        try {
          await this.options.restart(JSON.parse(record.body) as EventBridgeEvent, context(this.options.timeoutMs ?? 900_000));
          await this.options.poller.delete(this.options.restartEventsQueueUrl, [record.receiptHandle]);
        } catch (e) {
          this.errors.push({ fn: 'restart', error: (e as Error).message });
          this.options.log.warn('restart: invocation failed, will be retried', { error: (e as Error).message });
        }
      }),
    );
  }
}
