import forge from 'node-forge';
import { defined } from '../defined.js';

/** Small helpers over forge's ASN.1, which works on binary strings. */
const { asn1 } = forge;
export type Asn1 = forge.asn1.Asn1;
export const U = asn1.Class.UNIVERSAL;
export const T = asn1.Type;

export const seq = (items: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(U, T.SET, true, items);
export const oid = (dotted: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(dotted).getBytes());
export const bool = (v: boolean): Asn1 => asn1.create(U, T.BOOLEAN, false, v ? '\xff' : '\x00');
export const nullValue = (): Asn1 => asn1.create(U, T.NULL, false, '');
export const octets = (bytes: Buffer | string): Asn1 => asn1.create(U, T.OCTETSTRING, false, toBinary(bytes));
export const utf8 = (s: string): Asn1 => asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(s));
/** A BIT STRING with no unused bits holding whole bytes (signatures, keys). */
export const bitsOf = (bytes: Buffer): Asn1 => asn1.create(U, T.BITSTRING, false, '\x00' + toBinary(bytes));
// forge types the tag as its universal Type enum; context-specific tags are plain numbers [0], [1], ...
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- see above
export const contextTag = (tag: number): forge.asn1.Type => tag as forge.asn1.Type;
export const explicit = (tag: number, inner: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, contextTag(tag), true, [inner]);
export const implicitPrimitive = (tag: number, bytes: string): Asn1 =>
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, contextTag(tag), false, bytes);

/** A non-negative INTEGER from unsigned big-endian bytes (adds a 0x00 when the top bit is set). */
export function unsignedInteger(bytes: Buffer): Asn1 {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (defined(b[1]) & 0x80) === 0) b = b.subarray(1);
  if ((defined(b[0]) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return asn1.create(U, T.INTEGER, false, toBinary(b));
}
export const smallInteger = (n: number): Asn1 => asn1.create(U, T.INTEGER, false, asn1.integerToDer(n).getBytes());

export const toBinary = (bytes: Buffer | string): string => (typeof bytes === 'string' ? bytes : bytes.toString('binary'));
export const toDer = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
/** Parses DER, leaving BIT STRING contents as bytes (forge would otherwise try to parse keys inside them). */
export const fromDer = (der: Buffer): Asn1 =>
  (asn1.fromDer as unknown as (bytes: string, options: { decodeBitStrings: boolean }) => Asn1)(der.toString('binary'), {
    decodeBitStrings: false,
  });

// PEM helpers live in pem.ts (no forge): modules that only need them import that, not this.
export { derToPem, pemBlocks } from './pem.js';
