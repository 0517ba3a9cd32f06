import type { KeyType } from '../inventory/schema.js';
import { IntegrityError } from '../errors.js';

/**
 * What one store version holds (the SecretString, JSON). The first eight certificate fields are the design's
 * contract; the rest let plan decide without parsing certificates.
 */
export interface CertificateMaterial {
  readonly type: 'certificate';
  readonly cert: string;
  readonly key: string;
  /** Intermediates above the leaf, PEM, leaf excluded. Empty for a root. */
  readonly chain: string;
  /** Trust bundle (roots), PEM. */
  readonly ca: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly keyType: KeyType;
  /** Issuer item and the fingerprint of the issuer certificate that signed this one; absent for roots. */
  readonly issuer?: string;
  readonly issuerFingerprint?: string;
  /** Hash of everything in the inventory that shapes the certificate: a change means re-issue. */
  readonly specHash: string;
  /** Taken over from an existing Secret rather than issued by rekey. */
  readonly adopted?: boolean;
  /**
   * Authorities during a rotation's overlap: the previous CA certificate(s), PEM, still trusted beside this one in
   * every bundle until the rotation's drop step stores a version without them. Public: no key material.
   */
  readonly trustAlso?: string;
}

export interface PasswordMaterial {
  readonly type: 'password';
  readonly password: string;
  /** Database login the password belongs to (alternating strategy switches between two). */
  readonly login?: string;
  readonly createdAt: string;
  readonly specHash: string;
}

export interface SigningKeyMaterial {
  readonly type: 'signing-key';
  /** Private JWK of the active key. */
  readonly jwk: Readonly<Record<string, unknown>>;
  readonly kid: string;
  readonly alg: string;
  /** Public JWKs verifiers accept (active first, then keys still in their overlap). */
  readonly keySet: readonly Readonly<Record<string, unknown>>[];
  readonly createdAt: string;
  readonly specHash: string;
}

export type Material = CertificateMaterial | PasswordMaterial | SigningKeyMaterial;

export const encodeMaterial = (m: Material): string => JSON.stringify(m);

export function decodeMaterial(value: string, name: string): Material {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (cause) {
    throw new IntegrityError(`stored value of ${name} is not JSON`, { cause, context: { item: name } });
  }
  const type = (parsed as { type?: unknown })?.type;
  if (type === 'certificate' || type === 'password' || type === 'signing-key') return parsed as Material;
  // A value written by something else that still has the design's certificate fields.
  if (parsed && typeof parsed === 'object' && 'cert' in parsed && 'key' in parsed) return { type: 'certificate', ...(parsed as object) } as CertificateMaterial;
  throw new IntegrityError(`stored value of ${name} is not rekey material`, { context: { item: name } });
}

export function asCertificate(m: Material, name: string): CertificateMaterial {
  if (m.type !== 'certificate') throw new IntegrityError(`${name} holds a ${m.type}, not a certificate`, { context: { item: name } });
  return m;
}
