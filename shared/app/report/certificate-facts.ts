import { X509Certificate } from 'node:crypto';
import { keyTypeOf } from '../../domain/pki/keys.js';
import { pemBlocks } from '../../domain/pki/pem.js';
import { ekuOf } from '../../domain/pki/eku.js';

/** What a certificate says about itself, decoded for people: never the key. */
export interface CertificateFacts {
  readonly subject: string;
  readonly issuer: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
  /** rekey's name for the key (`ECDSA-P256`), or node's description when rekey does not issue that kind. */
  readonly keyType: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly serial: string;
  /** SHA-256 of the DER, lower-case hex without colons (as rekey stores it). */
  readonly fingerprint: string;
  readonly isCA: boolean;
  /** Extended key usages by name where known (serverAuth, clientAuth), else the OID. */
  readonly extKeyUsage: readonly string[];
  readonly selfSigned: boolean;
}

export interface ChainLink {
  readonly subject: string;
  readonly issuer: string;
  readonly notAfter: string;
  readonly fingerprint: string;
  readonly isCA: boolean;
}

/** Where the chain ends: at a root in the trust bundle, at a self-signed certificate not in it, or at a missing issuer. */
export const ChainEnd = { TrustedRoot: 'trusted-root', UntrustedRoot: 'untrusted-root', Incomplete: 'incomplete' } as const;
export type ChainEnd = (typeof ChainEnd)[keyof typeof ChainEnd];

export interface ChainFacts {
  /** The certificates above the leaf, in order, then the root that signed the last one when the bundle has it. */
  readonly links: readonly ChainLink[];
  readonly end: ChainEnd;
  /** Subject of the last certificate reached. */
  readonly endsAt: string;
}

const EKU_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

// node prints DNs one attribute per line; people read them on one.
const oneLine = (dn: string): string => dn.split('\n').filter(Boolean).join(', ');
const hexFingerprint = (x: X509Certificate): string => x.fingerprint256.replace(/:/g, '').toLowerCase();

function altNames(x: X509Certificate): { dnsNames: string[]; ipAddresses: string[]; uris: string[] } {
  const out = { dnsNames: [] as string[], ipAddresses: [] as string[], uris: [] as string[] };
  // node's format: `DNS:a, IP Address:1.2.3.4, URI:spiffe://x`; names with commas come quoted as JSON strings.
  for (const m of (x.subjectAltName ?? '').matchAll(/(DNS|IP Address|URI):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[2] ?? '';
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.trim();
    if (m[1] === 'DNS') out.dnsNames.push(value);
    else if (m[1] === 'IP Address') out.ipAddresses.push(value);
    else out.uris.push(value);
  }
  return out;
}

function keyDescription(x: X509Certificate): string {
  const key = x.publicKey;
  return (
    keyTypeOf(key) ??
    `${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.modulusLength ? `-${key.asymmetricKeyDetails.modulusLength}` : ''}${key.asymmetricKeyDetails?.namedCurve ? `-${key.asymmetricKeyDetails.namedCurve}` : ''}`
  );
}

/** Decodes one X.509 certificate (DER or X509Certificate). */
export function certificateFacts(cert: Buffer | X509Certificate): CertificateFacts {
  const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  return {
    subject: oneLine(x.subject),
    issuer: oneLine(x.issuer),
    ...altNames(x),
    keyType: keyDescription(x),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    fingerprint: hexFingerprint(x),
    isCA: x.ca,
    extKeyUsage: ekuOf(x).map((o) => EKU_NAMES[o] ?? o),
    selfSigned: x.issuer === x.subject && x.verify(x.publicKey),
  };
}

/** The first certificate of a PEM text, decoded; undefined when it holds none or does not parse. */
export function firstCertificateFacts(pem: string): CertificateFacts | undefined {
  const der = pemBlocks(pem)[0];
  if (!der) return undefined;
  try {
    return certificateFacts(der);
  } catch {
    return undefined;
  }
}

function parseAll(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const der of pemBlocks(pem)) {
    try {
      out.push(new X509Certificate(der));
    } catch {
      // A block that does not parse cannot be part of a chain; the chain then ends incomplete.
    }
  }
  return out;
}

/**
 * Follows a leaf's issuers through `chain` (intermediates) and then `bundle` (trusted roots), checking each
 * signature, and says where it ends.
 */
export function chainFacts(leafPem: string, chainPem: string, bundlePem: string): ChainFacts | undefined {
  const leaf = parseAll(leafPem)[0];
  if (!leaf) return undefined;
  const intermediates = parseAll(chainPem);
  const roots = parseAll(bundlePem);
  const links: ChainLink[] = [];
  const seen = new Set<string>([leaf.fingerprint256]);
  let current = leaf;
  for (;;) {
    if (current.issuer === current.subject && current.verify(current.publicKey)) {
      const trusted = roots.some((r) => r.fingerprint256 === current.fingerprint256);
      return { links, end: trusted ? ChainEnd.TrustedRoot : ChainEnd.UntrustedRoot, endsAt: oneLine(current.subject) };
    }
    const parent = [...intermediates, ...roots].find(
      (c) => !seen.has(c.fingerprint256) && current.checkIssued(c) && current.verify(c.publicKey),
    );
    if (!parent) return { links, end: ChainEnd.Incomplete, endsAt: oneLine(current.issuer) };
    seen.add(parent.fingerprint256);
    links.push({
      subject: oneLine(parent.subject),
      issuer: oneLine(parent.issuer),
      notAfter: new Date(parent.validTo).toISOString(),
      fingerprint: hexFingerprint(parent),
      isCA: parent.ca,
    });
    current = parent;
  }
}
