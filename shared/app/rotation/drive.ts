import { isRekeyError } from '../../domain/errors.js';
import type { Inventory } from '../../domain/inventory/model.js';
import type { StepMessage } from '../../ports/step-queue.js';
import type { Deps } from '../deps.js';
import { executeStep } from './execute-step.js';
import { failRotation } from './fail.js';

/** A queue that can be drained in-process (the embedded runtime). */
export interface DrainableQueue {
  drain(handle: (message: StepMessage) => Promise<void>, signal?: AbortSignal): Promise<void>;
  enqueue(message: StepMessage, options?: { delaySeconds?: number }): Promise<void>;
}

export interface DriveOptions {
  readonly maxAttempts?: number;
  readonly onStep?: (message: StepMessage) => void;
}

/**
 * Runs queued steps in this process until none is left: retryable failures go back to the queue with
 * exponential backoff, anything else (or too many attempts) fails the rotation, as the DLQ would on AWS.
 */
export async function driveRotations(deps: Deps, inventory: Inventory, queue: DrainableQueue, options: DriveOptions = {}): Promise<void> {
  const maxAttempts = options.maxAttempts ?? 5;
  const failures = new Map<string, number>();
  await queue.drain(async (message) => {
    options.onStep?.(message);
    try {
      await executeStep(deps, inventory, message);
      failures.delete(`${message.rotationId}:${message.step}`);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      const key = `${message.rotationId}:${message.step}`;
      const count = (failures.get(key) ?? 0) + 1;
      failures.set(key, count);
      if (isRekeyError(error) && error.retryable && count < maxAttempts) {
        deps.log.warn('step failed, retrying', { rotationId: message.rotationId, step: message.step, attempt: count, error: error.message });
        await queue.enqueue(message, { delaySeconds: Math.min(2 ** count, 30) });
        return;
      }
      await failRotation(deps, inventory, message.rotationId, error);
    }
  }, deps.signal);
}
