import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pkcs8Pem, spkiDer } from '../../../../shared/domain/pki/key-encoding.js';

describe('key encoding from JWK', () => {
  it.each([
    ['ECDSA P-256', 'ec', { namedCurve: 'prime256v1' }],
    ['ECDSA P-384', 'ec', { namedCurve: 'secp384r1' }],
    ['Ed25519', 'ed25519', {}],
    ['RSA-2048 (node encoder)', 'rsa', { modulusLength: 2048 }],
  ] as const)('%s: PKCS#8 PEM and SPKI DER are byte-identical to OpenSSL encoders', (_label, type, options) => {
    // Prepare: many keys, so leading-zero coordinates and scalars occur
    const rounds = type === 'rsa' ? 2 : 100;
    for (let i = 0; i < rounds; i++) {
      const { privateKey, publicKey } = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
      // Act
      const pem = pkcs8Pem(privateKey);
      const spki = spkiDer(publicKey);
      // Assess
      expect(pem).toBe(privateKey.export({ type: 'pkcs8', format: 'pem' }));
      expect(spki.equals(publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    }
  });
});
