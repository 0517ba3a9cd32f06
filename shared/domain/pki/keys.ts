import { createECDH, generateKeyPairSync, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { defined } from '../defined.js';
import { pem } from './der-writer.js';
import type { KeyType } from '../inventory/schema.js';
import {
  EC_CURVES,
  ecPkcs8Pem,
  ecPrivateKeyObject,
  ecSpki,
  ed25519Pkcs8Der,
  ed25519Spki,
  encodedSpki,
  type EcCurve,
  type EncodedPublicKey,
} from './key-encoding.js';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/**
 * Generates a key pair natively (forge's RSA keygen is about ten times slower and has no ECDSA/Ed25519), as key
 * objects that no key generation job of Node's shares (see generateIssuedKey).
 */
export function generateKeyPair(type: KeyType): KeyPair {
  const privateKey = generateIssuedKey(type).signingKey();
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The key type of an existing key, or undefined if rekey does not issue with it. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const d = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = d?.modulusLength;
      return bits === 2048 || bits === 3072 || bits === 4096 ? (`RSA-${bits}` as KeyType) : undefined;
    }
    case 'ec':
      return d?.namedCurve === 'prime256v1' ? 'ECDSA-P256' : d?.namedCurve === 'secp384r1' ? 'ECDSA-P384' : undefined;
    case 'ed25519':
      return 'Ed25519';
    default:
      return undefined;
  }
}

export { pkcs8Pem as privateKeyToPem } from './key-encoding.js';
export const privateKeyFromPem = (pem: string): KeyObject => createPrivateKey(pem);
export const publicKeyOf = (key: KeyObject): KeyObject => createPublicKey(key);

/**
 * A key made for a certificate: its public key as the certificate carries it, its PKCS#8 PEM, and (for a
 * self-signed certificate) its signing key object, made only when asked for.
 */
export interface IssuedKey {
  readonly publicKey: EncodedPublicKey;
  readonly pkcs8Pem: string;
  signingKey(): KeyObject;
}

const ECDH_CURVE: Partial<Record<KeyType, EcCurve>> = { 'ECDSA-P256': 'P-256', 'ECDSA-P384': 'P-384' };

/**
 * Generates the key of a new certificate. EC keys come from ECDH: the scalar and point are at hand, with no key
 * objects to build and no encoders to call (a leaf's key never signs in rekey, so it needs no KeyObject). Ed25519
 * keys come from Node's generator as JWK (the PKCS#8 and SPKI built from it by hand: OpenSSL's DER encoder costs
 * three times the key generation), RSA keys as DER and PEM (their cost is lost in RSA keygen).
 *
 * No key object here comes from Node's generator: on Node 20 the JWK export of such a key holds the key's lock while
 * it allocates, and a garbage collection that then finalizes the generation job of that key takes the same lock; the
 * process hangs for good (`ExportJWKEdKey` under `~KeyGenJob`, 0% CPU). A loop of 100,000 Ed25519 keys through the
 * earlier code hung in 4 of 5 runs. Key objects made by importing (`createPrivateKey`) belong to no job.
 */
export function generateIssuedKey(type: KeyType): IssuedKey {
  const curve = ECDH_CURVE[type];
  if (curve) {
    const ecdh = createECDH(EC_CURVES[curve].openssl);
    const point = ecdh.generateKeys();
    const scalar = ecdh.getPrivateKey();
    let signing: KeyObject | undefined;
    return {
      publicKey: ecSpki(curve, point),
      pkcs8Pem: ecPkcs8Pem(curve, scalar, point),
      signingKey: () => (signing ??= ecPrivateKeyObject(curve, scalar, point)),
    };
  }
  if (type === 'Ed25519') {
    const { publicKey, privateKey } = ed25519Jwks();
    let signing: KeyObject | undefined;
    return {
      publicKey: ed25519Spki(Buffer.from(defined(publicKey.x), 'base64url')),
      pkcs8Pem: pem(ed25519Pkcs8Der(Buffer.from(defined(privateKey.d), 'base64url')), 'PRIVATE KEY'),
      signingKey: () => (signing ??= createPrivateKey({ key: privateKey, format: 'jwk' })),
    };
  }
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: rsaBits(type),
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  let signing: KeyObject | undefined;
  return { publicKey: encodedSpki(publicKey, 'rsa'), pkcs8Pem: privateKey, signingKey: () => (signing ??= createPrivateKey(privateKey)) };
}

/** Node's generator with its JWK encoding (which @types/node does not declare for key pairs). */
function ed25519Jwks(): { publicKey: JsonWebKey; privateKey: JsonWebKey } {
  const generate = generateKeyPairSync as unknown as (
    type: 'ed25519',
    options: { publicKeyEncoding: { format: 'jwk' }; privateKeyEncoding: { format: 'jwk' } },
  ) => { publicKey: JsonWebKey; privateKey: JsonWebKey };
  return generate('ed25519', { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } });
}

function rsaBits(type: KeyType): number {
  switch (type) {
    case 'RSA-2048':
    case 'RSA-3072':
    case 'RSA-4096':
      return Number(type.slice(4));
    default:
      throw new Error(`unknown key type ${type}`);
  }
}
