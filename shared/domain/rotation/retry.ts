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
} as const;

/** Seconds to wait after the `attempt`-th failed attempt (1-based). */
export function stepRetryDelaySeconds(attempt: number, maxDelaySeconds: number = StepRetry.maxDelaySeconds): number {
  return Math.min(2 ** Math.max(1, attempt), maxDelaySeconds);
}

/** Whether a step that failed with `error` on its `attempt`-th attempt gets another one. */
export function shouldRetryStep(error: unknown, attempt: number, maxAttempts: number = StepRetry.maxAttempts): boolean {
  return isRekeyError(error) && error.retryable && attempt < maxAttempts;
}
