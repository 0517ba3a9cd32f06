import { NotFoundError, RekeyError } from '../domain/errors.js';
import { EventType, makeEvent } from '../domain/events/types.js';
import type { Inventory, Item } from '../domain/inventory/model.js';
import { authorityScope } from '../domain/rotation/authority-scope.js';
import { isFinished, RotationKind, RotationStatus, StepStatus, type RotationRecord } from '../domain/rotation/record.js';
import { unitsOf, type Unit } from '../domain/units.js';
import { certificatesOf, fingerprintOf } from '../domain/pki/chain.js';
import { decodeMaterial } from '../domain/store/material.js';
import { Stage } from '../ports/secret-store.js';
import type { Deps } from './deps.js';
import { MaterialReader } from './materials.js';
import { dropVersionId } from './rotation/authority-steps.js';
import { updateRotation } from './rotation/record-update.js';
import { announcesStart, expiresAtFor, startedEvent } from './rotation/start.js';
import { syncUnits, type SyncReport } from './sync.js';
import { recheckRenewals } from './renewals.js';
import { defined } from '../domain/defined.js';

export interface RollbackResult {
  readonly item: string;
  readonly rotationId?: string;
  /** Units whose AWSPREVIOUS became AWSCURRENT again (or whose pending new CA was discarded). */
  readonly units: readonly string[];
  readonly sync: SyncReport;
}

/** Rollback is refused: nothing to go back to, or (an authority) the old CA has already left the bundles. */
export class RollbackRefusedError extends RekeyError {}

const latestOf = (records: readonly RotationRecord[]): RotationRecord | undefined =>
  [...records].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).at(-1);

/** Moves AWSCURRENT back to AWSPREVIOUS for `unit` if `isNew` says the current version is the one to undo. */
async function undo(deps: Deps, unit: Unit, isNew: (versionId: string) => boolean): Promise<boolean> {
  const d = await deps.store.describe(unit.storeName);
  const current = d?.versions.find((v) => v.stages.includes(Stage.Current));
  const previous = d?.versions.find((v) => v.stages.includes(Stage.Previous));
  if (!current || !previous || !isNew(current.versionId)) return false;
  await deps.store.rollback(unit.storeName);
  return true;
}

/**
 * An authority rotation undone while the old CA is still in every bundle: children re-issued by it go back to their
 * versions under the old CA, the CA goes back to the old one (or its pending new CA is discarded). Refused after the
 * drop step: the old CA has left the bundles, and trust consumers would reject it.
 */
async function undoAuthority(
  deps: Deps,
  inventory: Inventory,
  item: Item & { kind: 'authority' },
  record: RotationRecord,
): Promise<Unit[]> {
  const unit = defined(unitsOf(inventory, item)[0]);
  const current = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
  if (current?.versionId === dropVersionId(record.id)) {
    throw new RollbackRefusedError(
      `${item.name}: rotation ${record.id} already dropped the old CA from the bundles; rollback is not possible (rotate again instead)`,
      { context: { item: item.name, rotationId: record.id } },
    );
  }
  const scope = authorityScope(inventory, item);
  const undone: Unit[] = [];
  const children = scope.children.flatMap((c) => unitsOf(inventory, c));
  // Leaves before intermediates: undo in the reverse order of the re-issue.
  for (const child of [...children].reverse()) if (await undo(deps, child, (v) => v === record.id)) undone.push(child);
  if (await undo(deps, unit, (v) => v === record.id)) undone.push(unit);
  else {
    const pending = await deps.store.getVersion(unit.storeName, { stage: Stage.Pending });
    if (pending?.versionId === record.id) {
      await deps.store.discardPending(unit.storeName, record.id);
      undone.push(unit);
    }
  }
  return undone;
}

/** The fingerprints of the CAs the bundles of `issuer` hold now: its current CA, and the old one during an overlap. */
async function trustedIssuerFingerprints(deps: Deps, inventory: Inventory, issuer: string): Promise<Set<string>> {
  const authority = inventory.items.get(issuer);
  if (!authority) return new Set();
  const unit = defined(unitsOf(inventory, authority)[0]);
  const v = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
  if (!v) return new Set();
  const m = decodeMaterial(v.value, unit.storeName);
  if (m.type !== 'certificate') return new Set();
  return new Set([m.cert, m.trustAlso ?? ''].flatMap((pem) => certificatesOf(pem)).map(fingerprintOf));
}

/**
 * A leaf's previous version is only put back while its bundles still trust the CA that signed it. After the CA
 * rotated (and dropped the old CA), the previous leaf would be rejected by every peer holding the new bundle:
 * refused, and the message says to rotate instead.
 */
async function refuseUntrustedPrevious(deps: Deps, inventory: Inventory, item: Item & { kind: 'certificate' }, unit: Unit): Promise<void> {
  const previous = await deps.store.getVersion(unit.storeName, { stage: Stage.Previous });
  if (!previous) return;
  const m = decodeMaterial(previous.value, unit.storeName);
  if (m.type !== 'certificate' || !m.issuerFingerprint) return;
  const trusted = await trustedIssuerFingerprints(deps, inventory, item.issuer);
  if (trusted.size === 0 || trusted.has(m.issuerFingerprint)) return;
  throw new RollbackRefusedError(
    `${unit.key}: the previous version was signed by a CA of ${item.issuer} that its bundles no longer trust (${item.issuer} rotated since); rollback would break trust, rotate ${item.name} instead`,
    { context: { item: item.name, unit: unit.key, issuer: item.issuer } },
  );
}

/**
 * Undoes an item's last change: AWSPREVIOUS becomes AWSCURRENT again, the targets are written again (outside a
 * rotation, so the restart planner restarts their consumers), and RotationRolledBack is emitted. A running rotation
 * of the item ends as rolled back. For an authority, only while its rotation still keeps the old CA in the bundles.
 */
export async function rollbackItem(
  deps: Deps,
  inventory: Inventory,
  itemName: string,
  options: { reason: string; record?: RotationRecord },
): Promise<RollbackResult> {
  const item = inventory.items.get(itemName);
  if (!item)
    throw new NotFoundError(`no authority, certificate or credential named "${itemName}" in inventory ${inventory.name}`, {
      context: { item: itemName },
    });
  const record = options.record ?? latestOf(await deps.journal.listByItem(inventory.name, itemName));

  let undone: Unit[];
  let synced: Unit[];
  if (item.kind === 'authority') {
    if (record?.kind !== RotationKind.Authority)
      throw new RollbackRefusedError(`${itemName}: no rotation of this authority to roll back`, { context: { item: itemName } });
    undone = await undoAuthority(deps, inventory, item, record);
    const scope = authorityScope(inventory, item);
    synced = [...scope.trustItems, ...scope.descendants].flatMap((i) => unitsOf(inventory, i));
    synced = [...new Map([...synced, ...scope.children.flatMap((c) => unitsOf(inventory, c))].map((u) => [u.key, u])).values()];
  } else {
    const units = unitsOf(inventory, item);
    if (item.kind === 'certificate') for (const u of units) await refuseUntrustedPrevious(deps, inventory, item, u);
    undone = [];
    // The current version must be the last rotation's: a second rollback would otherwise put back the version the
    // first one rolled away from (and a leaf re-issued by its CA's rotation is the CA's to undo, not the leaf's).
    const isNew = record ? (v: string) => v === record.id : () => true;
    for (const u of units) if (await undo(deps, u, isNew)) undone.push(u);
    synced = units;
  }
  if (undone.length === 0)
    throw new RollbackRefusedError(
      `${itemName}: nothing to roll back (no previous version, or the current one is not from the last rotation)`,
      { context: { item: itemName } },
    );

  // The versions current again are older: their renewal instants are read by the next scan.
  await recheckRenewals(
    deps,
    inventory.name,
    undone.map((u) => u.storeName),
  );
  const sync = await syncUnits(deps, inventory, synced, new MaterialReader(deps.store, inventory));
  const at = deps.clock.now();
  if (record && !isFinished(record)) {
    await updateRotation(deps, record.id, (r) =>
      isFinished(r)
        ? undefined
        : {
            ...r,
            status: RotationStatus.RolledBack,
            finishedAt: at.toISOString(),
            expiresAt: expiresAtFor(at),
            error: options.reason,
            history: [
              ...r.history,
              {
                step: r.step,
                status: StepStatus.Failed,
                at: at.toISOString(),
                attempt: r.attempt,
                message: `rolled back: ${options.reason}`,
              },
            ],
          },
    );
  }
  const base = { inventory: inventory.name, item: itemName, ...(record && { rotationId: record.id }) };
  await deps.events.publish([
    // A leaf rotation stopped before any run was recorded has not announced its start yet.
    ...(record && !isFinished(record) && announcesStart(record) ? [startedEvent(record)] : []),
    makeEvent(EventType.RotationRolledBack, base, {
      ...(record && { step: record.step }),
      units: undone.map((u) => u.key),
      reason: options.reason,
    }),
  ]);
  return { item: itemName, ...(record && { rotationId: record.id }), units: undone.map((u) => u.key), sync };
}
