import { shouldRetryStep, StepRetry, stepRetryDelaySeconds } from '../../domain/rotation/retry.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { LeaseHeldError } from '../../ports/journal.js';
import type { StepMessage } from '../../ports/step-queue.js';
import type { Deps } from '../deps.js';
import { executeStep } from './execute-step.js';
import { failRotation } from './fail.js';
import { executeLeasedStep, type LeaseSettings } from './lease.js';

/** A queue that can be drained in-process (the embedded runtime). */
export interface DrainableQueue {
  drain(handle: (message: StepMessage) => Promise<void>, signal?: AbortSignal): Promise<void>;
  enqueue(message: StepMessage, options?: { delaySeconds?: number }): Promise<void>;
}

export interface DriveOptions {
  readonly maxAttempts?: number;
  readonly onStep?: (message: StepMessage) => void;
  /** Claim each rotation's lease before its step (renewing it as the rotation goes); without it, no lease is kept. */
  readonly lease?: LeaseSettings;
}

/**
 * Runs queued steps in this process until none is left: retryable failures go back to the queue with
 * exponential backoff, anything else (or too many attempts) fails the rotation, as the DLQ would on AWS.
 * With `lease`, every step first renews this worker's lease on its rotation (the heartbeat that tells other
 * workers it is alive); a rotation whose lease another live worker holds is left to that worker.
 */
export async function driveRotations(deps: Deps, inventory: Inventory, queue: DrainableQueue, options: DriveOptions = {}): Promise<void> {
  const maxAttempts = options.maxAttempts ?? StepRetry.maxAttempts;
  const failures = new Map<string, number>();
  await queue.drain(async (message) => {
    options.onStep?.(message);
    try {
      await (options.lease ? executeLeasedStep(deps, inventory, message, options.lease) : executeStep(deps, inventory, message));
      failures.delete(`${message.rotationId}:${message.step}`);
    } catch (e) {
      if (e instanceof LeaseHeldError) {
        // Another live worker drives this rotation: its steps are its own, and failing it here would race it.
        deps.log.warn('rotation driven elsewhere, step left to its worker', {
          rotationId: message.rotationId,
          step: message.step,
          owner: e.lease.owner,
          until: e.lease.expiresAt,
        });
        return;
      }
      const error = e instanceof Error ? e : new Error(String(e));
      const key = `${message.rotationId}:${message.step}`;
      const count = (failures.get(key) ?? 0) + 1;
      failures.set(key, count);
      if (shouldRetryStep(error, count, maxAttempts)) {
        deps.log.warn('step failed, retrying', {
          rotationId: message.rotationId,
          step: message.step,
          attempt: count,
          error: error.message,
        });
        await queue.enqueue(message, { delaySeconds: stepRetryDelaySeconds(count, StepRetry.maxDelaySecondsInProcess) });
        return;
      }
      await failRotation(deps, inventory, message.rotationId, error);
    }
  }, deps.signal);
}
