import { createHash } from 'node:crypto';
import { implicitTag, octetString, sequence } from '../der-writer.js';
import { extension } from './extension.js';

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export function keyIdentifier(subjectPublicKeyBits: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits).digest();
}

export const subjectKeyIdentifier = (id: Buffer): Buffer => extension('2.5.29.14', false, octetString(id));

/** authorityKeyIdentifier with keyIdentifier [0] only. */
export const authorityKeyIdentifier = (id: Buffer): Buffer => extension('2.5.29.35', false, sequence([implicitTag(0, id)]));
