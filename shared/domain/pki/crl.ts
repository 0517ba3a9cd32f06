import { sign } from 'node:crypto';
import { signatureAlgorithmFor } from './algorithms.js';
import { bitString, explicitTag, NULL, objectId, sequence, smallInteger, time, tlv, unsignedInteger } from './der-writer.js';
import { extension } from './extensions/extension.js';
import { authorityKeyIdentifier } from './extensions/key-identifiers.js';
import type { Issuer } from './certificate.js';

export interface RevokedEntry {
  /** Serial, hex. */
  readonly serial: string;
  readonly revokedAt: Date;
  /** RFC 5280 CRLReason code; 0 (unspecified) is left out of the entry, as §5.3.1 recommends. */
  readonly reasonCode: number;
}

export interface CrlRequest {
  readonly issuer: Issuer;
  readonly entries: readonly RevokedEntry[];
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Monotonically increasing (RFC 5280 §5.2.3); rekey uses the issue time in seconds. */
  readonly crlNumber: number;
}

const ENUMERATED = 0x0a;
const hexBytes = (hex: string): Buffer => Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');

/**
 * A v2 CRL (RFC 5280 §5) signed by the issuing CA, DER: authorityKeyIdentifier and cRLNumber extensions, one entry
 * per revoked serial with its reasonCode. Signed natively with the CA's key, like certificates.
 */
export function buildCrl(req: CrlRequest): Buffer {
  const alg = signatureAlgorithmFor(req.issuer.privateKey);
  const algorithm = sequence(alg.nullParams ? [objectId(alg.oid), NULL] : [objectId(alg.oid)]);
  const entries = req.entries.map((e) =>
    sequence([
      unsignedInteger(hexBytes(e.serial)),
      time(e.revokedAt),
      ...(e.reasonCode ? [sequence([extension('2.5.29.21', false, tlv(ENUMERATED, Buffer.from([e.reasonCode])))])] : []),
    ]),
  );
  const tbs = sequence([
    smallInteger(1),
    algorithm,
    req.issuer.subjectName,
    time(req.thisUpdate),
    time(req.nextUpdate),
    ...(entries.length ? [sequence(entries)] : []),
    explicitTag(0, sequence([authorityKeyIdentifier(req.issuer.keyId), extension('2.5.29.20', false, smallInteger(req.crlNumber))])),
  ]);
  return sequence([tbs, algorithm, bitString(sign(alg.digest, tbs, req.issuer.privateKey))]);
}
