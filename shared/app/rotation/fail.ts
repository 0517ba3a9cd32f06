import { EventType, makeEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { beforePromotion } from '../../domain/rotation/machines.js';
import { isFinished, RotationKind, RotationStatus, StepStatus, type RotationRecord } from '../../domain/rotation/record.js';
import { unitsOf } from '../../domain/units.js';
import { Stage } from '../../ports/secret-store.js';
import type { Deps } from '../deps.js';
import { MaterialReader } from '../materials.js';
import { rollbackItem } from '../rollback.js';
import { recheckRenewals } from '../renewals.js';
import { syncUnits } from '../sync.js';
import { VerificationError } from './errors.js';
import { resumeAfterFailure } from '../pause/index.js';
import { compensatePassword } from './password-steps.js';
import { updateRotation } from './record-update.js';
import { announcesStart, expiresAtFor, startedEvent } from './start.js';

/**
 * Ends a rotation that cannot go on, losing nothing: before promotion the pending version is discarded (current
 * untouched); after a failed verification the store rolls back to AWSPREVIOUS and the targets are re-synced;
 * any other failure after promotion leaves the new version current and the previous one retrievable.
 */
export async function failRotation(
  deps: Deps,
  inventory: Inventory,
  rotationId: string,
  error: Error,
): Promise<RotationRecord | undefined> {
  const record = await deps.journal.get(rotationId);
  if (!record || isFinished(record)) return record;
  const item = inventory.items.get(record.item);
  const units = item ? unitsOf(inventory, item) : [];
  const base = { inventory: inventory.name, item: record.item, rotationId };
  let status: RotationStatus = RotationStatus.Failed;

  if (record.kind === RotationKind.Authority && !beforePromotion(record.kind, record.step) && error instanceof VerificationError) {
    // The old CA is still in every bundle: children and CA go back to it, then the targets are written again.
    await rollbackItem(deps, inventory, record.item, { reason: error.message, record });
    await deps.events.publish([makeEvent(EventType.RotationFailed, base, { step: record.step, error: error.message })]);
    const rolled = await deps.journal.get(rotationId);
    if (rolled) await deps.rotationRecorded?.(rolled);
    return rolled;
  }
  if (beforePromotion(record.kind, record.step)) {
    for (const u of units) await deps.store.discardPending(u.storeName, rotationId);
    // A signing key's successor may already be in the published key set: take it out again.
    if (record.kind === RotationKind.SigningKey && units.length)
      await syncUnits(deps, inventory, units, new MaterialReader(deps.store, inventory), { rotationId });
  } else if (error instanceof VerificationError && units.length) {
    for (const u of units) {
      if (record.previousVersions[u.storeName]) await deps.store.rollback(u.storeName);
      // A leaf's one write (Secrets Manager) does not say what it replaced: roll back if there is a previous version.
      else if (record.kind === RotationKind.Leaf && (await deps.store.getVersion(u.storeName, { stage: Stage.Previous })))
        await deps.store.rollback(u.storeName);
    }
    // The run that promoted recorded the new versions' renewal instants: the next scan reads what is current now.
    await recheckRenewals(
      deps,
      inventory.name,
      units.map((u) => u.storeName),
    );
    await syncUnits(deps, inventory, units, new MaterialReader(deps.store, inventory), { rotationId });
    status = RotationStatus.RolledBack;
  }

  // A password may be set in the database and its owner paused: put both right, and say so. Any other rotation of a
  // credential may have paused owners (a signing key's own and its tokens'): resume them.
  const notes =
    record.kind === RotationKind.Password
      ? await compensatePassword(deps, inventory, record, { rolledBack: status === RotationStatus.RolledBack })
      : await resumeAfterFailure(deps, inventory, item);
  const message = notes.length ? `${error.message} (${notes.join('; ')})` : error.message;

  const now = deps.clock.now();
  const failed = await updateRotation(deps, rotationId, (r) =>
    isFinished(r)
      ? undefined
      : {
          ...r,
          status,
          finishedAt: now.toISOString(),
          error: message,
          expiresAt: expiresAtFor(now),
          history: [...r.history, { step: r.step, status: StepStatus.Failed, at: now.toISOString(), attempt: r.attempt, message }],
        },
  );
  if (!failed) return deps.journal.get(rotationId);
  // A leaf rotation failing before any run was recorded has not announced its start yet.
  const events = [
    ...(announcesStart(record) ? [startedEvent(record)] : []),
    makeEvent(EventType.RotationFailed, base, { step: record.step, error: message }),
  ];
  if (status === RotationStatus.RolledBack) events.push(makeEvent(EventType.RotationRolledBack, base, { step: record.step }));
  await deps.events.publish(events);
  await deps.rotationRecorded?.(failed);
  return failed;
}
