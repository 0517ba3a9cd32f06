/**
 * A virtual clock for discrete-event simulation of async code. Every timer (its own `sleep`, and, once
 * `install`ed, the global setTimeout that the real use cases use for backoffs and rollout polls) goes into one
 * ordered agenda; `run` lets all ready work settle (a real macrotask turn drains every microtask), then jumps the
 * clock to the next timer and fires it. The code under simulation must not wait on real I/O (everything it
 * touches is in memory), so "nothing ready" means "everything waits on virtual time".
 */
import type { Clock } from '../../../shared/ports/clock.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  fire: (() => void) | undefined;
}

/** A min-heap of timers by (at, seq): equal times fire in the order they were set. */
class Agenda {
  private readonly heap: Timer[] = [];
  get size(): number {
    return this.heap.length;
  }
  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  peek(): Timer | undefined {
    return this.heap[0];
  }
  pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** What the virtual setTimeout returns: enough of Node's Timeout for code that unrefs or clears it. */
export class VirtualTimeout {
  constructor(readonly timer: Timer) {}
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
}

const realSetImmediate = globalThis.setImmediate;
const settle = (): Promise<void> => new Promise((resolve) => realSetImmediate(resolve));

export class VirtualTime implements Clock {
  private t: number;
  private seq = 0;
  private readonly agenda = new Agenda();
  /** Timers fired so far (a measure of the simulation's work). */
  fired = 0;

  constructor(startMs: number = Date.UTC(2026, 0, 1)) {
    this.t = startMs;
  }

  now(): Date {
    return new Date(this.t);
  }

  get ms(): number {
    return this.t;
  }

  /** Calls `fire` once the clock reaches now + delayMs. */
  schedule(delayMs: number, fire: () => void): VirtualTimeout {
    const timer: Timer = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fire };
    this.agenda.push(timer);
    return new VirtualTimeout(timer);
  }

  cancel(handle: unknown): void {
    if (handle instanceof VirtualTimeout) handle.timer.fire = undefined;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.schedule(ms, resolve));
  }

  /** Pending timers (cancelled ones included until their time comes). */
  get pending(): number {
    return this.agenda.size;
  }

  /**
   * Routes the global setTimeout/clearTimeout through this clock (the use cases' own waits then take virtual
   * time). Returns the function that puts the real ones back.
   */
  install(): () => void {
    const g = globalThis as unknown as Record<string, unknown>;
    const saved = { setTimeout: g.setTimeout, clearTimeout: g.clearTimeout };
    g.setTimeout = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => this.schedule(ms ?? 0, () => fn(...args));
    g.clearTimeout = (handle: unknown) => this.cancel(handle);
    return () => {
      g.setTimeout = saved.setTimeout;
      g.clearTimeout = saved.clearTimeout;
    };
  }

  /**
   * Runs until `done()` holds after work settles, or no timer is left, or the clock would pass `limitMs` from now
   * (then it stands at the limit).
   * Timers due at the same instant fire together, then work settles again.
   */
  async run(options: { done?: () => boolean; limitMs?: number } = {}): Promise<void> {
    const limit = options.limitMs === undefined ? Infinity : this.t + options.limitMs;
    for (;;) {
      await settle();
      if (options.done?.()) return;
      const next = this.agenda.peek();
      if (!next || next.at > limit) {
        // Stopped by the limit: the clock stands at it (a run of N ms advances the clock N ms).
        if (limit !== Infinity) this.t = Math.max(this.t, limit);
        return;
      }
      this.t = Math.max(this.t, next.at);
      while (this.agenda.peek()?.at === next.at) {
        const timer = this.agenda.pop()!;
        const fire = timer.fire;
        timer.fire = undefined;
        if (fire) {
          this.fired++;
          fire();
        }
      }
    }
  }
}
