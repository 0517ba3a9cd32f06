import { generateKeyPair, type JsonWebKey } from 'node:crypto';
import type { JWK } from 'jose';

export type JwtAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256';

/** A new JWT signing key: its private JWK and public JWK, both carrying the kid (RFC 7638 thumbprint), alg and use. */
export interface JwtSigningJwks {
  readonly kid: string;
  readonly jwk: JWK;
  readonly publicJwk: JWK;
}

/**
 * A new key for a JWT algorithm, straight from Node's generator in its JWK encoding: no key object is made, so none
 * is exported later. Why not jose's generateKeyPair + exportJWK: Node's JWK export of a key holds the key's lock
 * while it allocates the strings; a garbage collection then may finalize the generation job of that same key, whose
 * destructor takes the same lock, and the process hangs for good (seen on Node 20.20: `ExportJWKEdKey` under
 * `~KeyGenJob<NidKeyPairGenTraits>`, a test worker stuck at 0% CPU).
 */
export async function newJwtSigningJwks(algorithm: JwtAlgorithm): Promise<JwtSigningJwks> {
  const encoding = { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } };
  // @types/node does not declare the JWK encoding for key pairs.
  const generate = generateKeyPair as unknown as (
    type: string,
    options: object,
    done: (e: Error | null, publicKey: JsonWebKey, privateKey: JsonWebKey) => void,
  ) => void;
  const { publicKey, privateKey } = await new Promise<{ publicKey: JsonWebKey; privateKey: JsonWebKey }>((resolve, reject) => {
    const done = (e: Error | null, publicKey: JsonWebKey, privateKey: JsonWebKey) => (e ? reject(e) : resolve({ publicKey, privateKey }));
    if (algorithm === 'EdDSA') generate('ed25519', encoding, done);
    else if (algorithm === 'RS256') generate('rsa', { modulusLength: 2048, ...encoding }, done);
    else generate('ec', { namedCurve: algorithm === 'ES256' ? 'P-256' : 'P-384', ...encoding }, done);
  });
  // jose is loaded by the first signing key made, not at import (the functions' cold start).
  const { calculateJwkThumbprint } = await import('./jose-lazy.js');
  const kid = await calculateJwkThumbprint(publicKey);
  const labels = { kid, alg: algorithm, use: 'sig' };
  return { kid, jwk: { ...(privateKey as JWK), ...labels }, publicJwk: { ...(publicKey as JWK), ...labels } };
}
