import type { X509Certificate } from 'node:crypto';
import type { EnrolmentRecord } from './record.js';
import { nameAllowed } from './check.js';

/** Why a renewal's proof (the current certificate, presented over mTLS) is refused; each a constant tests name. */
export const RenewalRefusal = {
  NoCertificate: 'NoCertificate',
  NotIssuedByProfile: 'NotIssuedByProfile',
  NotYetValid: 'NotYetValid',
  Expired: 'Expired',
  Revoked: 'Revoked',
  NamesWidened: 'NamesWidened',
} as const;
export type RenewalRefusal = (typeof RenewalRefusal)[keyof typeof RenewalRefusal];

export interface RenewalProof {
  /** The certificate the client presented (TLS has checked it holds the key). */
  readonly current: X509Certificate;
  /** The profile authority's certificates (current, and the one before a CA rotation): one must have signed `current`. */
  readonly issuers: readonly X509Certificate[];
  /** The record of `current`'s serial under this profile, if there is one. */
  readonly record: EnrolmentRecord | undefined;
  /** The names the new CSR asks for. */
  readonly requested: readonly string[];
  readonly now: Date;
}

/**
 * Whether a presented certificate may renew under a profile: signed by the profile's authority, recorded as enrolled
 * under this very profile (same fingerprint; a certificate of another profile or CA has no such record), inside its
 * validity, not revoked, and the new names are equal to or within the current ones. The first refusal wins.
 */
export function checkRenewal(proof: RenewalProof): { refusal: RenewalRefusal; message: string } | undefined {
  const { current, record, now } = proof;
  const signed = proof.issuers.some((ca) => current.checkIssued(ca) && current.verify(ca.publicKey));
  if (!signed)
    return { refusal: RenewalRefusal.NotIssuedByProfile, message: "the client certificate is not signed by the profile's authority" };
  if (record?.fingerprint !== current.fingerprint256)
    return {
      refusal: RenewalRefusal.NotIssuedByProfile,
      message: `the client certificate (serial ${current.serialNumber.toLowerCase()}) was not enrolled under this profile`,
    };
  if (now < new Date(current.validFrom))
    return { refusal: RenewalRefusal.NotYetValid, message: `the client certificate is not valid before ${current.validFrom}` };
  if (now > new Date(current.validTo))
    return { refusal: RenewalRefusal.Expired, message: `the client certificate expired at ${new Date(current.validTo).toISOString()}` };
  if (record.revoked)
    return {
      refusal: RenewalRefusal.Revoked,
      message: `the client certificate (serial ${record.serial}) was revoked at ${record.revoked.at} (${record.revoked.reason})`,
    };
  const widened = proof.requested.filter((n) => !nameAllowed(n, record.names));
  if (widened.length)
    return {
      refusal: RenewalRefusal.NamesWidened,
      message: `a renewal may not widen the names: ${widened.map((n) => JSON.stringify(n)).join(', ')} not in the current certificate (${record.names.join(', ')})`,
    };
  return undefined;
}
