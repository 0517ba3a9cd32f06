import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { bitsOf, derToPem, oid, octets, seq, smallInteger, toDer } from './der.js';

/**
 * SPKI and PKCS#8 encodings built from the key's JWK for EC and Ed25519 keys. OpenSSL 3's encoders, which
 * `KeyObject.export` goes through, cost 100-200 µs a call, more than generating and signing an EC certificate
 * together; reading the JWK costs 8-36 µs. RSA keys take node's encoders (their cost is lost in RSA keygen).
 */

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const ED25519 = '1.3.101.112';
const CURVES: Record<string, { oid: string; size: number }> = {
  'P-256': { oid: '1.2.840.10045.3.1.7', size: 32 },
  'P-384': { oid: '1.3.132.0.34', size: 48 },
};

interface Jwk {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
}

const b64u = (s: string): Buffer => Buffer.from(s, 'base64url');

function algorithmOf(jwk: Jwk) {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return seq([oid(ED25519)]);
  const curve = jwk.kty === 'EC' && jwk.crv ? CURVES[jwk.crv] : undefined;
  return curve ? seq([oid(EC_PUBLIC_KEY), oid(curve.oid)]) : undefined;
}

function publicPoint(jwk: Jwk): Buffer {
  return jwk.kty === 'OKP' ? b64u(jwk.x!) : Buffer.concat([Buffer.from([4]), b64u(jwk.x!), b64u(jwk.y!)]);
}

/** SubjectPublicKeyInfo, DER. */
export function spkiDer(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType === 'rsa') return publicKey.export({ type: 'spki', format: 'der' });
  const jwk = publicKey.export({ format: 'jwk' }) as Jwk;
  const alg = algorithmOf(jwk);
  if (!alg) return publicKey.export({ type: 'spki', format: 'der' });
  return toDer(seq([alg, bitsOf(publicPoint(jwk))]));
}

/** PrivateKeyInfo (PKCS#8, unencrypted), PEM. */
export function pkcs8Pem(privateKey: KeyObject): string {
  if (privateKey.asymmetricKeyType === 'rsa') return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const jwk = privateKey.export({ format: 'jwk' }) as Jwk;
  const alg = algorithmOf(jwk);
  if (!alg || !jwk.d) return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  let inner: Buffer;
  if (jwk.kty === 'OKP') {
    inner = toDer(octets(b64u(jwk.d)));
  } else {
    // ECPrivateKey (RFC 5915) without the optional parameters, which PKCS#8 carries in the algorithm.
    const publicKey = forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 1, true, [bitsOf(publicPoint(jwk))]);
    inner = toDer(seq([smallInteger(1), octets(b64u(jwk.d)), publicKey]));
  }
  return derToPem(toDer(seq([smallInteger(0), alg, octets(inner)])), 'PRIVATE KEY');
}
