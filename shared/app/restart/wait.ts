/** Backoff between rollout polls: starts short (kwok and small Deployments finish in seconds), caps at 5 s. */
export const POLL = { initialMs: 250, factor: 1.6, maxMs: 5_000 } as const;

export class WaitInterrupted extends Error {
  constructor(readonly why: 'deadline' | 'aborted') {
    super(why === 'deadline' ? 'deadline reached' : 'aborted');
  }
}

/** Sleeps `ms`, but never past `deadline`; throws WaitInterrupted when the deadline is reached or `signal` aborts. */
export async function pause(ms: number, deadline: Date, now: () => Date, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new WaitInterrupted('aborted');
  const left = deadline.getTime() - now().getTime();
  if (left <= 0) throw new WaitInterrupted('deadline');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, Math.min(ms, left));
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(new WaitInterrupted('aborted'));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  if (signal?.aborted) throw new WaitInterrupted('aborted');
  if (ms >= left) throw new WaitInterrupted('deadline');
}

/** A promise that resolves at `deadline` (or on abort); for racing against other waits. */
export function until(deadline: Date, now: () => Date, signal?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline.getTime() - now().getTime()));
    onAbort = () => resolve();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  return {
    promise,
    cancel: () => {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    },
  };
}

export const nextDelay = (ms: number): number => Math.min(POLL.maxMs, Math.round(ms * POLL.factor));
