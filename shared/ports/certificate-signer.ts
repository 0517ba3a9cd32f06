import type { Authority } from '../domain/inventory/model.js';

/** What rekey asks an external CA to sign: a PKCS#10 request made with a key that stays in rekey's store. */
export interface SignRequest {
  readonly csrPem: string;
  /** The names the certificate must carry (the CSR's too), for CAs that order by name (ACME). */
  readonly dnsNames: readonly string[];
  readonly validityMs: number;
  /** The same for retries of one issuance (the rotation's version id): a CA that supports it makes one certificate. */
  readonly idempotencyKey: string;
}

/** A certificate an external CA signed, with the intermediates it returned (leaf first, roots left out). */
export interface SignedCertificate {
  readonly cert: string;
  readonly chain: string;
  /** The CA's calls this issuance took (for measurements). */
  readonly calls: number;
}

/**
 * An external certificate authority: AWS Private CA, an ACME CA. It signs requests; rekey makes and keeps the keys.
 * Errors are RekeyErrors: `TransientError` (rate-limited, unreachable) is worth another try, others (denied, invalid
 * request) are not.
 */
export interface CertificateSigner {
  readonly kind: 'awsPrivateCa' | 'acme';
  sign(request: SignRequest): Promise<SignedCertificate>;
  /** The CA's trust anchors (PEM, roots), and the CA certificate chain above its leaves (intermediates, PEM). */
  trust(): Promise<{ readonly roots: string; readonly intermediates: string }>;
}

/** The signers of the inventory's external authorities, made on first use. */
export interface CertificateSigners {
  forAuthority(authority: Authority): Promise<CertificateSigner>;
}
