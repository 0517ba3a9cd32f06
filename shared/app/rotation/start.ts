import { randomUUID } from 'node:crypto';
import { NotFoundError, RekeyError, RotationLockedError } from '../../domain/errors.js';
import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory, Item } from '../../domain/inventory/model.js';
import { firstStep } from '../../domain/rotation/machines.js';
import { RotationKind, RotationStatus, type RequestRef, type RotationRecord, type Trigger } from '../../domain/rotation/record.js';
import { unitsOf } from '../../domain/units.js';
import { Stage } from '../../ports/secret-store.js';
import type { Deps } from '../deps.js';
import { initialLease, type LeaseSettings } from './lease.js';
import { isRunnable } from './machines.js';

/**
 * Which step machine rotates an item. A password with a database, or with an owner to pause, has its own machine, and
 * so has a JWT signing key; a jwt-token with an owner to pause goes through the password machine (its database steps
 * skip); other credentials (passwords without either, tokens without `pause`) rotate like a leaf.
 */
export function rotationKindOf(item: Item): RotationKind {
  switch (item.kind) {
    case 'certificate':
      return RotationKind.Leaf;
    case 'authority':
      return RotationKind.Authority;
    case 'credential':
      if (item.type === 'jwt-signing-key') return RotationKind.SigningKey;
      // A token with an owner to pause is minted again inside the password machine's pause ... resume (no database).
      if (item.type === 'jwt-token') return item.pause ? RotationKind.Password : RotationKind.Leaf;
      return item.database || item.pause ? RotationKind.Password : RotationKind.Leaf;
    default: {
      const never: never = item;
      throw new Error(`unknown item ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Whether RotationStarted is announced with the rotation's first recorded write (its first run's completions, or its
 * failure) instead of by its starter: leaf rotations, so that starting one is a journal write and a queued step and
 * nothing else. Like the completions, it then goes out once, from the worker whose write won.
 */
export const announcesStart = (record: RotationRecord): boolean => record.kind === RotationKind.Leaf && record.history.length === 0;

/** RotationStarted of a record, stamped with its start. */
export function startedEvent(record: RotationRecord): RekeyEvent {
  return makeEvent(
    EventType.RotationStarted,
    { inventory: record.inventory, item: record.item, rotationId: record.id, at: record.startedAt },
    { kind: record.kind, trigger: record.trigger, reason: record.reason },
  );
}

/** Days finished rotations stay in the journal before TTL removes them. */
const KEEP_FINISHED_DAYS = 90;
export const expiresAtFor = (finished: Date): number => Math.floor(finished.getTime() / 1000) + KEEP_FINISHED_DAYS * 86_400;

/**
 * Starts a rotation: records it, emits RotationStarted (a leaf rotation's first run does, see `announcesStart`), and
 * queues its first step. One running rotation per item;
 * a second one fails clearly (the journal's item lock; for authorities, also the store's pending version).
 */
export async function startRotation(
  deps: Deps,
  inventory: Inventory,
  itemName: string,
  options: { trigger: Trigger; reason: string; rotationId?: string; lease?: LeaseSettings; request?: RequestRef },
): Promise<RotationRecord> {
  const item = inventory.items.get(itemName);
  if (!item)
    throw new NotFoundError(`no authority, certificate or credential named "${itemName}" in inventory ${inventory.name}`, {
      context: { item: itemName },
    });
  const kind = rotationKindOf(item);
  if (!isRunnable(kind))
    throw new RekeyError(`rotating a ${kind} item is not available in this version; rotate it by hand`, { context: { item: itemName } });
  const units = unitsOf(inventory, item);
  const previousVersions: Record<string, string> = {};
  // A leaf rotation writes no pending version and its promotion learns what it replaces: nothing to read here. The
  // journal's item lock (taken by `create`) is what refuses a second running rotation of the item.
  if (kind !== RotationKind.Leaf) {
    const running = (await deps.journal.listByItem(inventory.name, itemName)).find((r) => r.status === RotationStatus.Running);
    if (running) throw new RotationLockedError(itemName, running.id, options.rotationId ?? '(new)');
    for (const u of units) {
      const v = await deps.store.getVersion(u.storeName, { stage: Stage.Current });
      if (v) previousVersions[u.storeName] = v.versionId;
      const pending = await deps.store.getVersion(u.storeName, { stage: Stage.Pending });
      if (pending && pending.versionId !== options.rotationId)
        throw new RotationLockedError(itemName, pending.versionId, options.rotationId ?? '(new)');
    }
  }
  const now = deps.clock.now().toISOString();
  const record: RotationRecord = {
    id: options.rotationId ?? randomUUID(),
    inventory: inventory.name,
    item: itemName,
    kind,
    status: RotationStatus.Running,
    step: firstStep(kind),
    attempt: 0,
    revision: 1,
    trigger: options.trigger,
    reason: options.reason,
    startedAt: now,
    updatedAt: now,
    units: units.map((u) => u.storeName),
    previousVersions,
    restarts: {},
    history: [],
    // Without a lease (a starter that does not drive it, e.g. the scan queuing for the step workers) the first
    // worker to claim it drives it.
    ...(options.lease && { lease: initialLease(deps, options.lease) }),
    ...(options.request && { request: options.request }),
  };
  await deps.journal.create(record);
  if (!announcesStart(record)) await deps.events.publish([startedEvent(record)]);
  await deps.queue.enqueue({ rotationId: record.id, inventory: inventory.name, item: itemName, step: record.step, attempt: 0 });
  return record;
}
