import { X509Certificate } from 'node:crypto';
import { pathLenOf } from '../pki/path-length.js';
import type { Authority, Certificate, Inventory, Item } from '../inventory/model.js';
import type { CertificateMaterial } from '../store/material.js';
import { authoritiesInOrder, issuerPath } from '../units.js';

/** What an authority rotation touches, from the inventory alone. */
export interface AuthorityScope {
  readonly authority: Authority;
  /** Intermediates below it, parents first: a root rotation cascades through them. */
  readonly descendants: readonly Authority[];
  /** Certificates anywhere below it. */
  readonly leaves: readonly Certificate[];
  /**
   * Items whose `ca.crt` holds the authority's bundle (or, for cascaded intermediates, an overlap of their own
   * until the drop): itself, and for a root every intermediate and certificate below it.
   */
  readonly trustItems: readonly Item[];
  /** What is re-issued under the new CA, in order: intermediates, then leaves. */
  readonly children: readonly (Authority | Certificate)[];
}

const below = (inventory: Inventory, issuer: string, authority: string): boolean =>
  issuerPath(inventory, issuer).some((a) => a.name === authority);

export function authorityScope(inventory: Inventory, authority: Authority): AuthorityScope {
  const descendants = authoritiesInOrder(inventory).filter((a) => a.parent !== undefined && below(inventory, a.parent, authority.name));
  const leaves = inventory.certificates.filter((c) => below(inventory, c.issuer, authority.name));
  // An intermediate's certificates keep trusting the root, which signs the old and the new intermediate alike.
  const trustItems: Item[] = [authority, ...(authority.parent === undefined ? [...descendants, ...leaves] : [])];
  return { authority, descendants, leaves, trustItems, children: [...descendants, ...leaves] };
}

/**
 * The authority rotation's test of a new CA beyond the certificate checks (chain, key match, validity now):
 * it is a CA, and it lives at least as long as the children it will sign now do, so re-issuing them does not cut
 * their lives short. Returns the problems found.
 */
export function newAuthorityProblems(material: CertificateMaterial, childrenNotAfter: readonly Date[], intermediatesBelow = 0): string[] {
  const problems: string[] = [];
  const cert = new X509Certificate(material.cert);
  if (!cert.ca) problems.push('the new authority certificate is not a CA (basicConstraints CA:TRUE missing)');
  const pathLen = pathLenOf(cert);
  if (pathLen !== undefined && intermediatesBelow > pathLen)
    problems.push(`the new CA has pathLen ${pathLen} but ${intermediatesBelow} level(s) of intermediate CAs are below it`);
  const notAfter = new Date(cert.validTo);
  const latest = childrenNotAfter.reduce<Date | undefined>((max, d) => (!max || d > max ? d : max), undefined);
  if (latest && notAfter < latest)
    problems.push(`the new CA expires ${notAfter.toISOString()}, before a child it must sign (${latest.toISOString()})`);
  return problems;
}

/** Whether an item is signed, directly or through intermediates, by one of `authorities`. */
export function isUnderAny(inventory: Inventory, item: Item, authorities: ReadonlySet<string>): boolean {
  const issuer = item.kind === 'certificate' ? item.issuer : item.kind === 'authority' ? item.parent : undefined;
  return issuer !== undefined && issuerPath(inventory, issuer).some((a) => authorities.has(a.name));
}

/** How many levels of intermediate CAs are below `authority` (0: it signs leaves only). */
export function intermediateDepthBelow(inventory: Inventory, authority: Authority): number {
  return Math.max(
    0,
    ...authorityScope(inventory, authority).descendants.map((d) =>
      issuerPath(inventory, d.name).findIndex((a) => a.name === authority.name),
    ),
  );
}
