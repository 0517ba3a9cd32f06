import type { Inventory } from '../../domain/inventory/model.js';
import type { RotationRecord } from '../../domain/rotation/record.js';
import type { LeaseClaim } from '../../ports/journal.js';
import type { StepMessage } from '../../ports/step-queue.js';
import type { Deps } from '../deps.js';
import { executeStep, StepExecution } from './execute-step.js';

/** Who this worker is and how long its claims last. */
export interface LeaseSettings {
  /** Unique per worker process or invocation (see `Lease.owner`). */
  readonly owner: string;
  /** How long a claim protects the rotation; renewed at every step, so it only needs to outlast one step. */
  readonly ttlMs: number;
}

/**
 * Twice the step function's timeout (60 s): a step that runs never loses its lease, and a dead worker's rotation
 * is free again well before SQS redelivers its message (visibility timeout 360 s).
 */
export const DEFAULT_LEASE_MS = 120_000;

/** The claim this worker makes now. */
export function claimOf(deps: Pick<Deps, 'clock'>, lease: LeaseSettings, options: { force?: boolean } = {}): LeaseClaim {
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + lease.ttlMs).toISOString();
  return { owner: lease.owner, expiresAt, now: now.toISOString(), ...(options.force && { force: true }) };
}

/** The lease a rotation starts with: its creator drives it. */
export function initialLease(deps: Pick<Deps, 'clock'>, lease: LeaseSettings): NonNullable<RotationRecord['lease']> {
  const { owner, expiresAt } = claimOf(deps, lease);
  return { owner, expiresAt };
}

/**
 * Runs one step under this worker's lease: claims (or renews) it first, so a worker that died mid-rotation is
 * taken over only once its lease has expired, and a live one is never raced. Throws LeaseHeldError (retryable)
 * while another worker's lease is live; on Lambda the message then comes back after its visibility timeout.
 *
 * `release` ends the lease when the step is over (a lease that expires now): for workers that handle one step
 * each (Lambda), so the worker of the next step claims at once. Their FIFO message group delivers that step only
 * once this one's message is deleted, after the release. The CLI keeps its lease: it drives the next step too.
 */
export async function executeLeasedStep(
  deps: Deps,
  inventory: Inventory,
  message: StepMessage,
  lease: LeaseSettings,
  options: { release?: boolean } = {},
): Promise<StepExecution> {
  // The claim returns the record as written: the step starts from it instead of reading it again.
  const claimed = await deps.journal.claimLease(message.rotationId, claimOf(deps, lease));
  let result: StepExecution | undefined;
  try {
    result = await executeStep(deps, inventory, message, {
      ...(claimed && { record: claimed }),
      ...(options.release && { releaseLeaseOf: lease.owner }),
    });
    return result;
  } finally {
    // A step that advanced the record ended the lease in that same write; a finished rotation has nothing to free.
    const released = result === StepExecution.Ran || result === StepExecution.Waiting || result === StepExecution.Finished;
    if (options.release && !released) await releaseLease(deps, message.rotationId, lease);
  }
}

/** Ends this worker's lease now; one taken over meanwhile (or a write that fails) is left as it is. */
async function releaseLease(deps: Deps, rotationId: string, lease: LeaseSettings): Promise<void> {
  const now = deps.clock.now().toISOString();
  try {
    await deps.journal.claimLease(rotationId, { owner: lease.owner, expiresAt: now, now });
  } catch (e) {
    // Not worth failing the step for: the lease then simply runs out.
    deps.log.warn('could not release the rotation lease', { rotationId, error: (e as Error).message });
  }
}
