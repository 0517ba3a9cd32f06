import { calculateJwkThumbprint, importJWK, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { newJwtSigningJwks } from '../../../../shared/domain/credentials/jwk-pair.js';

describe('newJwtSigningJwks', () => {
  it.each([
    { alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } },
    { alg: 'ES384', jwk: { kty: 'EC', crv: 'P-384' } },
    { alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519' } },
    { alg: 'RS256', jwk: { kty: 'RSA', e: 'AQAB' } },
  ] as const)('makes an $alg key whose private JWK signs a token its public JWK verifies', async ({ alg, jwk }) => {
    // Prepare
    const made = await newJwtSigningJwks(alg);
    // Act
    const token = await new SignJWT({ sub: 'operator' }).setProtectedHeader({ alg }).sign(await importJWK(made.jwk, alg));
    const { payload } = await jwtVerify(token, await importJWK(made.publicJwk, alg), { algorithms: [alg] });
    // Assess
    expect(made.jwk).toMatchObject({ ...jwk, kid: made.kid, alg, use: 'sig' });
    expect(made.jwk.d).toEqual(expect.any(String));
    expect(made.publicJwk).toMatchObject({ ...jwk, kid: made.kid, alg, use: 'sig' });
    expect(made.publicJwk.d).toBeUndefined();
    expect(made.kid).toBe(await calculateJwkThumbprint(made.publicJwk));
    expect(payload.sub).toBe('operator');
    if (alg === 'RS256') expect(Buffer.from(made.publicJwk.n ?? '', 'base64url')).toHaveLength(256);
  });

  it('makes a new key each time', async () => {
    // Act
    const [a, b] = await Promise.all([newJwtSigningJwks('EdDSA'), newJwtSigningJwks('EdDSA')]);
    // Assess
    expect(a.publicJwk.x).not.toBe(b.publicJwk.x);
  });
});
