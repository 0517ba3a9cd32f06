import type { SigningKeyMaterial } from '../../domain/store/material.js';
import type { Unit } from '../../domain/units.js';
import type { MaterialReader } from '../materials.js';

/**
 * What a signing key's `jwks.json` must hold instead of its stored key set while a rotation has a successor
 * pending: the current key set plus the pending key's public half, so verifiers accept tokens of the new key before
 * it signs one. Undefined outside that window (the stored key set is then right: after activation it still holds
 * the old key until the rotation's remove-old step stores one without it).
 */
export async function publishedKeySet(reader: MaterialReader, unit: Unit): Promise<SigningKeyMaterial['keySet'] | undefined> {
  if (unit.item.kind !== 'credential' || unit.item.type !== 'jwt-signing-key') return undefined;
  const current = (await reader.current(unit.storeName))?.material;
  const pending = (await reader.pendingVersion(unit.storeName))?.material;
  if (current?.type !== 'signing-key' || pending?.type !== 'signing-key') return undefined;
  const known = new Set(current.keySet.map((k) => k.kid));
  const added = pending.keySet.filter((k) => k.kid === pending.kid && !known.has(k.kid));
  return added.length ? [...current.keySet, ...added] : undefined;
}
