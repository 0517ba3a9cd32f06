import type { Inventory } from '../../domain/inventory/model.js';
import { canonicalBundle, certificateCount } from '../../domain/rotation/bundle.js';
import { issuerPath, storeNameOf, type Unit } from '../../domain/units.js';
import type { MaterialReader } from '../materials.js';

/**
 * The CA certificates an authority is trusted by right now, as one canonical bundle, when that is more than its
 * current certificate: its pending new CA (published before promotion) and the old CA its current version keeps
 * trusting (`trustAlso`, until the rotation's drop step). Undefined outside an overlap.
 */
export async function overlapBundle(reader: MaterialReader, inventory: Inventory, authority: string): Promise<string | undefined> {
  const name = storeNameOf(inventory.name, authority);
  const current = (await reader.current(name))?.material;
  if (current?.type !== 'certificate') return undefined;
  const pending = (await reader.pendingVersion(name))?.material;
  const certs = [
    current.cert,
    ...(current.trustAlso ? [current.trustAlso] : []),
    ...(pending?.type === 'certificate' ? [pending.cert] : []),
  ];
  // No overlap (the common case, asked once per leaf on every sync): nothing to parse.
  if (certs.length === 1 && certificateCount(current.cert) === 1) return undefined;
  const bundle = canonicalBundle(certs);
  return certificateCount(bundle) > 1 ? bundle : undefined;
}

/**
 * What a unit's `ca.crt` (and host `ca` file) must hold instead of its stored one during a CA overlap: for an
 * authority, its own overlap bundle (plus the chain above it); for a certificate, the overlap bundle of the root it
 * chains to. Undefined when no overlap concerns the unit, or for adopted certificates (signed elsewhere).
 */
export async function trustOverride(reader: MaterialReader, inventory: Inventory, unit: Unit): Promise<string | undefined> {
  const item = unit.item;
  if (item.kind === 'authority') {
    const bundle = await overlapBundle(reader, inventory, item.name);
    if (!bundle) return undefined;
    const current = (await reader.current(unit.storeName))?.material;
    return bundle + (current?.type === 'certificate' ? current.chain : '');
  }
  if (item.kind !== 'certificate') return undefined;
  const current = (await reader.current(unit.storeName))?.material;
  if (current?.type !== 'certificate' || current.adopted) return undefined;
  const root = issuerPath(inventory, item.issuer).at(-1);
  return root ? overlapBundle(reader, inventory, root.name) : undefined;
}
