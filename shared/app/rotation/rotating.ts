import type { Inventory, Item } from '../../domain/inventory/model.js';
import { RotationKind, RotationStatus } from '../../domain/rotation/record.js';
import type { Deps } from '../deps.js';

/** Authorities of the inventory with a running rotation: apply and scan leave what they sign to that rotation. */
export async function rotatingAuthorities(deps: Deps, inventory: Inventory): Promise<Set<string>> {
  const running = await deps.journal.listByStatus(RotationStatus.Running);
  return new Set(running.filter((r) => r.inventory === inventory.name && r.kind === RotationKind.Authority).map((r) => r.item));
}

/** Signing keys of the inventory with a running rotation: their tokens are minted again by that rotation. */
export async function rotatingSigningKeys(deps: Deps, inventory: Inventory): Promise<Set<string>> {
  const running = await deps.journal.listByStatus(RotationStatus.Running);
  return new Set(running.filter((r) => r.inventory === inventory.name && r.kind === RotationKind.SigningKey).map((r) => r.item));
}

/** Whether `item` is a token minted from one of `keys`. */
export const mintedFromAny = (item: Item, keys: ReadonlySet<string>): boolean =>
  item.kind === 'credential' && item.token !== undefined && keys.has(item.token.signingKey);

/** Whether `item` is a signing key that exists and so rotates with an overlap, never with a hard cut. */
export const isSigningKey = (item: Item): boolean => item.kind === 'credential' && item.type === 'jwt-signing-key';

/** Whether `item` is a jwt-token credential. */
export const isToken = (item: Item): boolean => item.kind === 'credential' && item.token !== undefined;
