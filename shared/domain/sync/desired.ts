import { createHash } from 'node:crypto';
import { bundleHash } from '../rotation/bundle.js';
import type { Item } from '../inventory/model.js';
import { pemBlocks } from '../pki/pem.js';
import type { Material, PasswordMaterial, SigningKeyMaterial } from '../store/material.js';
import { isManaged, MANAGED_BY_LABEL, MANAGED_BY_VALUE, type DesiredSecret, type ObservedSecret } from './secret.js';
import { defined } from '../defined.js';

export { isManaged, MANAGED_BY_LABEL, MANAGED_BY_VALUE };
export const Annotation = {
  Inventory: 'rekey/inventory',
  Item: 'rekey/item',
  Version: 'rekey/version',
  ContentHash: 'rekey/content-hash',
  Fingerprint: 'rekey/fingerprint',
  NotAfter: 'rekey/not-after',
  /** SHA-256 of `ca.crt` while it holds a CA overlap bundle: the same value in every cluster and Secret. */
  BundleHash: 'rekey/bundle-hash',
  /** SHA-256 of `jwks.json` while it also publishes a signing key that does not sign yet. */
  KeySetHash: 'rekey/key-set-hash',
} as const;

/**
 * SHA-256 of a Secret's type and data, order-independent; stored as an annotation to detect edits. Every field
 * is length-prefixed, so no choice of keys and values can make two different Secrets hash alike.
 */
export function contentHash(type: string, data: Readonly<Record<string, string>>): string {
  const h = createHash('sha256');
  const field = (s: string) => h.update(`${Buffer.byteLength(s)}:`).update(s);
  field(type);
  for (const k of Object.keys(data).sort()) {
    field(k);
    field(defined(data[k]));
  }
  return h.digest('hex');
}

/**
 * A password's Secret, in the layout PostgreSQL operators' users expect: `username` and `password`; with a
 * database whose `host` the inventory gives, also `host`, `port`, `dbname`, `uri` (postgresql://) and `jdbc-uri`.
 */
export function passwordSecretData(item: Item, material: PasswordMaterial): Record<string, string> {
  const database = item.kind === 'credential' ? item.database : undefined;
  const username = material.login ?? database?.role;
  const data: Record<string, string> = { password: material.password, ...(username && { username }) };
  if (!database?.host || !username) return data;
  const port = String(database.port ?? 5432);
  const dbname = database.dbname ?? username;
  const host = database.host.includes(':') ? `[${database.host}]` : database.host;
  const enc = encodeURIComponent;
  return {
    ...data,
    host: database.host,
    port,
    dbname,
    uri: `postgresql://${enc(username)}:${enc(material.password)}@${host}:${port}/${enc(dbname)}`,
    'jdbc-uri': `jdbc:postgresql://${host}:${port}/${enc(dbname)}?password=${enc(material.password)}&user=${enc(username)}`,
  };
}

/** Members of a private JWK (RFC 7518 section 6: EC/OKP `d`; RSA `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`; symmetric `k`). */
const PRIVATE_JWK_MEMBERS: readonly string[] = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A key set as it may be published: each JWK without any private member, whatever the stored set holds. */
export function publicKeySet(keys: SigningKeyMaterial['keySet']): string {
  return JSON.stringify({ keys: keys.map((k) => Object.fromEntries(Object.entries(k).filter(([m]) => !PRIVATE_JWK_MEMBERS.includes(m)))) });
}

/**
 * The Secret's data for a unit's material: TLS for certificates, CA-only for authorities, Opaque for credentials. With
 * `publicKeySet`, a signing key's second Secret (`jwksSecret`): only `jwks.json`.
 */
export function secretDataOf(
  item: Item,
  material: Material,
  trust?: string,
  keySet?: SigningKeyMaterial['keySet'],
  publicOnly = false,
): { type: DesiredSecret['type']; data: Record<string, string> } {
  if (publicOnly) {
    if (material.type !== 'signing-key') throw new Error(`only a signing key has a public key set Secret, not a ${material.type}`);
    return { type: 'Opaque', data: { 'jwks.json': publicKeySet(keySet ?? material.keySet) } };
  }
  switch (material.type) {
    case 'certificate':
      if (item.kind === 'authority') return { type: 'Opaque', data: { 'ca.crt': trust ?? material.cert + material.chain } };
      return {
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': material.cert + material.chain, 'tls.key': material.key, 'ca.crt': trust ?? material.ca },
      };
    case 'password':
      return { type: 'Opaque', data: passwordSecretData(item, material) };
    case 'signing-key':
      return {
        type: 'Opaque',
        data: {
          'signing-key.jwk': JSON.stringify(material.jwk),
          'jwks.json': publicKeySet(keySet ?? material.keySet),
          kid: material.kid,
        },
      };
    case 'token':
      return { type: 'Opaque', data: { token: material.token } };
    default: {
      const never: never = material;
      throw new Error(`unknown material ${JSON.stringify(never)}`);
    }
  }
}

export function desiredSecret(args: {
  inventory: string;
  item: Item;
  unitKey: string;
  name: string;
  namespace: string;
  versionId: string;
  material: Material;
  /** During a CA overlap: the bundle `ca.crt` holds instead of the stored one (see app/rotation/trust.ts). */
  trust?: string;
  /** While a signing key's successor is published but not active: the key set `jwks.json` holds (app/rotation/key-set.ts). */
  keySet?: SigningKeyMaterial['keySet'];
  /** A signing key's `jwksSecret`: only the public key set. */
  publicKeySet?: boolean;
}): DesiredSecret {
  const { type, data } = secretDataOf(args.item, args.material, args.trust, args.keySet, args.publicKeySet);
  const annotations: Record<string, string> = {
    [Annotation.Inventory]: args.inventory,
    [Annotation.Item]: args.unitKey,
    [Annotation.Version]: args.versionId,
    [Annotation.ContentHash]: contentHash(type, data),
  };
  if (args.material.type === 'certificate') {
    annotations[Annotation.Fingerprint] = args.material.fingerprint;
    annotations[Annotation.NotAfter] = args.material.notAfter;
  }
  if (args.trust !== undefined) annotations[Annotation.BundleHash] = bundleHash(args.trust);
  if (args.keySet !== undefined)
    annotations[Annotation.KeySetHash] = createHash('sha256')
      .update(data['jwks.json'] ?? '')
      .digest('hex');
  return { name: args.name, namespace: args.namespace, type, data, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }, annotations };
}

export const SyncReason = {
  SecretMissing: 'SecretMissing',
  SecretOutOfDate: 'SecretOutOfDate',
  SecretDrifted: 'SecretDrifted',
  SecretUnmanaged: 'SecretUnmanaged',
  SecretAdopted: 'SecretAdopted',
  /** A CA overlap began or ended: `ca.crt` gets or loses a CA. */
  TrustBundleChanged: 'TrustBundleChanged',
  /** A signing key's successor was published in (or left) the key set before it signs. */
  KeySetChanged: 'KeySetChanged',
} as const;
export type SyncReason = (typeof SyncReason)[keyof typeof SyncReason];

export type SyncDecision =
  | { readonly write: false; readonly reason?: typeof SyncReason.SecretUnmanaged }
  | { readonly write: true; readonly reason: Exclude<SyncReason, typeof SyncReason.SecretUnmanaged> };

/** Whether an unmanaged Secret holds the desired certificate (same type, same leaf: its SHA-256 fingerprint). */
function holdsCertificate(observed: ObservedSecret, desired: DesiredSecret): boolean {
  const fingerprint = desired.annotations[Annotation.Fingerprint];
  const der = observed.data['tls.crt'] && pemBlocks(observed.data['tls.crt'])[0];
  if (!fingerprint || !der || observed.type !== desired.type) return false;
  return createHash('sha256').update(der).digest('hex') === fingerprint;
}

/** Whether an unmanaged Secret already holds the desired password (and login): an adopted password left as found. */
function holdsPassword(observed: ObservedSecret, desired: DesiredSecret): boolean {
  const password = desired.data.password;
  if (password === undefined || desired.data['tls.key'] !== undefined || observed.data.password !== password) return false;
  return observed.data.username === undefined || observed.data.username === desired.data.username;
}

/** Whether the observed Secret must be written to become the desired one; first matching reason wins. */
export function decideSync(desired: DesiredSecret, observed: ObservedSecret | undefined, adopt: boolean): SyncDecision {
  if (!observed) return { write: true, reason: SyncReason.SecretMissing };
  if (!isManaged(observed)) {
    if (!adopt) return { write: false, reason: SyncReason.SecretUnmanaged };
    // Adopted in place: the Secret already holds the stored version, so it is left exactly as it is (no metadata
    // write, nothing for consumers to notice). The first new version takes it over with rekey's label.
    return holdsCertificate(observed, desired) || holdsPassword(observed, desired)
      ? { write: false }
      : { write: true, reason: SyncReason.SecretAdopted };
  }
  if (observed.annotations[Annotation.Version] !== desired.annotations[Annotation.Version])
    return { write: true, reason: SyncReason.SecretOutOfDate };
  if (observed.annotations[Annotation.BundleHash] !== desired.annotations[Annotation.BundleHash])
    return { write: true, reason: SyncReason.TrustBundleChanged };
  if (observed.annotations[Annotation.KeySetHash] !== desired.annotations[Annotation.KeySetHash])
    return { write: true, reason: SyncReason.KeySetChanged };
  const observedHash = contentHash(observed.type, observed.data);
  if (observedHash !== desired.annotations[Annotation.ContentHash] || observed.annotations[Annotation.ContentHash] !== observedHash) {
    return { write: true, reason: SyncReason.SecretDrifted };
  }
  for (const [k, v] of Object.entries(desired.annotations))
    if (observed.annotations[k] !== v) return { write: true, reason: SyncReason.SecretDrifted };
  return { write: false };
}
