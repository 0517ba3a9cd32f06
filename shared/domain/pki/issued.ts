import { verify, type KeyObject } from 'node:crypto';
import type { CertificateMaterial } from '../store/material.js';
import type { BuiltCertificate, CertificateProfile } from './certificate.js';
import type { SignatureAlgorithm } from './algorithms.js';

/**
 * What `issueMaterial` put into a certificate it built in this process: the values it was built from and the
 * bytes it signed. The pre-promotion check reads these instead of parsing the certificate back (see check.ts).
 */
export interface IssuedFacts {
  /** The material's fields as returned: facts describe that material only while these are still its fields. */
  readonly cert: string;
  readonly key: string;
  readonly chain: string;
  readonly ca: string;
  readonly tbs: Buffer;
  readonly signature: Buffer;
  readonly digest: SignatureAlgorithm['digest'];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly profile: CertificateProfile;
  /** The issuer object that signed it (the same object for every leaf of one issuer in a run); undefined: self-signed. */
  readonly issuer: object | undefined;
  /**
   * The signature was verified under the public key of `issuer`'s certificate where it was made (a signing worker of
   * this process): the check before promotion does not verify it again. Never set from anything read back.
   */
  readonly signatureVerified?: boolean;
}

/** What a certificate's facts hold beside the material's fields, from what `buildCertificate` returned. */
export function buildValuesOf(
  built: Pick<BuiltCertificate, 'tbs' | 'signature' | 'digest'>,
  from: { notBefore: Date; notAfter: Date; profile: CertificateProfile; issuer: object | undefined },
): Omit<IssuedFacts, 'cert' | 'key' | 'chain' | 'ca'> {
  return { tbs: built.tbs, signature: built.signature, digest: built.digest, ...from };
}

/** Whether the signature over the signed bytes verifies under `publicKey` (a key of another type or curve: no). */
export function signatureVerifies(signed: Pick<IssuedFacts, 'digest' | 'tbs' | 'signature'>, publicKey: KeyObject): boolean {
  try {
    return verify(signed.digest, signed.tbs, publicKey, signed.signature);
  } catch {
    return false;
  }
}

/** Keyed by the material object itself: a copy, an edit or anything read back from a store has no facts. */
const issued = new WeakMap<CertificateMaterial, IssuedFacts>();

export function rememberIssued(material: CertificateMaterial, facts: IssuedFacts): void {
  issued.set(material, facts);
}

/** The facts of a certificate this process issued, if `material` is still exactly what it returned. */
export function issuedFactsOf(material: CertificateMaterial): IssuedFacts | undefined {
  const f = issued.get(material);
  return f && f.cert === material.cert && f.key === material.key && f.chain === material.chain && f.ca === material.ca ? f : undefined;
}
