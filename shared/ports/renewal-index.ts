/** When one unit's current version is due: what the scheduled scan looks up instead of reading every secret. */
export interface RenewalEntry {
  /** The unit's store name. */
  readonly unit: string;
  /** ISO instant at which the version is due (renewalInstant); the scan reads the unit once it has passed. */
  readonly renewAt: string;
  /** The current version the instant was computed from. */
  readonly versionId: string;
}

/** What the last full reconcile of an inventory saw: the scan trusts the index only for the same inventory. */
export interface ReconcileMark {
  /** Digest of the inventory (units and every setting that decides when they are due). */
  readonly digest: string;
  readonly reconciledAt: string;
}

/**
 * An index of renewal instants, one entry per unit, kept current by every promotion (and by the full reconcile,
 * which also repairs what a lost write left behind). Lets a scan with nothing due make a handful of calls.
 */
export interface RenewalIndex {
  /** Writes (replaces) the entries of these units. */
  putRenewals(inventory: string, entries: readonly RenewalEntry[]): Promise<void>;
  /** Entries of the inventory due at or before `until`, earliest first. */
  dueRenewals(inventory: string, until: Date): Promise<RenewalEntry[]>;
  /** Every entry of the inventory (the full reconcile compares them with the store). */
  allRenewals(inventory: string): Promise<RenewalEntry[]>;
  /** Removes the entries of units that left the inventory. */
  removeRenewals(inventory: string, units: readonly string[]): Promise<void>;
  reconcileMark(inventory: string): Promise<ReconcileMark | undefined>;
  markReconciled(inventory: string, mark: ReconcileMark): Promise<void>;
}

/** Whether an adapter (the DynamoDB journal does) also keeps a renewal index. */
export const hasRenewalIndex = <T extends object>(adapter: T): adapter is T & RenewalIndex =>
  'dueRenewals' in adapter && 'putRenewals' in adapter;
