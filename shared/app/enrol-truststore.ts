import { NotFoundError, UsageError } from '../domain/errors.js';
import type { Inventory } from '../domain/inventory/model.js';
import { canonicalBundle, certificateCount } from '../domain/rotation/bundle.js';
import { decodeMaterial } from '../domain/store/material.js';
import { issuerPath, storeNameOf } from '../domain/units.js';
import { Stage } from '../ports/secret-store.js';
import type { Deps } from './deps.js';
import { MaterialReader } from './materials.js';
import { overlapBundle } from './rotation/trust.js';

export interface EnrolTruststore {
  /** PEM, every certificate once, oldest first (canonical: the same store gives the same bytes). */
  readonly bundle: string;
  /** The enrolment profiles it serves and the authorities whose certificates it holds (issuer first, then up). */
  readonly profiles: readonly string[];
  readonly authorities: readonly string[];
  readonly certificates: number;
}

/**
 * The CA bundle a TLS terminator that checks client certificates for `POST /v1/enrol/renew` needs (API Gateway's
 * mutual TLS truststore): for each enrolment profile's authority and every authority above it, what the authority's
 * trust bundle holds now (its certificate; during a rotation's overlap also the old CA it keeps trusting and the new
 * CA published before promotion), the certificate of its previous version (a renewal still accepts clients it
 * signed), and its chain and roots. A client enrolled under any CA a renewal accepts can reach the renewal.
 */
export async function enrolTruststore(
  deps: Pick<Deps, 'store'>,
  inventory: Inventory,
  options: { readonly profiles?: readonly string[] } = {},
): Promise<EnrolTruststore> {
  const all = inventory.enrol ?? [];
  if (all.length === 0) throw new UsageError(`inventory "${inventory.name}" has no enrolment profiles (enrol:)`);
  const unknown = (options.profiles ?? []).filter((p) => !all.some((e) => e.name === p));
  if (unknown.length) throw new UsageError(`unknown enrolment profile(s): ${unknown.join(', ')}`);
  const wanted = options.profiles ?? [];
  const profiles = wanted.length ? all.filter((p) => wanted.includes(p.name)) : all;
  const reader = new MaterialReader(deps.store, inventory);
  const authorities = [...new Set(profiles.flatMap((p) => issuerPath(inventory, p.issuer).map((a) => a.name)))];
  const pems: string[] = [];
  for (const authority of authorities) {
    const name = storeNameOf(inventory.name, authority);
    const current = (await reader.current(name))?.material;
    if (current?.type !== 'certificate')
      throw new NotFoundError(`authority "${authority}" has no certificate yet: issue it first (rekey apply, or the schedule function)`, {
        context: { item: authority },
      });
    pems.push((await overlapBundle(reader, inventory, authority)) ?? current.cert, current.chain, current.ca);
    const previous = await deps.store.getVersion(name, { stage: Stage.Previous });
    const before = previous && decodeMaterial(previous.value, name);
    if (before?.type === 'certificate') pems.push(before.cert, before.trustAlso ?? '');
  }
  const bundle = canonicalBundle(pems.filter((p) => p !== ''));
  return { bundle, profiles: profiles.map((p) => p.name), authorities, certificates: certificateCount(bundle) };
}
