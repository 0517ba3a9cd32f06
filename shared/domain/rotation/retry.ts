import { isRekeyError } from '../errors.js';

/**
 * The one retry policy of rotation steps, used by the step function (SQS redelivery with a visibility backoff)
 * and by the CLI's in-process driver: a retryable failure is tried again after 2, 4, 8 ... seconds, up to
 * `maxAttempts` attempts in all; anything else, or the last attempt, fails the rotation.
 */
export const StepRetry = {
  maxAttempts: 5,
  /** Lambda: a message waits at most this long between deliveries. */
  maxDelaySeconds: 300,
  /** In one process (the CLI holds the state lock while it waits): shorter waits. */
  maxDelaySecondsInProcess: 30,
  /**
   * Lambda: a step that has used its attempts against a saturated quota (throttled: nothing was done) is queued
   * again for later instead of failing its rotation, as long as the rotation started less than this long ago.
   */
  throttledBudgetMs: 3 * 60 * 60_000,
  /**
   * The wait before such a step comes back (a message of its own: its requeue count makes a new deduplication id),
   * spread so that the steps throttled together do not return together.
   */
  throttledRequeueSeconds: { min: 30, spread: 90 },
} as const;

/** Whether `error` is a quota saturated (an AWS throttle): nothing was done, and the same call may succeed later. */
export const isThrottled = (error: unknown): boolean => isRekeyError(error) && error.retryable && error.context.throttled === true;

/**
 * Seconds to wait before a throttled step that has used its attempts runs again (a fresh message), or undefined
 * when its rotation has used up the budget (or the failure is not a throttle): then it fails as before.
 */
export function throttledRequeueSeconds(
  error: unknown,
  rotationStartedAt: Date,
  now: Date,
  random: () => number = Math.random,
): number | undefined {
  if (!isThrottled(error)) return undefined;
  if (now.getTime() - rotationStartedAt.getTime() >= StepRetry.throttledBudgetMs) return undefined;
  const { min, spread } = StepRetry.throttledRequeueSeconds;
  return min + Math.floor(random() * spread);
}

/** Seconds to wait after the `attempt`-th failed attempt (1-based). */
export function stepRetryDelaySeconds(attempt: number, maxDelaySeconds: number = StepRetry.maxDelaySeconds): number {
  return Math.min(2 ** Math.max(1, attempt), maxDelaySeconds);
}

/** Whether a step that failed with `error` on its `attempt`-th attempt gets another one. */
export function shouldRetryStep(error: unknown, attempt: number, maxAttempts: number = StepRetry.maxAttempts): boolean {
  return isRekeyError(error) && error.retryable && attempt < maxAttempts;
}
