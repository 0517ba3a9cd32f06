import type { RotationStep } from '../domain/rotation/machines.js';

/** One step of one rotation, as a queue message. Message group = item; dedup id = rotation + step + attempt. */
export interface StepMessage {
  readonly rotationId: string;
  readonly inventory: string;
  readonly item: string;
  readonly step: RotationStep;
  readonly attempt: number;
}

export interface StepQueue {
  enqueue(message: StepMessage, options?: { delaySeconds?: number }): Promise<void>;
}
