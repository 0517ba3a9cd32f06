import { randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import type { Credential } from '../inventory/model.js';
import type { SigningKeyMaterial, TokenMaterial } from '../store/material.js';

/** The issuer a token names when the inventory gives none. */
export const defaultTokenIssuer = (inventory: string): string => `rekey/${inventory}`;

/**
 * Mints the JWT of a `jwt-token` credential with the signing key's active key: its claims (sub, aud, scope, iss),
 * plus iat, nbf, exp (now + lifetime) and a fresh jti; the header names the key (`kid`) so verifiers pick it from
 * the published key set.
 */
export async function mintToken(
  item: Credential,
  key: SigningKeyMaterial,
  inventory: string,
  now: Date,
  specHash: string,
): Promise<TokenMaterial> {
  const spec = item.token;
  if (!spec) throw new Error(`${item.name} is not a jwt-token`);
  // jose is loaded by the first token minted, not at import (the functions' cold start).
  const { importJWK, SignJWT } = await import('./jose-lazy.js');
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + Math.ceil(spec.lifetimeMs / 1000);
  const { iss, sub, aud, scope } = spec.claims;
  let jwt = new SignJWT(scope !== undefined ? { scope } : {})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(iss ?? defaultTokenIssuer(inventory))
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(randomUUID());
  if (sub !== undefined) jwt = jwt.setSubject(sub);
  if (aud !== undefined) jwt = jwt.setAudience(aud);
  const token = await jwt.sign(await importJWK(key.jwk as JWK, key.alg));
  return {
    type: 'token',
    token,
    signingKey: spec.signingKey,
    kid: key.kid,
    expiresAt: new Date(exp * 1000).toISOString(),
    createdAt: now.toISOString(),
    specHash,
  };
}
