import type { DrainableQueue } from '../rotation/drive.js';
import type { StepMessage } from '../../ports/step-queue.js';

/**
 * A drainable queue that reports retries: driveRotations puts a failed step back by enqueueing the very message
 * it was handling, while a step that moves on or waits enqueues a new message. So "the message being handled is
 * enqueued again" is exactly a retry, with no change to the drive loop.
 */
export function countingRetries(queue: DrainableQueue, onRetry: () => void): DrainableQueue {
  let handling: StepMessage | undefined;
  return {
    drain: (handle, signal) =>
      queue.drain(async (message) => {
        handling = message;
        try {
          await handle(message);
        } finally {
          handling = undefined;
        }
      }, signal),
    enqueue: (message, options) => {
      if (message === handling) onRetry();
      return queue.enqueue(message, options);
    },
  };
}
