import { createHash } from 'node:crypto';
import type { Inventory } from '../domain/inventory/model.js';
import { renewalInstant } from '../domain/plan/due.js';
import type { Material } from '../domain/store/material.js';
import { allUnits, type Unit } from '../domain/units.js';
import type { RenewalEntry } from '../ports/renewal-index.js';
import type { Deps } from './deps.js';

/** The renewal index entry of a unit's version; undefined when nothing about the material makes it due by time. */
export function renewalEntryOf(unit: Unit, versionId: string, material: Material): RenewalEntry | undefined {
  const at = renewalInstant(unit.item, material);
  return at && { unit: unit.storeName, renewAt: at.toISOString(), versionId };
}

/** Records when a version just promoted is due, where there is a renewal index (Lambda: the journal table). */
export async function noteRenewal(deps: Deps, inventory: string, unit: Unit, versionId: string, material: Material): Promise<void> {
  if (!deps.renewals) return;
  const entry = renewalEntryOf(unit, versionId, material);
  if (entry) await deps.renewals.putRenewals(inventory, [entry]);
}

/**
 * Marks units to be read by the next scan (their entry due now): after a rollback the current version is an older
 * one, whose instant the caller does not have at hand. The scan reads them and writes their real instant.
 */
export async function recheckRenewals(deps: Deps, inventory: string, storeNames: readonly string[]): Promise<void> {
  if (!deps.renewals || storeNames.length === 0) return;
  const now = deps.clock.now().toISOString();
  await deps.renewals.putRenewals(
    inventory,
    storeNames.map((unit) => ({ unit, renewAt: now, versionId: '' })),
  );
}

/** Digests already computed, by inventory (an inventory is never changed once loaded; a warm function reuses its own). */
const digests = new WeakMap<Inventory, string>();

/**
 * Digest of what decides which units exist and when each is due: the whole inventory, canonically. A scan trusts the
 * renewal index only while the inventory is the one its last full reconcile saw; any change (a new item, another
 * renewBefore, a new issuer) makes the next scan a full one. Items hold plain data only (the model has no Map or
 * Set below `items`), so JSON.stringify needs no replacer (the same digest; a replacer, called for every value, took
 * half the time: 1.6 s of CPU for 100,000 units, now 0.9 s, issue 14 target 4).
 */
export function inventoryDigest(inventory: Inventory): string {
  const known = digests.get(inventory);
  if (known !== undefined) return known;
  const canonical = JSON.stringify({ name: inventory.name, units: allUnits(inventory).map((u) => [u.storeName, u.item]) });
  const digest = createHash('sha256').update(canonical).digest('hex');
  digests.set(inventory, digest);
  return digest;
}
