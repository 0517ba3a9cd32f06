import type { RotationStep } from '../domain/rotation/machines.js';

/**
 * One step of one rotation, as a queue message. Message group = item; dedup id = rotation + step + attempt (+ the
 * requeue count, when a throttled step was queued again: its own message, not a duplicate of the first).
 */
export interface StepMessage {
  readonly rotationId: string;
  readonly inventory: string;
  readonly item: string;
  readonly step: RotationStep;
  readonly attempt: number;
  /** How many times this step was queued again after its attempts were all throttled (absent: never). */
  readonly requeue?: number;
}

export interface StepQueue {
  enqueue(message: StepMessage, options?: { delaySeconds?: number }): Promise<void>;
}
