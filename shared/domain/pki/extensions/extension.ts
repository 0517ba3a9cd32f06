import { boolean, objectId, octetString, sequence } from '../der-writer.js';

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING (DER of the value) } */
export function extension(extnId: string, critical: boolean, value: Buffer): Buffer {
  return sequence(critical ? [objectId(extnId), boolean(true), octetString(value)] : [objectId(extnId), octetString(value)]);
}
