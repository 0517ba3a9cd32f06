import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCertificate } from '../../../../shared/domain/pki/certificate.js';
import { ecKeyMatchesCertificate } from '../../../../shared/domain/pki/key-match.js';
import { generateIssuedKey, privateKeyToPem } from '../../../../shared/domain/pki/keys.js';
import { nodeKeyPair } from '../../../fixtures/keys.js';

const NOW = new Date('2030-01-01T00:00:00Z');

function selfSigned(type: 'ECDSA-P256' | 'ECDSA-P384' | 'Ed25519') {
  const key = generateIssuedKey(type);
  const built = buildCertificate({
    subject: { commonName: 'm' },
    publicKey: key.publicKey,
    selfSigningKey: key.signingKey(),
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 86_400_000),
    profile: { kind: 'authority' },
  });
  return { key, built };
}

describe('ecKeyMatchesCertificate', () => {
  it.each(['ECDSA-P256', 'ECDSA-P384'] as const)(
    "%s: true for the certificate's own key, false for another key of the curve, as OpenSSL says",
    (type) => {
      // Prepare
      const { key, built } = selfSigned(type);
      const other = generateIssuedKey(type);
      const x = new X509Certificate(built.der);
      // Act + Assess
      expect(ecKeyMatchesCertificate(built.der, key.pkcs8Pem)).toBe(true);
      expect(ecKeyMatchesCertificate(built.der, other.pkcs8Pem)).toBe(false);
      expect(x.checkPrivateKey(other.signingKey())).toBe(false);
    },
  );

  it('a key of the other curve does not match', () => {
    const { built } = selfSigned('ECDSA-P256');
    expect(ecKeyMatchesCertificate(built.der, generateIssuedKey('ECDSA-P384').pkcs8Pem)).toBe(false);
  });

  it('leaves what it does not read to OpenSSL: Ed25519 and RSA keys, SEC1 PEM, junk', () => {
    const { built } = selfSigned('ECDSA-P256');
    const rsa = nodeKeyPair('rsa', { modulusLength: 1024 });
    const sec1 = nodeKeyPair('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    expect(ecKeyMatchesCertificate(built.der, generateIssuedKey('Ed25519').pkcs8Pem)).toBeUndefined();
    expect(ecKeyMatchesCertificate(built.der, privateKeyToPem(rsa.privateKey))).toBeUndefined();
    expect(ecKeyMatchesCertificate(built.der, sec1)).toBeUndefined();
    expect(ecKeyMatchesCertificate(built.der, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).toBeUndefined();
  });
});
