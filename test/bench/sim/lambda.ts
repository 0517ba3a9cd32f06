/**
 * Lambda's side of the region: one pool of concurrent executions (the account's concurrency) shared by the step
 * function (an SQS FIFO event source: batches of up to `batchSize` from ready groups, as many pollers as free
 * executions) and the asynchronously invoked functions (restart, delay), whose events wait in Lambda's internal
 * queue while no execution is free. A new execution environment pays a cold start once.
 */
import type { FifoQueue } from './fifo-queue.js';
import type { VirtualTime } from './virtual-time.js';

export interface LambdaOptions {
  /** Concurrent executions of the account in the region (default quota 1,000). */
  readonly concurrency?: number;
  /** The step function's reserved concurrency (none in serverless.yml: it shares the account's). */
  readonly stepConcurrency?: number;
  /** The step function's event source batch size (serverless.yml: 5). */
  readonly batchSize?: number;
  /** Time for a poller to hand a batch to an execution, ms. */
  readonly pollMs?: number;
  /** Warm invocation overhead, ms. */
  readonly invokeMs?: number;
  /** Cold start of a new execution environment, ms. */
  readonly coldStartMs?: number;
}

export interface FunctionStats {
  invocations: number;
  coldStarts: number;
  environments: number;
  active: number;
  peak: number;
}

export class LambdaRegion {
  private active = 0;
  peak = 0;
  private readonly asyncQueue: { fn: string; run: () => Promise<unknown> }[] = [];
  asyncQueuedPeak = 0;
  readonly stats = new Map<string, FunctionStats>();
  private pumpScheduled = false;
  private source?: { queue: FifoQueue<string>; fn: string; handle: (batch: ReturnType<FifoQueue<string>['receive']>) => Promise<void> };

  constructor(
    private readonly time: VirtualTime,
    private readonly options: LambdaOptions = {},
  ) {}

  private statsOf(fn: string): FunctionStats {
    let s = this.stats.get(fn);
    if (!s) {
      s = { invocations: 0, coldStarts: 0, environments: 0, active: 0, peak: 0 };
      this.stats.set(fn, s);
    }
    return s;
  }

  get concurrency(): number {
    return this.options.concurrency ?? 1000;
  }

  get busy(): number {
    return this.active;
  }

  /** Runs `body` in an execution of `fn` (the caller has checked there is a free one). */
  private async execute(fn: string, body: () => Promise<unknown>): Promise<void> {
    const s = this.statsOf(fn);
    this.active++;
    s.active++;
    s.invocations++;
    this.peak = Math.max(this.peak, this.active);
    s.peak = Math.max(s.peak, s.active);
    let overhead = this.options.invokeMs ?? 5;
    if (s.active > s.environments) {
      s.environments++;
      s.coldStarts++;
      overhead += this.options.coldStartMs ?? 250;
    }
    try {
      await this.time.sleep(overhead);
      await body();
    } catch {
      // The function's failure is its own business (SQS redelivers, EventBridge retries); counted by the caller.
    } finally {
      this.active--;
      s.active--;
      this.pump();
    }
  }

  /** An asynchronous invocation (EventBridge target, delay queue): runs when an execution is free. */
  invokeAsync(fn: string, run: () => Promise<unknown>): void {
    this.asyncQueue.push({ fn, run });
    this.asyncQueuedPeak = Math.max(this.asyncQueuedPeak, this.asyncQueue.length);
    this.pump();
  }

  /** Connects the FIFO queue's event source to `fn`. */
  connect(queue: FifoQueue<string>, fn: string, handle: (batch: ReturnType<FifoQueue<string>['receive']>) => Promise<void>): void {
    this.source = { queue, fn, handle };
    queue.onReady = () => this.pump();
  }

  /** Fills free executions: waiting asynchronous events first, then batches from the FIFO queue. */
  pump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    this.time.schedule(this.options.pollMs ?? 20, () => {
      this.pumpScheduled = false;
      while (this.active < this.concurrency && this.asyncQueue.length) {
        const next = this.asyncQueue.shift()!;
        void this.execute(next.fn, next.run);
      }
      const src = this.source;
      const stepLimit = this.options.stepConcurrency ?? Infinity;
      while (src && this.active < this.concurrency && (this.stats.get(src.fn)?.active ?? 0) < stepLimit && src.queue.readyGroups > 0) {
        const batch = src.queue.receive(this.options.batchSize ?? 5);
        if (batch.length === 0) break;
        void this.execute(src.fn, () => src.handle(batch));
      }
    });
  }
}
