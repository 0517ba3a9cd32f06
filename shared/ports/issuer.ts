import type { KeyObject } from 'node:crypto';
import type { RevocationReason } from '../domain/enrol/record.js';
import type { Authority, Subject } from '../domain/inventory/model.js';
import type { KeyType, Usage } from '../domain/inventory/schema.js';
import type { AltNames } from '../domain/pki/extensions/subject-alt-name.js';
import type { IssuerMaterial } from '../domain/pki/issue.js';
import type { IssuedFacts } from '../domain/pki/issued.js';
import type { EncodedPublicKey } from '../domain/pki/key-encoding.js';
import type { CertificateMaterial } from '../domain/store/material.js';
import type { Unit } from '../domain/units.js';
import type { LeafOffload } from './leaf-offload.js';

/** Who signs for an authority: rekey itself (its key in rekey's store), AWS Private CA, an ACME CA. */
export const IssuerKind = { Own: 'own', AwsPrivateCa: 'awsPrivateCa', Acme: 'acme' } as const;
export type IssuerKind = (typeof IssuerKind)[keyof typeof IssuerKind];

/**
 * A certificate to sign for a key rekey or a requester holds. rekey's own CA signs the public key with the subject,
 * names and usage given here; an external CA gets the PKCS#10 request, made only when it asks (`csrPem()`), so the
 * own CA's hot path builds no CSR.
 */
export interface SignRequest {
  /** What is being signed (a unit, an enrolment profile), for messages. */
  readonly label: string;
  readonly subject: Subject;
  readonly publicKey: KeyObject | EncodedPublicKey;
  /** The PKCS#10 request for the same key, subject and names. */
  csrPem(): string;
  /** The alternative names to write (CAs that build the certificate: rekey's own). */
  readonly altNames: AltNames;
  /** The names the certificate is for, for CAs that order by name (ACME). */
  readonly names: readonly string[];
  readonly usage: Usage;
  readonly validityMs: number;
  /** The same for retries of one issuance (the rotation's version id): a CA that supports it makes one certificate. */
  readonly idempotencyKey: string;
  /** A CRL Distribution Point URI to write in the certificate, for CAs rekey signs for (the API's CRL of a profile). */
  readonly crlUrl?: string;
}

/** A certificate to sign for a key the issuer makes too (rekey's own CA, through `IssueContext.offload`). */
export type NewKeySignRequest = Omit<SignRequest, 'publicKey' | 'csrPem'> & { readonly keyType: KeyType };

/** A signed certificate as rekey stores and hands it out. */
export interface SignedCertificate {
  readonly cert: string;
  /** Intermediates below the roots, leaf excluded. */
  readonly chain: string;
  /** The trust bundle (roots). */
  readonly ca: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** The fingerprint of the authority's certificate (version) that signed it, when known. */
  readonly issuerFingerprint?: string;
  /** The CA's calls this issuance took (for measurements; 0 for rekey's own CA). */
  readonly calls: number;
  /**
   * What rekey's own CA built it from and signed, in this process (never set by an external CA): the pre-promotion
   * check reads these instead of parsing the certificate back (shared/domain/pki/issued.ts).
   */
  readonly builtFrom?: Omit<IssuedFacts, 'cert' | 'key' | 'chain' | 'ca'>;
}

/** The authorities' stored versions, as one run reads them (cached per run by the caller). */
export interface AuthorityMaterials {
  /** An authority's current version, parsed to sign with (rekey's own CAs). */
  issuer(authority: string): Promise<IssuerMaterial>;
  /** An authority's current version as stored, if any (an external one: its CA certificate and trust bundle). */
  authorityCurrent(authority: string): Promise<CertificateMaterial | undefined>;
}

export interface IssueContext {
  readonly now: Date;
  readonly materials: AuthorityMaterials;
  /** Where rekey's own CA may make leaves off the main thread (the CLI's signing pool); absent: in process. */
  readonly offload?: LeafOffload;
}

/** A certificate recorded as revoked, as a CRL lists it. */
export interface RevokedCertificate {
  readonly serial: string;
  readonly certificate: string;
  readonly revokedAt: Date;
  readonly reason: RevocationReason;
}

/** What a profile's CRL route answers: a CRL rekey signed, or where the CA that signed the certificates publishes its own. */
export type CrlAnswer =
  { readonly kind: 'crl'; readonly der: Buffer } | { readonly kind: 'elsewhere'; readonly publisher: string; readonly url?: string };

/** The CA chain an external authority serves now: its roots and the intermediates above its leaves (PEM). */
export interface ServedChain {
  readonly roots: string;
  readonly intermediates: string;
}

/**
 * Signs for one authority: rekey's own CA (in process, with the key in rekey's store), AWS Private CA, an ACME CA.
 * rekey always makes the leaf keys it stores; only requesters' keys (enrolment) come from outside. Errors are
 * RekeyErrors; an external CA's transient ones (rate-limited, unreachable) were already tried again with backoff.
 */
export interface Issuer {
  readonly kind: IssuerKind;
  readonly authority: string;
  /** The authority's own version: a CA certificate rekey issues (signed by its parent or itself), or the chain the external CA serves. */
  authorityMaterial(unit: Unit, specHash: string, ctx: IssueContext): Promise<CertificateMaterial>;
  sign(request: SignRequest, ctx: IssueContext): Promise<SignedCertificate>;
  /**
   * Makes the key and signs its certificate in one go through `ctx.offload` (rekey's own CA), with the key's PKCS#8
   * PEM. Undefined when the offload declines (or there is none): the caller then makes the key and calls `sign`.
   */
  signNewKey?(request: NewKeySignRequest, ctx: IssueContext): Promise<{ signed: SignedCertificate; keyPem: string } | undefined>;
  /** The chain the CA serves now, to compare with the stored version; undefined when rekey is the CA (nothing to watch). */
  servedChain(): Promise<ServedChain | undefined>;
  /**
   * Revokes a certificate at the CA. rekey's own CA has nothing to call: its CRL is built from rekey's records.
   * Revoking one the CA already revoked succeeds.
   */
  revoke(certificate: {
    readonly serial: string;
    readonly pem: string;
    readonly reason: RevocationReason;
  }): Promise<{ readonly calls: number }>;
  /** The CRL of the certificates this authority signed: rekey signs one (own CA), or names where the CA publishes its own. */
  crl(revoked: () => Promise<readonly RevokedCertificate[]>, ctx: IssueContext): Promise<CrlAnswer>;
}

/** The issuer of each of an inventory's authorities, made on first use. */
export interface Issuers {
  forAuthority(authority: Authority): Promise<Issuer>;
}
