import type { StepMessage, StepQueue } from '../../ports/step-queue.js';
import { defined } from '../../domain/defined.js';

interface Queued {
  readonly message: StepMessage;
  readonly readyAt: number;
}

/**
 * The embedded StepQueue: messages wait in memory and `drain` runs them in order of readiness, one at a time
 * (the CLI's single process stands in for the FIFO queue's one-step-per-item guarantee).
 */
export class InProcessQueue implements StepQueue {
  private readonly items: Queued[] = [];
  private readonly parkedSteps: StepMessage[] = [];

  /**
   * `parkBeyondMs`: a message due later than this is not waited for: `drain` sets it aside (see `parked`) and
   * returns, leaving its rotation running in the journal for a later run to resume (a signing key's overlap lasts
   * hours; a CLI must not sleep through it). Without it every wait is slept.
   */
  constructor(
    private readonly now: () => number = Date.now,
    private readonly sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
    private readonly options: { readonly parkBeyondMs?: number } = {},
  ) {}

  /** Messages set aside by `drain` because they were due too late; their rotations wait in the journal. */
  get parked(): readonly StepMessage[] {
    return this.parkedSteps;
  }

  async enqueue(message: StepMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    this.items.push({ message, readyAt: this.now() + (options.delaySeconds ?? 0) * 1000 });
  }

  get size(): number {
    return this.items.length;
  }

  /** Runs messages until none is left. A handler that throws stops the drain (the CLI reports it). */
  async drain(handle: (message: StepMessage) => Promise<void>, signal?: AbortSignal): Promise<void> {
    while (this.items.length) {
      signal?.throwIfAborted();
      this.items.sort((a, b) => a.readyAt - b.readyAt);
      const next = defined(this.items.shift());
      const wait = next.readyAt - this.now();
      if (this.options.parkBeyondMs !== undefined && wait > this.options.parkBeyondMs) {
        this.parkedSteps.push(next.message);
        continue;
      }
      if (wait > 0) await this.sleep(wait);
      await handle(next.message);
    }
  }
}
