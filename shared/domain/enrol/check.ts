import type { EnrolProfile } from '../inventory/model.js';
import type { ParsedCsr } from '../pki/csr.js';

/** Why a CSR is refused under a profile; each a constant so callers and tests name it. */
export const EnrolRefusal = {
  BadSignature: 'BadSignature',
  NameNotAllowed: 'NameNotAllowed',
  NoNames: 'NoNames',
  UnsupportedNames: 'UnsupportedNames',
} as const;
export type EnrolRefusal = (typeof EnrolRefusal)[keyof typeof EnrolRefusal];

/** Whether `name` matches an allowed pattern: exact, or `*.suffix` for exactly one more label in front of suffix. */
export function nameAllowed(name: string, patterns: readonly string[]): boolean {
  const n = name.toLowerCase();
  return patterns.some((p) => {
    const pattern = p.toLowerCase();
    if (!pattern.startsWith('*.')) return n === pattern;
    const suffix = pattern.slice(1);
    return n.endsWith(suffix) && n.length > suffix.length && !n.slice(0, -suffix.length).includes('.') && !n.startsWith('*');
  });
}

/** The DNS names a certificate for this CSR will carry: its SANs, and the CN when it is a name. */
export const requestedNames = (csr: ParsedCsr): string[] => [...new Set([...(csr.commonName ? [csr.commonName] : []), ...csr.dnsNames])];

/** Policy chain for an enrolment: the first refusal wins; undefined means the CSR may be signed. */
export function checkEnrolment(profile: EnrolProfile, csr: ParsedCsr): { refusal: EnrolRefusal; message: string } | undefined {
  if (!csr.signatureValid)
    return { refusal: EnrolRefusal.BadSignature, message: 'the CSR signature does not verify with the key it carries' };
  if (csr.ipAddresses.length || csr.uris.length)
    return {
      refusal: EnrolRefusal.UnsupportedNames,
      message: `profile "${profile.name}" issues DNS names only; the CSR asks for IP addresses or URIs`,
    };
  const names = requestedNames(csr);
  if (names.length === 0) return { refusal: EnrolRefusal.NoNames, message: 'the CSR names nothing (no CN, no DNS SAN)' };
  const outside = names.filter((n) => !nameAllowed(n, profile.allowedNames));
  if (outside.length)
    return {
      refusal: EnrolRefusal.NameNotAllowed,
      message: `profile "${profile.name}" does not allow ${outside.map((n) => JSON.stringify(n)).join(', ')} (allowed: ${profile.allowedNames.join(', ')})`,
    };
  return undefined;
}
