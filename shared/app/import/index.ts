import { X509Certificate } from 'node:crypto';
import { RekeyError, UsageError } from '../../domain/errors.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { adoptableMaterial } from '../../domain/pki/adopt.js';
import { encodeMaterial, type CertificateMaterial } from '../../domain/store/material.js';
import { specHashOf, unitsOf } from '../../domain/units.js';
import type { ObservedSecret } from '../../ports/cluster.js';
import { Stage } from '../../ports/secret-store.js';
import type { Deps } from '../deps.js';
import { storeTags } from '../issuance.js';
import { pemBlocks } from '../../domain/pki/pem.js';
import type { AuthorityMaterial, ClusterSnapshot } from './build.js';
import type { ImportSource } from './source.js';
import { noteRenewal } from '../renewals.js';
import { defined } from '../../domain/defined.js';

export { buildImport, type ClusterSnapshot, type ImportPlan, type NotImportable, type AuthorityMaterial } from './build.js';
export type { ImportSource, CmCertificate, CmIssuer } from './source.js';

/**
 * Reads each cluster once: cert-manager's objects, the TLS Secrets (in `namespaces`, or all), the CA Secrets its CA
 * issuers name, and the workloads of every namespace holding a TLS Secret.
 */
export async function readClusters(
  sources: readonly ImportSource[],
  options: { namespaces?: readonly string[]; clusterResourceNamespace?: string } = {},
): Promise<ClusterSnapshot[]> {
  const crNamespace = options.clusterResourceNamespace ?? 'cert-manager';
  const snapshots: ClusterSnapshot[] = [];
  for (const source of sources) {
    const cm = await source.certManager(options.namespaces);
    const secrets = new Map<string, ObservedSecret>(
      (await source.tlsSecrets(options.namespaces)).map((s) => [`${s.namespace}/${s.name}`, s]),
    );
    for (const issuer of cm.issuers) {
      if (issuer.type !== 'ca' || !issuer.caSecretName) continue;
      const ns = issuer.kind === 'ClusterIssuer' ? crNamespace : defined(issuer.namespace);
      const key = `${ns}/${issuer.caSecretName}`;
      if (secrets.has(key)) continue;
      const found = await source.getSecret(ns, issuer.caSecretName);
      if (found) secrets.set(key, found);
    }
    const namespaces = [...new Set([...secrets.values()].map((s) => s.namespace))].sort();
    const uses = (await Promise.all(namespaces.map((ns) => source.secretUses(ns)))).flat();
    snapshots.push({
      cluster: source.cluster,
      certManagerInstalled: cm.installed,
      certificates: cm.certificates,
      issuers: cm.issuers,
      secrets,
      uses,
    });
  }
  return snapshots;
}

export const FirstVersion = { Stored: 'stored', Kept: 'kept' } as const;
export type FirstVersion = (typeof FirstVersion)[keyof typeof FirstVersion];

async function storeFirst(deps: Deps, inventory: Inventory, itemName: string, material: CertificateMaterial): Promise<FirstVersion> {
  const item = defined(inventory.items.get(itemName));
  const unit = defined(unitsOf(inventory, item)[0]);
  // A unit that already has a version is rekey's: importing again must not replace it.
  if (await deps.store.getVersion(unit.storeName, { stage: Stage.Current })) return FirstVersion.Kept;
  const versionId = `imported-${material.fingerprint.slice(0, 32)}`;
  await deps.store.putPending(unit.storeName, versionId, encodeMaterial(material), { tags: storeTags(inventory, unit) });
  await deps.store.promote(unit.storeName, versionId);
  await noteRenewal(deps, inventory.name, unit, versionId, material);
  return FirstVersion.Stored;
}

const fingerprintOf = (pem: string): string =>
  new X509Certificate(defined(pemBlocks(pem)[0])).fingerprint256.replace(/:/g, '').toLowerCase();

/**
 * Stores each imported authority's certificate and key as its first version (marked adopted), parents first, so
 * rekey signs the next leaves with the key that signed the current ones. Authorities that already have a version
 * are kept. Returns what happened per authority; never the key.
 */
export async function storeAuthorities(
  deps: Deps,
  inventory: Inventory,
  authorities: readonly AuthorityMaterial[],
): Promise<{ name: string; outcome: FirstVersion }[]> {
  const out: { name: string; outcome: FirstVersion }[] = [];
  const byName = new Map(authorities.map((a) => [a.name, a]));
  const depth = (a: AuthorityMaterial): number => (a.parent ? 1 + depth(defined(byName.get(a.parent))) : 0);
  for (const a of [...authorities].sort((x, y) => depth(x) - depth(y))) {
    const item = inventory.items.get(a.name);
    if (item?.kind !== 'authority') throw new RekeyError(`imported authority ${a.name} is not in the inventory`);
    const x = new X509Certificate(defined(pemBlocks(a.certPem)[0]));
    const material: CertificateMaterial = {
      type: 'certificate',
      cert: a.certPem,
      key: a.keyPem,
      chain: a.chainPem,
      ca: a.caPem,
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
      serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
      fingerprint: x.fingerprint256.replace(/:/g, '').toLowerCase(),
      keyType: a.keyType,
      ...(a.parent && { issuer: a.parent, issuerFingerprint: fingerprintOf(defined(byName.get(a.parent)).certPem) }),
      specHash: specHashOf(defined(unitsOf(inventory, item)[0])),
      adopted: true,
    };
    out.push({ name: a.name, outcome: await storeFirst(deps, inventory, a.name, material) });
  }
  return out;
}

/**
 * `import --files`: a certificate and key from files (seed 000's installer writes server.crt and server.key) become
 * the first version of a certificate item, after the same checks adoption makes (key matches, names and usages
 * fit the inventory, not due for renewal). `ca` is the trust bundle when the folder has one.
 */
export async function importFiles(
  deps: Deps,
  inventory: Inventory,
  itemName: string,
  files: { cert: string; key: string; ca?: string },
): Promise<FirstVersion> {
  const item = inventory.items.get(itemName);
  if (!item) throw new UsageError(`no item named "${itemName}" in inventory ${inventory.name}`);
  if (item.kind !== 'certificate' || item.perReplica)
    throw new UsageError(
      `${itemName}: --files imports into a certificate with one Secret (not ${item.kind === 'certificate' ? 'a per-replica one' : `an ${item.kind}`})`,
    );
  const unit = defined(unitsOf(inventory, item)[0]);
  const asSecret: ObservedSecret = {
    name: unit.secretName ?? itemName,
    namespace: item.secret?.namespace ?? '',
    type: 'kubernetes.io/tls',
    labels: {},
    annotations: {},
    data: { 'tls.crt': files.cert, 'tls.key': files.key, ...(files.ca && { 'ca.crt': files.ca }) },
  };
  const material = adoptableMaterial(unit, asSecret, deps.clock.now(), specHashOf(unit));
  if (typeof material === 'string') throw new UsageError(`${itemName}: the files cannot be imported: ${material}`);
  return storeFirst(deps, inventory, itemName, material);
}
