import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pkcs8Pem, spkiDer } from '../../../../shared/domain/pki/key-encoding.js';
import { generateIssuedKey } from '../../../../shared/domain/pki/keys.js';
import { nodeKeyPair } from '../../../fixtures/keys.js';

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
      const { privateKey, publicKey } = nodeKeyPair(type, options);
      // Act
      const pem = pkcs8Pem(privateKey);
      const spki = spkiDer(publicKey);
      // Assess
      expect(pem).toBe(privateKey.export({ type: 'pkcs8', format: 'pem' }));
      expect(spki.equals(publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    }
  });
});

describe('generateIssuedKey', () => {
  it.each(['ECDSA-P256', 'ECDSA-P384', 'Ed25519'] as const)(
    '%s: PKCS#8 PEM and SPKI are what OpenSSL writes for the same key; the signing key signs for it',
    (type) => {
      // Many keys, so short scalars (leading zero bytes) occur
      for (let i = 0; i < (type === 'Ed25519' ? 20 : 300); i++) {
        // Act
        const key = generateIssuedKey(type);
        // Assess
        const parsed = createPrivateKey(key.pkcs8Pem);
        expect(parsed.export({ type: 'pkcs8', format: 'pem' })).toBe(key.pkcs8Pem);
        expect(createPublicKey(parsed).export({ type: 'spki', format: 'der' }).equals(key.publicKey.spki)).toBe(true);
        if (i < 3) {
          const signature = sign(type === 'Ed25519' ? null : 'sha256', Buffer.from('x'), key.signingKey());
          expect(verify(type === 'Ed25519' ? null : 'sha256', Buffer.from('x'), createPublicKey(parsed), signature)).toBe(true);
        }
      }
    },
  );
});
