import { isRekeyError, NotFoundError } from '../../domain/errors.js';
import { CLUSTER_REQUEST_CONCURRENCY } from '../../domain/restart/pace.js';
import { workloadId } from '../../domain/restart/workload.js';
import type { RolloutReading, WorkloadControl, WorkloadRef } from '../../ports/cluster.js';
import { mapLimit } from '../concurrency.js';
import { nextDelay, POLL } from './wait.js';

/** How one workload's wait ended. */
export type RolloutEnd =
  | { readonly kind: 'done'; readonly message: string }
  | { readonly kind: 'gone' }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'interrupted'; readonly why: 'deadline' | 'aborted'; readonly last: string };

interface Waiter {
  readonly ref: WorkloadRef;
  readonly settle: (end: RolloutEnd) => void;
  last: string;
}

/**
 * Waits for the rollouts of one restart request together: each tick reads every workload still rolling out in one
 * go (the adapter's `rolloutStatuses`: one list per namespace and kind), instead of a poll loop per workload. Ticks
 * back off from POLL.initialMs to POLL.maxMs and start short again when a workload joins (a freshly patched
 * Deployment on a quiet cluster is often done within a second). Retryable errors keep waiting; the deadline and the
 * signal end every wait still open.
 */
export class RolloutWatch {
  private readonly waiting = new Map<string, Waiter>();
  private delay: number = POLL.initialMs;
  private hurry: (() => void) | undefined;
  private running = false;

  constructor(
    private readonly control: WorkloadControl,
    private readonly deadline: Date,
    private readonly now: () => Date,
    private readonly signal?: AbortSignal,
  ) {}

  /** Resolves when `ref` has rolled out, is gone, failed for good, or the wait was interrupted. */
  until(ref: WorkloadRef): Promise<RolloutEnd> {
    return new Promise<RolloutEnd>((resolve) => {
      const id = workloadId(ref);
      this.waiting.set(id, {
        ref,
        last: 'rollout not read yet',
        settle: (end) => {
          this.waiting.delete(id);
          resolve(end);
        },
      });
      this.delay = POLL.initialMs;
      if (this.running) this.hurry?.();
      else void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      for (;;) {
        await this.tick();
        if (this.waiting.size === 0) return;
        const slept = await this.sleep(this.delay);
        if (slept !== 'slept') {
          for (const w of [...this.waiting.values()]) w.settle({ kind: 'interrupted', why: slept, last: w.last });
          return;
        }
        this.delay = nextDelay(this.delay);
      }
    } catch (e) {
      // Not expected (readings carry their errors); never leave a wait open.
      for (const w of [...this.waiting.values()]) w.settle({ kind: 'failed', message: e instanceof Error ? e.message : String(e) });
    } finally {
      this.running = false;
    }
  }

  private async tick(): Promise<void> {
    const waiters = [...this.waiting.values()];
    const readings = await this.read(waiters.map((w) => w.ref));
    for (const w of waiters) {
      const r = readings.get(workloadId(w.ref));
      if (!r) continue;
      if ('status' in r) {
        if (r.status.done) w.settle({ kind: 'done', message: r.status.message });
        else w.last = r.status.message;
      } else if (r.error instanceof NotFoundError) w.settle({ kind: 'gone' });
      else if (isRekeyError(r.error) && r.error.retryable) w.last = r.error.message;
      else w.settle({ kind: 'failed', message: r.error instanceof Error ? r.error.message : String(r.error) });
    }
  }

  private async read(refs: readonly WorkloadRef[]): Promise<ReadonlyMap<string, RolloutReading>> {
    if (this.control.rolloutStatuses) return this.control.rolloutStatuses(refs);
    const readings = await mapLimit(refs, CLUSTER_REQUEST_CONCURRENCY, async (ref): Promise<[string, RolloutReading]> => {
      try {
        return [workloadId(ref), { status: await this.control.rolloutStatus(ref) }];
      } catch (error) {
        return [workloadId(ref), { error }];
      }
    });
    return new Map(readings);
  }

  /** Sleeps `ms` (cut to POLL.initialMs when a workload joins); never past the deadline, and not once the signal aborts. */
  private sleep(ms: number): Promise<'slept' | 'deadline' | 'aborted'> {
    if (this.signal?.aborted) return Promise.resolve('aborted');
    const start = this.now().getTime();
    const left = this.deadline.getTime() - start;
    if (left <= 0) return Promise.resolve('deadline');
    const end = start + left;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let fireAt = Infinity;
      const finish = (why: 'slept' | 'deadline' | 'aborted') => {
        clearTimeout(timer);
        this.signal?.removeEventListener('abort', onAbort);
        this.hurry = undefined;
        resolve(why);
      };
      const onAbort = () => finish('aborted');
      const arm = (at: number) => {
        if (at >= fireAt) return;
        fireAt = at;
        clearTimeout(timer);
        timer = setTimeout(() => finish(at >= end ? 'deadline' : 'slept'), Math.max(0, Math.min(at, end) - this.now().getTime()));
      };
      arm(start + ms);
      this.signal?.addEventListener('abort', onAbort, { once: true });
      // Joins come in bursts (a window of patches): read them soon, but never sooner than POLL.initialMs from now.
      this.hurry = () => arm(this.now().getTime() + POLL.initialMs);
    });
  }
}
