import type { Authority, Certificate, Item } from '../inventory/model.js';
import type { Material } from '../store/material.js';

/** A certificate is due `renewBefore` ahead of its expiry. */
const certificateRenewal = (item: Authority | Certificate, notAfter: Date): Date => new Date(notAfter.getTime() - item.renewBeforeMs);

/**
 * The one answer to "when is this version due": a certificate at `notAfter - renewBefore`, a credential at
 * `createdAt + rotateEvery`, a token when a third of its lifetime is left. Undefined when the material does not fit the item (nothing is due then).
 */
export function renewalInstant(item: Item, material: Material): Date | undefined {
  if (material.type === 'certificate')
    return item.kind === 'credential' ? undefined : certificateRenewal(item, new Date(material.notAfter));
  // A token is minted again when a third of its lifetime is left (or sooner, by rotateEvery).
  if (material.type === 'token' && item.kind === 'credential' && item.token) {
    const byExpiry = Date.parse(material.expiresAt) - item.token.lifetimeMs / 3;
    return new Date(Math.min(byExpiry, Date.parse(material.createdAt) + item.rotateEveryMs));
  }
  return item.kind === 'credential' ? new Date(Date.parse(material.createdAt) + item.rotateEveryMs) : undefined;
}

/** Whether `material` of `item` has reached its renewal instant at `now`. */
export function isDue(item: Item, material: Material, now: Date): boolean {
  const at = renewalInstant(item, material);
  return at !== undefined && at.getTime() <= now.getTime();
}

/** The same rule for a certificate found in a cluster (adoption), known only by its expiry. */
export const certificateDue = (item: Authority | Certificate, notAfter: Date, now: Date): boolean =>
  certificateRenewal(item, notAfter).getTime() <= now.getTime();
