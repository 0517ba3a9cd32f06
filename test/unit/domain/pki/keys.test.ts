import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateIssuedKey, generateKeyPair, keyTypeOf } from '../../../../shared/domain/pki/keys.js';
import { REPO_ROOT } from '../../../fixtures/cli.js';

const MANY_KEYS = fileURLToPath(new URL('../../../fixtures/many-keys.ts', import.meta.url));

describe('generateIssuedKey and generateKeyPair (no key object shared with a generation job)', () => {
  it.each(['ECDSA-P256', 'ECDSA-P384', 'Ed25519', 'RSA-2048'] as const)(
    '%s: the PKCS#8 PEM, the encoded public key and the signing key are one key',
    (type) => {
      // Act
      const key = generateIssuedKey(type);
      // Assess
      const fromPem = createPrivateKey(key.pkcs8Pem);
      expect(keyTypeOf(fromPem)).toBe(type);
      expect(createPublicKey(fromPem).export({ type: 'spki', format: 'der' })).toEqual(key.publicKey.spki);
      const data = Buffer.from('rekey');
      const algorithm = type === 'Ed25519' ? null : 'sha256';
      const signature = sign(algorithm, data, key.signingKey());
      expect(verify(algorithm, data, createPublicKey(key.pkcs8Pem), signature)).toBe(true);
    },
  );

  it('makes a different Ed25519 key each time', () => {
    // Act
    const [a, b] = [generateIssuedKey('Ed25519'), generateIssuedKey('Ed25519')];
    // Assess
    expect(a.publicKey.bits).toHaveLength(32);
    expect(a.publicKey.bits).not.toEqual(b.publicKey.bits);
  });

  it('generateKeyPair gives a private key and its public key', () => {
    // Act
    const { privateKey, publicKey } = generateKeyPair('ECDSA-P256');
    // Assess
    expect(createPublicKey(privateKey).export({ format: 'jwk' })).toEqual(publicKey.export({ format: 'jwk' }));
    expect(keyTypeOf(publicKey)).toBe('ECDSA-P256');
  });
});

describe('generateIssuedKey under garbage collection', () => {
  it('makes 100,000 Ed25519 keys in a row without hanging (the earlier code hung in 4 of 5 such runs on Node 20)', () => {
    // Act: in a child process, killed if it hangs
    const child = spawnSync(process.execPath, ['--import', 'tsx', MANY_KEYS, 'Ed25519', '100000'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    // Assess
    expect(child.signal).toBeNull();
    expect(child.stdout.trim()).toBe('done 100000');
  }, 150_000);
});
