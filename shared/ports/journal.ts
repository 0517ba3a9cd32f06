import type { RotationRecord, RotationStatus } from '../domain/rotation/record.js';

/** Rotation records with optimistic concurrency: every update names the revision it read. */
export interface Journal {
  /**
   * Creates a record; ConflictError if one with that id exists. Atomically takes the item's lock: while another
   * rotation of the same item is running, RotationLockedError (two workers never start one item twice).
   * The lock is freed when `update` records a finished status.
   */
  create(record: RotationRecord): Promise<void>;
  get(rotationId: string): Promise<RotationRecord | undefined>;
  /** Replaces the record if its revision is still `record.revision - 1`; ConflictError otherwise. */
  update(record: RotationRecord): Promise<void>;
  listByItem(inventory: string, item: string): Promise<RotationRecord[]>;
  listByStatus(status: RotationStatus): Promise<RotationRecord[]>;
}
