import { createECDH, generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { KeyType } from '../inventory/schema.js';
import {
  EC_CURVES,
  ecPkcs8Pem,
  ecPrivateKeyObject,
  ecSpki,
  encodedPublicKey,
  pkcs8Pem,
  type EcCurve,
  type EncodedPublicKey,
} from './key-encoding.js';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Generates a key pair natively (forge's RSA keygen is about ten times slower and has no ECDSA/Ed25519). */
export function generateKeyPair(type: KeyType): KeyPair {
  switch (type) {
    case 'RSA-2048':
    case 'RSA-3072':
    case 'RSA-4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) });
    case 'ECDSA-P256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    case 'ECDSA-P384':
      return generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    case 'Ed25519':
      return generateKeyPairSync('ed25519');
    default: {
      const never: never = type;
      throw new Error(`unknown key type ${String(never)}`);
    }
  }
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
 * objects to build and no encoders to call (a leaf's key never signs in rekey, so it needs no KeyObject); the
 * other types go through `generateKeyPair`.
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
  const pair = generateKeyPair(type);
  return { publicKey: encodedPublicKey(pair.publicKey), pkcs8Pem: pkcs8Pem(pair.privateKey), signingKey: () => pair.privateKey };
}
