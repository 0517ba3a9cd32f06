import { X509Certificate } from 'node:crypto';
import type { Unit } from '../units.js';
import type { CertificateMaterial } from '../store/material.js';
import { buildCertificate, issuerFrom } from './certificate.js';
import { generateKeyPair, privateKeyFromPem, privateKeyToPem } from './keys.js';
import { pemBlocks } from './der.js';

/** Certificates start this much in the past, so a peer whose clock runs a little behind still accepts them. */
export const BACKDATE_MS = 5 * 60_000;

/** The issuer's current material, and whether it is a root (its certificate is then not part of chains). */
export interface IssuerMaterial {
  readonly name: string;
  readonly material: CertificateMaterial;
  readonly isRoot: boolean;
}

/** Intermediates a certificate issued by `issuer` must present: the issuer and what is above it, roots excluded. */
export const chainBelow = (issuer: IssuerMaterial): string => (issuer.isRoot ? '' : issuer.material.cert + issuer.material.chain);

/**
 * Issues a fresh key and certificate for an authority or certificate unit. Validity is clamped to the issuer's,
 * so nothing outlives what signed it.
 */
export function issueMaterial(unit: Unit, issuer: IssuerMaterial | undefined, now: Date, specHash: string): CertificateMaterial {
  const item = unit.item;
  if (item.kind === 'credential') throw new Error('credentials are not certificates');
  const keys = generateKeyPair(item.keyType);
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  let notAfter = new Date(now.getTime() + item.validityMs);
  const issuerCert = issuer && new X509Certificate(issuer.material.cert);
  if (issuerCert && notAfter > new Date(issuerCert.validTo)) notAfter = new Date(issuerCert.validTo);
  const signer = issuer && issuerFrom(pemBlocks(issuer.material.cert)[0]!, privateKeyFromPem(issuer.material.key), notAfter);
  const built = buildCertificate({
    subject: { ...item.subject, commonName: unit.commonName ?? item.subject.commonName },
    publicKey: keys.publicKey,
    notBefore,
    notAfter,
    ...(signer ? { issuer: signer } : { selfSigningKey: keys.privateKey }),
    profile:
      item.kind === 'authority'
        ? { kind: 'authority', ...(item.pathLen !== undefined && { pathLen: item.pathLen }) }
        : { kind: 'leaf', usage: item.usage, altNames: { dnsNames: unit.dnsNames, ipAddresses: item.ipAddresses, uris: item.uris } },
  });
  return {
    type: 'certificate',
    cert: built.pem,
    key: privateKeyToPem(keys.privateKey),
    chain: issuer ? chainBelow(issuer) : '',
    ca: issuer ? issuer.material.ca : built.pem,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    serial: built.serialHex,
    fingerprint: built.fingerprint,
    keyType: item.keyType,
    ...(issuer && { issuer: issuer.name, issuerFingerprint: issuer.material.fingerprint }),
    specHash,
  };
}
