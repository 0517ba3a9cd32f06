import { z } from 'zod';
import { IntegrityError } from '../errors.js';

/** RFC 5280 §5.3.1 CRLReason values rekey records (certificateHold and the CA/AA compromise reasons are not offered). */
export const RevocationReason = {
  Unspecified: 'unspecified',
  KeyCompromise: 'keyCompromise',
  AffiliationChanged: 'affiliationChanged',
  Superseded: 'superseded',
  CessationOfOperation: 'cessationOfOperation',
  PrivilegeWithdrawn: 'privilegeWithdrawn',
} as const;
export type RevocationReason = (typeof RevocationReason)[keyof typeof RevocationReason];

export const REVOCATION_REASONS: readonly RevocationReason[] = Object.values(RevocationReason);

/** The CRLReason code of each reason, as the CRL entry's reasonCode extension carries it. */
export function reasonCode(reason: RevocationReason): number {
  switch (reason) {
    case RevocationReason.Unspecified:
      return 0;
    case RevocationReason.KeyCompromise:
      return 1;
    case RevocationReason.AffiliationChanged:
      return 3;
    case RevocationReason.Superseded:
      return 4;
    case RevocationReason.CessationOfOperation:
      return 5;
    case RevocationReason.PrivilegeWithdrawn:
      return 9;
    default: {
      const never: never = reason;
      throw new Error(`unknown revocation reason ${String(never)}`);
    }
  }
}

const revocation = z.object({
  at: z.string(),
  reason: z.enum(REVOCATION_REASONS as [RevocationReason, ...RevocationReason[]]),
  by: z.string(),
});

const enrolmentRecordSchema = z.object({
  type: z.literal('enrolment'),
  profile: z.string(),
  serial: z.string(),
  subject: z.string(),
  names: z.array(z.string()),
  requester: z.string(),
  at: z.string(),
  notAfter: z.string(),
  fingerprint: z.string(),
  certificate: z.string(),
  /** The serial of the certificate that proved this renewal (mTLS), when it was one. */
  renewedFrom: z.string().optional(),
  revoked: revocation.optional(),
});

/** What the store keeps of one enrolled certificate (`rekey/<inventory>/_api/enrol/<profile>/<serial>`); never a key. */
export type EnrolmentRecord = z.infer<typeof enrolmentRecordSchema>;
export type Revocation = z.infer<typeof revocation>;

/** Parses a stored enrolment record; anything else under that name is an integrity problem. */
export function parseEnrolmentRecord(value: string, name: string): EnrolmentRecord {
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    throw new IntegrityError(`${name}: not JSON`);
  }
  const parsed = enrolmentRecordSchema.safeParse(data);
  if (!parsed.success) throw new IntegrityError(`${name}: not an enrolment record (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data;
}

/** Serials as rekey records them: lower-case hex of whole bytes, no separators (as node and openssl print them). */
export function normalSerial(serial: string): string {
  const hex = serial
    .replace(/[:\s]/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
  return hex.length % 2 ? `0${hex}` : hex;
}
