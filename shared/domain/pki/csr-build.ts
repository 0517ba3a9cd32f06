import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { Subject } from '../inventory/model.js';
import { signatureAlgorithmFor } from './algorithms.js';
import { bitString, constructed, NULL, objectId, pem, sequence, setOf, smallInteger as smallIntegerDer } from './der-writer.js';
import { subjectAltName, type AltNames } from './extensions/subject-alt-name.js';
import { spkiDer } from './key-encoding.js';
import { distinguishedName } from './name.js';

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/**
 * A PKCS#10 certification request (RFC 2986) for `subject` and the alternative names, signed with the private key:
 * what rekey sends to an external CA, so the key never leaves rekey's store.
 */
export function buildCsr(input: { readonly subject: Subject; readonly privateKey: KeyObject; readonly altNames: AltNames }): string {
  const publicKey = createPublicKey(input.privateKey);
  const alg = signatureAlgorithmFor(input.privateKey);
  const san = subjectAltName(input.altNames);
  const attributes = san ? [sequence([objectId(EXTENSION_REQUEST), setOf([sequence([san])])])] : [];
  const info = sequence([smallIntegerDer(0), distinguishedName(input.subject), spkiDer(publicKey), constructed(0xa0, attributes)]);
  const signature = sign(alg.digest, info, input.privateKey);
  const algId = sequence(alg.nullParams ? [objectId(alg.oid), NULL] : [objectId(alg.oid)]);
  return pem(sequence([info, algId, bitString(signature)]), 'CERTIFICATE REQUEST');
}
