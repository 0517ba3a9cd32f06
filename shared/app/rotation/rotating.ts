import type { Inventory } from '../../domain/inventory/model.js';
import { RotationKind, RotationStatus } from '../../domain/rotation/record.js';
import type { Deps } from '../deps.js';

/** Authorities of the inventory with a running rotation: apply and scan leave what they sign to that rotation. */
export async function rotatingAuthorities(deps: Deps, inventory: Inventory): Promise<Set<string>> {
  const running = await deps.journal.listByStatus(RotationStatus.Running);
  return new Set(running.filter((r) => r.inventory === inventory.name && r.kind === RotationKind.Authority).map((r) => r.item));
}
