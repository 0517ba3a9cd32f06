import { X509Certificate, type KeyObject } from 'node:crypto';
import { pemBlocks } from './der.js';

/** What rekey needs to know about a certificate, read with node's X509 parser. */
export interface CertificateFacts {
  readonly subject: string;
  readonly commonName: string;
  readonly issuer: string;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly fingerprint: string;
  readonly isCA: boolean;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly extendedKeyUsages: readonly string[];
}

function altNames(x: X509Certificate, prefix: string): string[] {
  return (x.subjectAltName ?? '')
    .split(', ')
    .filter((p) => p.startsWith(prefix))
    .map((p) => p.slice(prefix.length));
}

export function inspectCertificate(pemOrDer: string | Buffer): CertificateFacts {
  const x = new X509Certificate(pemOrDer);
  return {
    subject: x.subject,
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(x.subject)?.[1] ?? '',
    issuer: x.issuer,
    serialHex: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    fingerprint: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    isCA: x.ca,
    dnsNames: altNames(x, 'DNS:'),
    ipAddresses: altNames(x, 'IP Address:'),
    extendedKeyUsages: x.keyUsage ?? [],
  };
}

export const splitPemChain = (pem: string): X509Certificate[] => pemBlocks(pem).map((der) => new X509Certificate(der));

export function certificateMatchesKey(certPem: string, key: KeyObject): boolean {
  return new X509Certificate(certPem).checkPrivateKey(key);
}
