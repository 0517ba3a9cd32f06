import { X509Certificate } from 'node:crypto';
import type { Unit } from '../units.js';
import type { CertificateMaterial } from '../store/material.js';
import { buildCertificate, issuerFrom, type CertificateProfile, type Issuer } from './certificate.js';
import { generateIssuedKey, privateKeyFromPem } from './keys.js';
import { pemBlocks } from './pem.js';
import { buildValuesOf, rememberIssued } from './issued.js';
import { defined } from '../defined.js';

/** Certificates start this much in the past, so a peer whose clock runs a little behind still accepts them. */
export const BACKDATE_MS = 5 * 60_000;

/**
 * The issuer's current material, whether it is a root (its certificate is then not part of chains), and its
 * parsed signing form, prepared once: parsing the key and certificate for every leaf would cost more than
 * issuing the leaf.
 */
export interface IssuerMaterial {
  readonly name: string;
  readonly material: CertificateMaterial;
  readonly isRoot: boolean;
  readonly signer: Issuer;
}

export function issuerMaterialOf(name: string, material: CertificateMaterial, isRoot: boolean): IssuerMaterial {
  const notAfter = new Date(new X509Certificate(material.cert).validTo);
  return { name, material, isRoot, signer: issuerFrom(defined(pemBlocks(material.cert)[0]), privateKeyFromPem(material.key), notAfter) };
}

/** Intermediates a certificate issued by `issuer` must present: the issuer and what is above it, roots excluded. */
export const chainBelow = (issuer: IssuerMaterial): string => (issuer.isRoot ? '' : issuer.material.cert + issuer.material.chain);

/** Backdated start, and an end clamped to the issuer's: nothing outlives what signed it. */
export function validityWindow(now: Date, validityMs: number, issuer: IssuerMaterial | undefined): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  let notAfter = new Date(now.getTime() + validityMs);
  if (issuer && notAfter > issuer.signer.notAfter) notAfter = issuer.signer.notAfter;
  return { notBefore, notAfter };
}

/**
 * Issues a fresh key and certificate for an authority or certificate unit. Validity is clamped to the issuer's,
 * so nothing outlives what signed it.
 */
export function issueMaterial(unit: Unit, issuer: IssuerMaterial | undefined, now: Date, specHash: string): CertificateMaterial {
  const item = unit.item;
  if (item.kind === 'credential') throw new Error('credentials are not certificates');
  const keys = generateIssuedKey(item.keyType);
  const { notBefore, notAfter } = validityWindow(now, item.validityMs, issuer);
  const signer = issuer?.signer;
  const profile: CertificateProfile =
    item.kind === 'authority'
      ? { kind: 'authority', ...(item.pathLen !== undefined && { pathLen: item.pathLen }) }
      : { kind: 'leaf', usage: item.usage, altNames: { dnsNames: unit.dnsNames, ipAddresses: item.ipAddresses, uris: item.uris } };
  const built = buildCertificate({
    subject: { ...item.subject, commonName: unit.commonName ?? item.subject.commonName },
    publicKey: keys.publicKey,
    notBefore,
    notAfter,
    ...(signer ? { issuer: signer } : { selfSigningKey: keys.signingKey() }),
    profile,
  });
  const material: CertificateMaterial = {
    type: 'certificate',
    cert: built.pem,
    key: keys.pkcs8Pem,
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
  rememberIssued(material, {
    cert: material.cert,
    key: material.key,
    chain: material.chain,
    ca: material.ca,
    ...buildValuesOf(built, { notBefore, notAfter, profile, issuer }),
  });
  return material;
}
