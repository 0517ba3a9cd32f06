import { defined } from '../defined.js';
/**
 * DER encoding straight into Buffers, for the fixed shapes rekey issues (certificates, SPKI, PKCS#8). forge's
 * ASN.1 builds a tree of binary strings and serialises it through a byte buffer, which cost more than generating
 * and signing an ECDSA certificate together; here every node is its encoded bytes, so building is concatenation.
 * Parsing stays with forge (`der.ts`).
 */

export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  Oid: 0x06,
  Utf8String: 0x0c,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  Sequence: 0x30,
  Set: 0x31,
} as const;

function header(tag: number, length: number): Buffer {
  if (length < 0x80) return Buffer.from([tag, length]);
  if (length < 0x100) return Buffer.from([tag, 0x81, length]);
  if (length < 0x10000) return Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  if (length < 0x1000000) return Buffer.from([tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
  throw new RangeError(`DER value of ${length} bytes is larger than anything rekey encodes`);
}

/** One tag-length-value. */
export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([header(tag, content.length), content]);
}

/** A constructed value (SEQUENCE, SET, context-specific constructed) from already encoded parts. */
export function constructed(tag: number, parts: readonly Buffer[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  return Buffer.concat([header(tag, length), ...parts]);
}

export const sequence = (parts: readonly Buffer[]): Buffer => constructed(Tag.Sequence, parts);
export const setOf = (parts: readonly Buffer[]): Buffer => constructed(Tag.Set, parts);
/** [n] EXPLICIT: a constructed context-specific wrapper. */
export const explicitTag = (n: number, inner: Buffer): Buffer => constructed(0xa0 | n, [inner]);
/** [n] IMPLICIT over a primitive value (GeneralName choices, key identifiers). */
export const implicitTag = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

const TRUE = Buffer.from([Tag.Boolean, 1, 0xff]);
const FALSE = Buffer.from([Tag.Boolean, 1, 0x00]);
export const boolean = (v: boolean): Buffer => (v ? TRUE : FALSE);
export const NULL = Buffer.from([Tag.Null, 0]);
export const octetString = (bytes: Buffer): Buffer => tlv(Tag.OctetString, bytes);
export const utf8String = (s: string): Buffer => tlv(Tag.Utf8String, Buffer.from(s, 'utf8'));
export const ia5 = (s: string): Buffer => Buffer.from(s, 'latin1');
/** A BIT STRING of whole bytes (keys, signatures), or of a named-bit value with `unused` trailing bits. */
export const bitString = (bytes: Buffer, unused = 0): Buffer => tlv(Tag.BitString, Buffer.concat([Buffer.from([unused]), bytes]));

const oidCache = new Map<string, Buffer>();
/** An OBJECT IDENTIFIER from its dotted form (encoded once per process). */
export function objectId(dotted: string): Buffer {
  let hit = oidCache.get(dotted);
  if (!hit) {
    const arcs = dotted.split('.').map(Number);
    if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new Error(`bad OID ${dotted}`);
    const bytes: number[] = [];
    const push = (arc: number) => {
      const groups = [arc & 0x7f];
      for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
      bytes.push(...groups);
    };
    push(defined(arcs[0]) * 40 + defined(arcs[1]));
    for (const arc of arcs.slice(2)) push(arc);
    hit = tlv(Tag.Oid, Buffer.from(bytes));
    oidCache.set(dotted, hit);
  }
  return hit;
}

/** A non-negative INTEGER from unsigned big-endian bytes: leading zeros dropped, a 0x00 added when the top bit is set. */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && (defined(bytes[start + 1]) & 0x80) === 0) start++;
  const b = bytes.subarray(start);
  return (defined(b[0]) & 0x80) !== 0 ? tlv(Tag.Integer, Buffer.concat([Buffer.from([0]), b])) : tlv(Tag.Integer, b);
}

/** A small non-negative INTEGER (versions, pathLen). */
export function smallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`small integer out of range: ${n}`);
  const bytes: number[] = [];
  for (let v = n; ; v = Math.floor(v / 256)) {
    bytes.unshift(v & 0xff);
    if (v < 256) break;
  }
  if (defined(bytes[0]) & 0x80) bytes.unshift(0);
  return tlv(Tag.Integer, Buffer.from(bytes));
}

const two = (n: number): string => (n < 10 ? '0' : '') + String(n);

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, Zulu. */
export function time(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest =
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds()) +
    'Z';
  return y < 2050
    ? tlv(Tag.UtcTime, Buffer.from(two(y % 100) + rest, 'latin1'))
    : tlv(Tag.GeneralizedTime, Buffer.from(String(y).padStart(4, '0') + rest, 'latin1'));
}

/** PEM with 64-character lines, as OpenSSL writes it. */
export function pem(der: Buffer, label: string): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/**
 * The elements of a DER SEQUENCE (or any constructed value) as raw TLV slices: enough to take fields out of a
 * certificate rekey holds (the issuer's subject name, its key) without building a tree.
 */
export function children(der: Buffer): Buffer[] {
  const { contentStart, end } = span(der, 0);
  const out: Buffer[] = [];
  for (let at = contentStart; at < end;) {
    const s = span(der, at);
    out.push(der.subarray(at, s.end));
    at = s.end;
  }
  return out;
}

/** The content bytes of one TLV (without tag and length). */
export function contentOf(tlvBytes: Buffer): Buffer {
  const { contentStart, end } = span(tlvBytes, 0);
  return tlvBytes.subarray(contentStart, end);
}

function span(der: Buffer, at: number): { contentStart: number; end: number } {
  if (at + 2 > der.length) throw new Error('truncated DER');
  const first = defined(der[at + 1]);
  let length = first;
  let contentStart = at + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 3 || at + 2 + n > der.length) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + defined(der[at + 2 + i]);
    contentStart += n;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error('truncated DER');
  return { contentStart, end };
}
