import { RekeyError } from '../domain/errors.js';
import type { ClusterRestart, Lease, RotationRecord, RotationStatus } from '../domain/rotation/record.js';
import type { RenewalEntry } from './renewal-index.js';

/** What a record's write may carry beside it, in the same write where the journal can (DynamoDB: one transaction). */
export interface JournalWriteExtras {
  /** Renewal index entries of the units this write's run promoted; a journal without a renewal index ignores them. */
  readonly renewals?: readonly RenewalEntry[];
}

/** What a worker asks for when it claims (takes or renews) the lease of a running rotation. */
export interface LeaseClaim {
  readonly owner: string;
  /** The lease's new end. */
  readonly expiresAt: string;
  /** The claimer's clock: a lease that ended at or before it may be taken over. */
  readonly now: string;
  /**
   * Take the lease even while another owner's is live: the caller knows that owner is gone (the CLI holds the
   * state folder's lock, so no other process drives these rotations). The write stays conditional on the status.
   */
  readonly force?: boolean;
}

/** Another worker holds a live lease on the rotation. Retryable: it is free once that lease expires. */
export class LeaseHeldError extends RekeyError {
  constructor(
    readonly rotationId: string,
    readonly lease: Lease,
  ) {
    super(`rotation ${rotationId} is driven by ${lease.owner} until ${lease.expiresAt}`, {
      context: { rotationId, heldBy: lease.owner },
      retryable: true,
    });
  }
}

/** Rotation records with optimistic concurrency: every update names the revision it read. */
export interface Journal {
  /**
   * Creates a record; ConflictError if one with that id exists. Atomically takes the item's lock: while another
   * rotation of the same item is running, RotationLockedError (two workers never start one item twice).
   * The lock is freed when `update` records a finished status.
   */
  create(record: RotationRecord): Promise<void>;
  get(rotationId: string): Promise<RotationRecord | undefined>;
  /** Replaces the record if its revision is still `record.revision - 1`; ConflictError otherwise (nothing written). */
  update(record: RotationRecord, extras?: JournalWriteExtras): Promise<void>;
  listByItem(inventory: string, item: string): Promise<RotationRecord[]>;
  listByStatus(status: RotationStatus): Promise<RotationRecord[]>;
  /**
   * Takes or renews the lease of a running rotation, in one conditional write (revision + 1): granted when the
   * record has no lease, the lease is `claim.owner`'s, it ended by `claim.now`, or `claim.force`. Returns the
   * record as written; a finished record comes back unchanged (nothing left to drive); undefined if there is
   * none. LeaseHeldError while another owner's lease is live.
   */
  claimLease(rotationId: string, claim: LeaseClaim): Promise<RotationRecord | undefined>;
  /**
   * Sets `restarts[cluster]` of a record in one write (revision + 1, `updatedAt`), whatever else is in it, and
   * returns the record as written; undefined if there is none. Optional: without it the restart worker reads and
   * updates the record conditionally (two calls on a remote journal).
   */
  recordRestart?(rotationId: string, cluster: string, restart: ClusterRestart, at: string): Promise<RotationRecord | undefined>;
  /**
   * Removes item locks nothing holds any more: the holder finished (its release was lost to a crash), or its
   * record was never written and the lock is older than `orphanAfterMs` (a create killed between its two writes;
   * 0 when the caller knows no create is under way). Returns the items freed.
   */
  sweepLocks(options: { readonly orphanAfterMs: number }): Promise<string[]>;
}
