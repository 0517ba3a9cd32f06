import type { KeyType } from './schema.js';
import type { Authority, Certificate, Inventory, Subject } from './model.js';
import { defined } from '../defined.js';

/**
 * Upper estimates of what a certificate's store version and Kubernetes Secret will weigh, from the inventory
 * alone, so `validate` refuses what Secrets Manager (64 KiB per version) or the API server (1 MiB per Secret)
 * would refuse only after keys were issued and state written. The estimates err high: a unit test issues real
 * certificates and checks each estimate is above the real size and within a third of it.
 */

/** SubjectPublicKeyInfo DER, bytes. */
const SPKI: Record<KeyType, number> = {
  'RSA-2048': 294,
  'RSA-3072': 422,
  'RSA-4096': 550,
  'ECDSA-P256': 91,
  'ECDSA-P384': 120,
  Ed25519: 44,
};
/** Signature BIT STRING made with a key of this type, bytes (ECDSA at its longest). */
const SIGNATURE: Record<KeyType, number> = {
  'RSA-2048': 261,
  'RSA-3072': 389,
  'RSA-4096': 517,
  'ECDSA-P256': 76,
  'ECDSA-P384': 108,
  Ed25519: 67,
};
/** PKCS#8 private key PEM, characters. */
const KEY_PEM: Record<KeyType, number> = {
  'RSA-2048': 1710,
  'RSA-3072': 2490,
  'RSA-4096': 3280,
  'ECDSA-P256': 245,
  'ECDSA-P384': 310,
  Ed25519: 120,
};
/** Everything in a certificate but names, keys and signature: version, serial, algorithms, validity, extensions. */
const CERTIFICATE_FIXED = 420;
/** The JSON fields of a store version besides the PEMs (dates, serial, fingerprints, spec hash, names). */
const STORE_FIXED = 600;
/** Secret metadata rekey writes (labels, annotations, names), generously. */
const SECRET_FIXED = 2048;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');
const nameBytes = (s: Subject) =>
  [s.commonName, ...(s.organization ?? []), ...(s.organizationalUnit ?? [])].reduce((n, v) => n + utf8(v) + 14, 4);
/** PEM text for DER of `der` bytes: base64, a newline every 64 characters, BEGIN/END lines. */
const pemChars = (der: number) => {
  const b64 = Math.ceil(der / 3) * 4;
  return b64 + Math.ceil(b64 / 64) + 60;
};
/** A PEM inside a JSON string: every newline becomes two characters. */
const jsonChars = (pem: number) => pem + Math.ceil(pem / 64) + 2;

function certificateDer(subject: Subject, issuerSubject: Subject, key: KeyType, signerKey: KeyType, sanBytes: number): number {
  return CERTIFICATE_FIXED + nameBytes(subject) + nameBytes(issuerSubject) + SPKI[key] + SIGNATURE[signerKey] + sanBytes;
}

function authorityPem(a: Authority, byName: ReadonlyMap<string, Authority>): number {
  const parent = a.parent !== undefined ? byName.get(a.parent) : undefined;
  return pemChars(certificateDer(a.subject, (parent ?? a).subject, a.keyType, (parent ?? a).keyType, 0));
}

export interface SizeEstimate {
  /** The store version (Secrets Manager SecretString), bytes. */
  readonly storeEntry: number;
  /** The Kubernetes Secret (tls.crt, tls.key, ca.crt base64-encoded, plus metadata), bytes. */
  readonly secret: number;
}

/**
 * Estimates the size of one version of `cert` (for `perReplica`, of the largest replica). `byName` indexes the
 * inventory's authorities; pass it when estimating many certificates.
 */
export function estimateCertificateSize(
  inv: Inventory,
  cert: Certificate,
  byName: ReadonlyMap<string, Authority> = new Map(inv.authorities.map((a) => [a.name, a])),
): SizeEstimate {
  const path: Authority[] = [];
  for (let a = byName.get(cert.issuer); a && !path.includes(a); a = a.parent !== undefined ? byName.get(a.parent) : undefined) path.push(a);
  const issuer = path[0];
  const root = path[path.length - 1];
  const replicaNames = cert.perReplica
    ? (() => {
        const pod = `${cert.perReplica.statefulSet}-${cert.perReplica.replicas - 1}`;
        return [pod, `${pod}.${cert.perReplica.statefulSet}.${cert.secret?.namespace ?? ''}.svc`];
      })()
    : [];
  const sanBytes =
    16 +
    [...cert.dnsNames, ...replicaNames, ...cert.uris].reduce((n, v) => n + utf8(v) + 4, 0) +
    cert.ipAddresses.reduce((n, ip) => n + (ip.includes(':') ? 18 : 6), 0);
  const subject = cert.perReplica ? { ...cert.subject, commonName: defined(replicaNames[0]) } : cert.subject;
  const leaf = pemChars(certificateDer(subject, (issuer ?? { subject }).subject, cert.keyType, issuer?.keyType ?? 'RSA-4096', sanBytes));
  const chain = path.slice(0, -1).reduce((n, a) => n + authorityPem(a, byName), 0);
  // During a CA rotation the trust bundle holds the old and the new root.
  const ca = root ? 2 * authorityPem(root, byName) : 0;
  const key = KEY_PEM[cert.keyType];
  const storeEntry =
    STORE_FIXED + utf8(cert.name) + utf8(cert.issuer) + jsonChars(leaf) + jsonChars(chain) + jsonChars(ca) + jsonChars(key);
  const b64 = (n: number) => Math.ceil(n / 3) * 4;
  const secret = SECRET_FIXED + utf8(cert.name) + b64(leaf + chain) + b64(key) + b64(ca);
  return { storeEntry, secret };
}
