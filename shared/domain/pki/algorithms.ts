import type { KeyObject } from 'node:crypto';

/** How a key signs a certificate: the AlgorithmIdentifier OID (with or without NULL params) and the digest. */
export interface SignatureAlgorithm {
  readonly oid: string;
  readonly nullParams: boolean;
  /** Digest for crypto.sign; null for Ed25519 (pure EdDSA). */
  readonly digest: 'sha256' | 'sha384' | null;
}

export const OID = {
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ed25519: '1.3.101.112',
} as const;

export function signatureAlgorithmFor(signingKey: KeyObject): SignatureAlgorithm {
  switch (signingKey.asymmetricKeyType) {
    case 'rsa':
      return { oid: OID.sha256WithRSA, nullParams: true, digest: 'sha256' };
    case 'ec':
      return signingKey.asymmetricKeyDetails?.namedCurve === 'secp384r1'
        ? { oid: OID.ecdsaWithSHA384, nullParams: false, digest: 'sha384' }
        : { oid: OID.ecdsaWithSHA256, nullParams: false, digest: 'sha256' };
    case 'ed25519':
      return { oid: OID.ed25519, nullParams: false, digest: null };
    default:
      throw new Error(`cannot sign certificates with a ${signingKey.asymmetricKeyType} key`);
  }
}
