import { generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { KeyType } from '../inventory/schema.js';

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
