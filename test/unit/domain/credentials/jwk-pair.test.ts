import { exportJWK, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateJwtKeyPair } from '../../../../shared/domain/credentials/jwk-pair.js';

describe('generateJwtKeyPair', () => {
  it.each([
    { alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } },
    { alg: 'ES384', jwk: { kty: 'EC', crv: 'P-384' } },
    { alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519' } },
    { alg: 'RS256', jwk: { kty: 'RSA', e: 'AQAB' } },
  ] as const)('makes an $alg pair whose private JWK signs a token its public key verifies', async ({ alg, jwk }) => {
    // Prepare
    const { privateKey, publicKey } = await generateJwtKeyPair(alg);
    // Act
    const exported = await exportJWK(privateKey);
    const token = await new SignJWT({ sub: 'operator' }).setProtectedHeader({ alg }).sign(privateKey);
    const { payload } = await jwtVerify(token, publicKey, { algorithms: [alg] });
    // Assess
    expect(exported).toMatchObject(jwk);
    expect(exported.d).toEqual(expect.any(String));
    expect((await exportJWK(publicKey)).d).toBeUndefined();
    expect(payload.sub).toBe('operator');
    if (alg === 'RS256') expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('makes a new key each time', async () => {
    // Act
    const [a, b] = await Promise.all([generateJwtKeyPair('EdDSA'), generateJwtKeyPair('EdDSA')]);
    // Assess
    expect((await exportJWK(a.publicKey)).x).not.toBe((await exportJWK(b.publicKey)).x);
  });
});
