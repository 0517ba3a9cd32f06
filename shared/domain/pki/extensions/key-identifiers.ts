import { createHash } from 'node:crypto';
import { implicitPrimitive, octets, seq, toBinary } from '../der.js';
import { extension } from './extension.js';

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export function keyIdentifier(subjectPublicKeyBits: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits).digest();
}

export const subjectKeyIdentifier = (id: Buffer) => extension('2.5.29.14', false, octets(id));

/** authorityKeyIdentifier with keyIdentifier [0] only. */
export const authorityKeyIdentifier = (id: Buffer) => extension('2.5.29.35', false, seq([implicitPrimitive(0, toBinary(id))]));
