import type { KeyObject } from 'node:crypto';
import type { Subject } from '../inventory/model.js';
import type { KeyType } from '../inventory/schema.js';
import type { SignatureAlgorithm } from './algorithms.js';
import { buildCertificate, type CertificateProfile, type Issuer } from './certificate.js';
import { generateIssuedKey } from './keys.js';
import { signatureVerifies } from './issued.js';

/** One leaf to make, key and certificate, with everything decided: what a signing worker receives. */
export interface LeafOrder {
  readonly keyType: KeyType;
  readonly subject: Subject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly profile: Extract<CertificateProfile, { kind: 'leaf' }>;
}

/** The leaf made: its key and certificate as stored, and the signed bytes the pre-promotion check reads. */
export interface MadeLeaf {
  readonly keyPem: string;
  readonly certPem: string;
  readonly serialHex: string;
  readonly fingerprint: string;
  readonly tbs: Buffer;
  readonly signature: Buffer;
  readonly digest: SignatureAlgorithm['digest'];
  /** The signature was verified under `issuerPublicKey` after signing. */
  readonly signatureVerified: boolean;
}

/**
 * Generates a leaf's key, builds and signs its certificate under `signer`, and verifies the signature under the
 * public key of the signer's certificate (as Go's CreateCertificate checks its signer), so that the check before
 * promotion need not do it again. A signature that does not verify is reported, not thrown: the check refuses it.
 */
export function makeLeaf(order: LeafOrder, signer: Issuer, issuerPublicKey: KeyObject): MadeLeaf {
  const keys = generateIssuedKey(order.keyType);
  const built = buildCertificate({
    subject: order.subject,
    publicKey: keys.publicKey,
    notBefore: order.notBefore,
    notAfter: order.notAfter,
    issuer: signer,
    profile: order.profile,
  });
  return {
    keyPem: keys.pkcs8Pem,
    certPem: built.pem,
    serialHex: built.serialHex,
    fingerprint: built.fingerprint,
    tbs: built.tbs,
    signature: built.signature,
    digest: built.digest,
    signatureVerified: signatureVerifies(built, issuerPublicKey),
  };
}
