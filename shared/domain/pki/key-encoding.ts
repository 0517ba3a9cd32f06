import { createPrivateKey, type KeyObject } from 'node:crypto';
import { bitString, objectId, octetString, pem, sequence, smallInteger, explicitTag } from './der-writer.js';
import { defined } from '../defined.js';

/**
 * SPKI and PKCS#8 encodings built by hand for EC and Ed25519 keys. OpenSSL 3's encoders, which `KeyObject.export`
 * goes through, cost 100-300 µs a call, more than generating and signing an EC certificate together; reading the
 * JWK costs 8-36 µs, and a key made with ECDH has its scalar and point at hand. RSA keys take node's encoders
 * (their cost is lost in RSA keygen).
 */

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const ED25519 = '1.3.101.112';
export const EC_CURVES = {
  'P-256': { oid: '1.2.840.10045.3.1.7', size: 32, openssl: 'prime256v1' },
  'P-384': { oid: '1.3.132.0.34', size: 48, openssl: 'secp384r1' },
} as const;
export type EcCurve = keyof typeof EC_CURVES;

/** A public key as a certificate carries it: the SPKI DER, the subjectPublicKey bytes (for key identifiers), the type. */
export interface EncodedPublicKey {
  readonly spki: Buffer;
  readonly bits: Buffer;
  readonly type: 'ec' | 'ed25519' | 'rsa';
}

interface Jwk {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
}

const b64u = (s: string): Buffer => Buffer.from(s, 'base64url');

const algorithms = new Map<string, Buffer>();
function algorithmOf(kind: 'ed25519' | EcCurve): Buffer {
  let hit = algorithms.get(kind);
  if (!hit) {
    hit = kind === 'ed25519' ? sequence([objectId(ED25519)]) : sequence([objectId(EC_PUBLIC_KEY), objectId(EC_CURVES[kind].oid)]);
    algorithms.set(kind, hit);
  }
  return hit;
}

const curveOf = (jwk: Jwk): EcCurve | undefined => (jwk.kty === 'EC' && (jwk.crv === 'P-256' || jwk.crv === 'P-384') ? jwk.crv : undefined);

/** SPKI of an EC public key from its uncompressed point (04 || x || y). */
export function ecSpki(curve: EcCurve, point: Buffer): EncodedPublicKey {
  return { spki: sequence([algorithmOf(curve), bitString(point)]), bits: point, type: 'ec' };
}

/** PKCS#8 PEM of an EC key: ECPrivateKey (RFC 5915) with the public point and without parameters, which PKCS#8 carries in the algorithm. */
export function ecPkcs8Pem(curve: EcCurve, scalar: Buffer, point: Buffer): string {
  const size = EC_CURVES[curve].size;
  // The scalar is a fixed-width octet string (RFC 5915): left-pad a short one.
  const d = scalar.length === size ? scalar : Buffer.concat([Buffer.alloc(size - scalar.length), scalar]);
  const inner = sequence([smallInteger(1), octetString(d), explicitTag(1, bitString(point))]);
  return pem(sequence([smallInteger(0), algorithmOf(curve), octetString(inner)]), 'PRIVATE KEY');
}

/** The SPKI, key bits and type of a public key object. */
export function encodedPublicKey(publicKey: KeyObject): EncodedPublicKey {
  const type = publicKey.asymmetricKeyType;
  if (type !== 'rsa') {
    const jwk = publicKey.export({ format: 'jwk' }) as Jwk;
    const curve = curveOf(jwk);
    if (curve && jwk.x && jwk.y) return ecSpki(curve, Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]));
    if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x) return ed25519Spki(b64u(jwk.x));
  }
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  if (type !== 'rsa' && type !== 'ec' && type !== 'ed25519') throw new Error(`rekey does not issue for ${String(type)} keys`);
  return encodedSpki(spki, type);
}

/** SPKI of an Ed25519 public key from its 32 bytes. */
export function ed25519Spki(bits: Buffer): EncodedPublicKey {
  return { spki: sequence([algorithmOf('ed25519'), bitString(bits)]), bits, type: 'ed25519' };
}

/** A public key as a certificate carries it, from its SPKI DER. */
export function encodedSpki(spki: Buffer, type: EncodedPublicKey['type']): EncodedPublicKey {
  return { spki, bits: bitStringBytesOf(spki), type };
}

/** PKCS#8 DER of an Ed25519 key from its 32-byte seed (RFC 8410: the PrivateKey is the seed in an OCTET STRING). */
export function ed25519Pkcs8Der(seed: Buffer): Buffer {
  return sequence([smallInteger(0), algorithmOf('ed25519'), octetString(octetString(seed))]);
}

/** SPKI = SEQUENCE { AlgorithmIdentifier, BIT STRING }: the key bits follow the BIT STRING's unused-bits byte. */
function bitStringBytesOf(spki: Buffer): Buffer {
  // Walk: outer SEQUENCE header, the AlgorithmIdentifier TLV, then the BIT STRING header and its unused-bits byte.
  const skipHeader = (at: number): number => (defined(spki[at + 1]) & 0x80 ? at + 2 + (defined(spki[at + 1]) & 0x7f) : at + 2);
  const lengthAt = (at: number): number => {
    const first = defined(spki[at + 1]);
    if (!(first & 0x80)) return first;
    let n = 0;
    for (let i = 0; i < (first & 0x7f); i++) n = n * 256 + defined(spki[at + 2 + i]);
    return n;
  };
  const alg = skipHeader(0);
  const bits = skipHeader(alg) + lengthAt(alg);
  return spki.subarray(skipHeader(bits) + 1, skipHeader(bits) + lengthAt(bits));
}

/** SubjectPublicKeyInfo, DER. */
export function spkiDer(publicKey: KeyObject): Buffer {
  return encodedPublicKey(publicKey).spki;
}

/** PrivateKeyInfo (PKCS#8, unencrypted), PEM. */
export function pkcs8Pem(privateKey: KeyObject): string {
  if (privateKey.asymmetricKeyType === 'rsa') return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const jwk = privateKey.export({ format: 'jwk' }) as Jwk;
  const curve = curveOf(jwk);
  if (curve && jwk.d && jwk.x && jwk.y) return ecPkcs8Pem(curve, b64u(jwk.d), Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]));
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.d) return pem(ed25519Pkcs8Der(b64u(jwk.d)), 'PRIVATE KEY');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** The private key object of an EC key known by its scalar and point (a self-signed CA signs with it). */
export function ecPrivateKeyObject(curve: EcCurve, scalar: Buffer, point: Buffer): KeyObject {
  const size = EC_CURVES[curve].size;
  const d = scalar.length === size ? scalar : Buffer.concat([Buffer.alloc(size - scalar.length), scalar]);
  const jwk = {
    kty: 'EC',
    crv: curve,
    d: d.toString('base64url'),
    x: point.subarray(1, 1 + size).toString('base64url'),
    y: point.subarray(1 + size).toString('base64url'),
  };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}
