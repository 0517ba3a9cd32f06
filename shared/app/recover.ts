import { RekeyError } from '../domain/errors.js';
import type { Inventory } from '../domain/inventory/model.js';
import { leaseExpired, RestartState, RotationStatus, type RotationRecord } from '../domain/rotation/record.js';
import { allUnits } from '../domain/units.js';
import { LeaseHeldError } from '../ports/journal.js';
import { Stage } from '../ports/secret-store.js';
import type { StepMessage } from '../ports/step-queue.js';
import { mapLimit } from './concurrency.js';
import type { Deps } from './deps.js';
import { driveRotations, type DrainableQueue } from './rotation/drive.js';
import { failRotation } from './rotation/fail.js';
import { claimOf, type LeaseSettings } from './rotation/lease.js';

const DESCRIBE_CONCURRENCY = 16;

/** What recovery did with one thing a dead process left behind. */
export const RecoveryAction = {
  /** A running rotation whose worker is gone: taken over and driven on from the step it had reached. */
  Resumed: 'resumed',
  /** A running rotation that cannot go on (its item left the inventory): failed, its pending versions discarded. */
  Failed: 'failed',
  /** A pending version that nothing will promote: its label removed (the version stays, unlabelled). */
  Discarded: 'discarded',
  /** A running rotation another live worker drives: left to it. */
  LeftRunning: 'left-running',
  /** An item lock nobody holds any more, removed. */
  LockFreed: 'lock-freed',
} as const;
export type RecoveryAction = (typeof RecoveryAction)[keyof typeof RecoveryAction];

export interface RecoveryEntry {
  readonly action: RecoveryAction;
  /** Item (for rotations and locks) or unit key (for versions). */
  readonly item: string;
  readonly rotationId?: string;
  readonly versionId?: string;
  /** The step a resumed rotation went on from. */
  readonly step?: string;
  /** How a resumed rotation ended (when this process drove it). */
  readonly outcome?: RotationStatus;
  readonly reason: string;
}

export interface RecoveryReport {
  readonly inventory: string;
  readonly entries: readonly RecoveryEntry[];
}

export interface RecoverOptions {
  /** This worker's lease: resumed rotations are claimed with it. */
  readonly lease: LeaseSettings;
  /**
   * The caller holds the state exclusively (the CLI's state-folder lock): no other worker can be driving a
   * rotation or be between issuing and promoting, so every lease not its own and every pending version without a
   * running rotation is a dead process's. Without it (Lambda), only expired leases are taken over and only
   * unowned pending versions older than a lease are discarded.
   */
  readonly exclusive: boolean;
  /**
   * Store names of the units whose pending versions are checked for orphans (a scan of what is due: those units
   * only, the daily full reconcile all of them). Default: every unit of the inventory (two store calls each).
   */
  readonly orphansOf?: ReadonlySet<string>;
  /**
   * Drives resumed rotations to their end in this process (the CLI). Without it their current step is queued
   * for the step workers, whose lease claim takes the rotation over.
   */
  readonly queue?: DrainableQueue;
}

/**
 * Puts right what a killed process left: running rotations whose lease expired and whose record went stale (or,
 * `exclusive`, whose worker is gone) are resumed from their step, since every step is idempotent; pending
 * versions that no running rotation owns (an `apply` killed between issuing and promoting, or a failure that died
 * before discarding) are discarded, so they no longer lock their item; item locks nobody holds are freed. Safe to
 * run at any time and any number of times: with nothing left behind it changes nothing.
 */
export async function recover(deps: Deps, inventory: Inventory, options: RecoverOptions): Promise<RecoveryReport> {
  const entries: RecoveryEntry[] = [];
  const resumed = await resumeRotations(deps, inventory, options, entries);
  if (options.queue && resumed.length) {
    await driveRotations(deps, inventory, options.queue, { lease: options.lease });
    for (const [i, entry] of entries.entries()) {
      if (entry.action !== RecoveryAction.Resumed || !entry.rotationId) continue;
      const final = await deps.journal.get(entry.rotationId);
      if (final) entries[i] = { ...entry, outcome: final.status };
    }
  }
  await discardOrphans(deps, inventory, options, entries);
  for (const item of await deps.journal.sweepLocks({ orphanAfterMs: options.exclusive ? 0 : options.lease.ttlMs })) {
    entries.push({ action: RecoveryAction.LockFreed, item, reason: 'its rotation had finished, or its record was never written' });
  }
  for (const e of entries) deps.log.info(`recovery: ${e.action} ${e.item}`, { ...e });
  return { inventory: inventory.name, entries };
}

async function resumeRotations(
  deps: Deps,
  inventory: Inventory,
  options: RecoverOptions,
  entries: RecoveryEntry[],
): Promise<RotationRecord[]> {
  const now = deps.clock.now();
  const running = (await deps.journal.listByStatus(RotationStatus.Running)).filter((r) => r.inventory === inventory.name);
  const resumed: RotationRecord[] = [];
  for (const record of running) {
    const base = { item: record.item, rotationId: record.id };
    const mine = record.lease?.owner === options.lease.owner;
    if (!mine && !options.exclusive && !stale(record, now, options.lease.ttlMs)) {
      const live = record.lease && !leaseExpired(record.lease, now) ? record.lease : undefined;
      const held = live && `driven by ${live.owner} until ${live.expiresAt}`;
      entries.push({ ...base, action: RecoveryAction.LeftRunning, reason: held ?? 'between steps' });
      continue;
    }
    const why = !record.lease
      ? 'no worker holds it'
      : options.exclusive && !leaseExpired(record.lease, now)
        ? `its worker ${record.lease.owner} is gone`
        : `its lease expired at ${record.lease.expiresAt}`;

    if (!inventory.items.has(record.item)) {
      // Nothing can run its steps: end it, and free its units of the version it had pending.
      for (const unit of record.units) await deps.store.discardPending(unit, record.id);
      const gone = new RekeyError(`item "${record.item}" is no longer in inventory ${inventory.name}; the rotation was ended by recovery`);
      await failRotation(deps, inventory, record.id, gone);
      const reason = `${why}, and its item is no longer in the inventory`;
      entries.push({ ...base, action: RecoveryAction.Failed, step: record.step, reason });
      continue;
    }

    if (!options.queue) {
      // The step worker that receives this claims the lease (conditionally: only once it has expired).
      await deps.queue.enqueue(stepMessageOf(record));
      entries.push({ ...base, action: RecoveryAction.Resumed, step: record.step, reason: `${why}; step queued for the workers` });
      resumed.push(record);
      continue;
    }
    let claimed: RotationRecord | undefined;
    try {
      claimed = await deps.journal.claimLease(record.id, claimOf(deps, options.lease, { force: options.exclusive }));
    } catch (e) {
      if (!(e instanceof LeaseHeldError)) throw e;
      entries.push({ ...base, action: RecoveryAction.LeftRunning, reason: `taken over meanwhile by ${e.lease.owner}` });
      continue;
    }
    if (!claimed || claimed.status !== RotationStatus.Running) continue;
    if (options.exclusive) claimed = await forgetOrphanRestarts(deps, claimed);
    await options.queue.enqueue(stepMessageOf(claimed));
    entries.push({ ...base, action: RecoveryAction.Resumed, step: claimed.step, reason: why });
    resumed.push(claimed);
  }
  return resumed;
}

/** The message of the step a rotation is at. */
function stepMessageOf(record: RotationRecord): StepMessage {
  return { rotationId: record.id, inventory: record.inventory, item: record.item, step: record.step, attempt: record.attempt };
}

/**
 * Restarts a dead CLI had requested were being run by its in-process restart worker, which died with it: nobody
 * will ever record their outcome, and the restart step would wait for them forever (or until its deadline). Drop
 * the rotation's restart progress so the step requests them all again; a restart is a pod-template patch, so a
 * cluster that had finished only rolls once more. Lambda's restart worker is its own function: only the CLI
 * (`exclusive`) calls this.
 */
async function forgetOrphanRestarts(deps: Deps, record: RotationRecord): Promise<RotationRecord> {
  if (!Object.values(record.restarts).some((r) => r.state === RestartState.Requested)) return record;
  const { restartDeadline: _dropped, ...rest } = record;
  const reset: RotationRecord = { ...rest, restarts: {}, revision: record.revision + 1, updatedAt: deps.clock.now().toISOString() };
  await deps.journal.update(reset);
  return reset;
}

/**
 * Whether a running rotation has been left: its lease has expired and its record has not moved for a lease's
 * length. Workers that hold a lease for one step only (Lambda) release it between steps, so an expired lease alone
 * is also what a healthy rotation looks like while its next step waits in the queue.
 */
function stale(record: RotationRecord, now: Date, ttlMs: number): boolean {
  return leaseExpired(record.lease, now) && Date.parse(record.updatedAt) + ttlMs <= now.getTime();
}

/** Pending versions of this inventory's units that no running rotation will promote. */
async function discardOrphans(deps: Deps, inventory: Inventory, options: RecoverOptions, entries: RecoveryEntry[]): Promise<void> {
  const now = deps.clock.now().getTime();
  const units = options.orphansOf ? allUnits(inventory).filter((u) => options.orphansOf?.has(u.storeName)) : allUnits(inventory);
  const found = await mapLimit(units, DESCRIBE_CONCURRENCY, async (unit) => {
    const versions = (await deps.store.describe(unit.storeName))?.versions ?? [];
    return versions.filter((v) => v.stages.includes(Stage.Pending)).map((v) => ({ unit, version: v }));
  });
  for (const { unit, version } of found.flat()) {
    // A rotation's pending version carries the rotation's id; `apply` uses a fresh id of its own.
    const owner = await deps.journal.get(version.versionId);
    if (owner?.status === RotationStatus.Running) continue;
    // Without exclusivity, an apply or scan elsewhere may be between issuing and promoting this very version.
    if (!owner && !options.exclusive && now - Date.parse(version.createdAt) < options.lease.ttlMs) continue;
    await deps.store.discardPending(unit.storeName, version.versionId);
    entries.push({
      action: RecoveryAction.Discarded,
      item: unit.key,
      versionId: version.versionId,
      ...(owner && { rotationId: owner.id }),
      reason: owner
        ? `its rotation ${owner.status} without discarding it`
        : 'issued by a run that died before promoting it; no rotation owns it',
    });
  }
}
