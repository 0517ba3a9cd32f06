import { randomUUID } from 'node:crypto';
import { newPasswordMaterial, newSigningKeyMaterial } from '../domain/credentials/generate.js';
import { mintToken } from '../domain/credentials/token.js';
import { makeEvent, EventType } from '../domain/events/types.js';
import type { Inventory } from '../domain/inventory/model.js';
import { encodeMaterial, type Material } from '../domain/store/material.js';
import { specHashOf, type Unit } from '../domain/units.js';
import { Stage, type StoredVersion } from '../ports/secret-store.js';
import { leafMaterial } from './issuers/leaf.js';
import type { Deps } from './deps.js';
import type { MaterialReader } from './materials.js';
import { noteRenewal } from './renewals.js';
import { defined } from '../domain/defined.js';
import { NotFoundError } from '../domain/errors.js';

/** Tags every stored secret carries, so the store can be searched by inventory and item. */
export function storeTags(inventory: Inventory, unit: Unit): Record<string, string> {
  return { 'rekey:inventory': inventory.name, 'rekey:item': unit.key, 'rekey:managed-by': 'rekey' };
}

/**
 * Makes new material for a unit: a certificate signed by its authority's issuer (rekey's own CA or an external one,
 * as the registry chooses), an authority's own version, or a credential.
 */
export async function newMaterial(
  deps: Pick<Deps, 'clock' | 'issuers' | 'leafOffload'>,
  unit: Unit,
  reader: MaterialReader,
  versionId?: string,
): Promise<Material> {
  const item = unit.item;
  const now = deps.clock.now();
  const specHash = specHashOf(unit);
  switch (item.kind) {
    case 'authority':
      return (await deps.issuers.forAuthority(item)).authorityMaterial(unit, specHash, { now, materials: reader });
    case 'certificate': {
      const authority = reader.authority(item.issuer);
      if (!authority) throw new NotFoundError(`${unit.key}: no authority "${item.issuer}"`, { context: { item: unit.key } });
      const issuer = await deps.issuers.forAuthority(authority);
      const offload = deps.leafOffload && { offload: deps.leafOffload };
      return leafMaterial(issuer, unit, specHash, versionId ?? randomUUID(), { now, materials: reader, ...offload });
    }
    case 'credential': {
      if (item.type === 'password') return newPasswordMaterial(item, now, specHash);
      if (item.type === 'jwt-token')
        return mintToken(item, await reader.signingKey(defined(item.token).signingKey), reader.inventoryName, now, specHash);
      const previous = (await reader.current(unit.storeName))?.material;
      return newSigningKeyMaterial(item, now, specHash, previous?.type === 'signing-key' ? previous : undefined);
    }
    default: {
      const never: never = item;
      throw new Error(`unknown item ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Stores new material as the pending version `versionId`. Retried with the same id it makes nothing new and
 * returns what the first attempt stored, so a step that died after this call is safe to run again.
 */
export async function issuePending(
  deps: Deps,
  inventory: Inventory,
  unit: Unit,
  versionId: string,
  reader: MaterialReader,
  rotationId?: string,
  shape: (m: Material) => Material = (m) => m,
): Promise<Material> {
  const material = shape(await newMaterial(deps, unit, reader, versionId));
  const { created } = await deps.store.putPending(unit.storeName, versionId, encodeMaterial(material), {
    tags: storeTags(inventory, unit),
    description: `rekey ${unit.item.kind} ${unit.key}`,
  });
  if (!created) return reader.pending(unit, versionId);
  const base = { inventory: inventory.name, item: unit.key, ...(rotationId && { rotationId }) };
  await deps.events.publish([issuedEvent(base, versionId, material)]);
  return material;
}

/** CertificateIssued or CredentialIssued for a new version. */
export function issuedEvent(base: { inventory: string; item: string; rotationId?: string }, versionId: string, material: Material) {
  return material.type === 'certificate'
    ? makeEvent(EventType.CertificateIssued, base, {
        versionId,
        serial: material.serial,
        fingerprint: material.fingerprint,
        notAfter: material.notAfter,
        keyType: material.keyType,
        ...(material.issuer && { issuer: material.issuer }),
      })
    : makeEvent(EventType.CredentialIssued, base, { versionId, credentialType: material.type });
}

/**
 * Issues new material and stores it as current in one store write, once `check` finds nothing wrong: a unit given
 * its version outside a rotation (apply), like a leaf rotation's promote step. Nothing is stored when the check
 * fails (it throws), so a crash or a refusal leaves no pending version behind. One publish for both events.
 */
export async function issueCurrent(
  deps: Deps,
  inventory: Inventory,
  unit: Unit,
  versionId: string,
  reader: MaterialReader,
  check: (m: Material) => void,
): Promise<Material> {
  const material = await newMaterial(deps, unit, reader, versionId);
  check(material);
  await deps.store.putCurrent(unit.storeName, versionId, encodeMaterial(material), {
    tags: storeTags(inventory, unit),
    description: `rekey ${unit.item.kind} ${unit.key}`,
  });
  reader.remember(unit.storeName, { versionId, material });
  // A promotion like any other: the renewal index (where there is one) learns when this version is due.
  await noteRenewal(deps, inventory.name, unit, versionId, material);
  const base = { inventory: inventory.name, item: unit.key };
  await deps.events.publish([issuedEvent(base, versionId, material), makeEvent(EventType.VersionPromoted, base, { versionId })]);
  return material;
}

/** A unit's current version as a promotion needs to know it: its id, and whether AWSPENDING is still on it. */
export interface CurrentLabels {
  readonly versionId: string;
  readonly pending?: boolean;
}

/** The labels of a version read from the store (undefined: there is no current version). */
export const labelsOf = (v: StoredVersion | undefined): CurrentLabels | undefined =>
  v && { versionId: v.versionId, pending: v.stages.includes(Stage.Pending) };

/**
 * Promotes `versionId` unless `current` (the unit's current version, as just read) is it already. A version found
 * current with AWSPENDING still on it is a promotion cut short before its last call (Secrets Manager's
 * UpdateSecretVersionStage removing AWSPENDING, throttled past its retries): the store's promote, idempotent, is
 * called again to remove the label, which would otherwise lock the item's next rotation.
 */
export async function promoteUnlessCurrent(
  deps: Deps,
  inventory: Inventory,
  unit: Unit,
  versionId: string,
  reader: MaterialReader,
  rotationId: string | undefined,
  current: CurrentLabels | undefined,
): Promise<void> {
  if (current?.versionId !== versionId) {
    await promoteVersion(deps, inventory, unit, versionId, reader, rotationId);
    return;
  }
  if (!current.pending) return;
  await deps.store.promote(unit.storeName, versionId);
  await noteRenewal(deps, inventory.name, unit, versionId, await reader.pending(unit, versionId));
  // The first attempt threw before announcing the promotion: announce it now.
  await deps.events.publish([
    makeEvent(EventType.VersionPromoted, { inventory: inventory.name, item: unit.key, ...(rotationId && { rotationId }) }, { versionId }),
  ]);
}

/** Promotes a pending version to current and tells the reader and the bus. */
export async function promoteVersion(
  deps: Deps,
  inventory: Inventory,
  unit: Unit,
  versionId: string,
  reader: MaterialReader,
  rotationId?: string,
): Promise<void> {
  const material = await reader.pending(unit, versionId);
  await deps.store.promote(unit.storeName, versionId);
  reader.remember(unit.storeName, { versionId, material });
  await noteRenewal(deps, inventory.name, unit, versionId, material);
  await deps.events.publish([
    makeEvent(EventType.VersionPromoted, { inventory: inventory.name, item: unit.key, ...(rotationId && { rotationId }) }, { versionId }),
  ]);
}
