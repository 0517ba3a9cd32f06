import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';

export type JwtAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256';

/**
 * A new key pair for a JWT algorithm, as KeyObjects that no key generation job shares.
 *
 * Why not jose's generateKeyPair: Node's JWK export of a key holds the key's lock while it allocates the strings;
 * a garbage collection then may finalize the generation job of that same key, whose destructor takes the same lock,
 * and the process hangs for good (seen on Node 20.20: `ExportJWKEdKey` under `~KeyGenJob<NidKeyPairGenTraits>`, a
 * test worker stuck at 0% CPU). Here the job hands over DER bytes and the keys are imported from them, so the key
 * whose JWK is exported belongs to no job.
 */
export async function generateJwtKeyPair(algorithm: JwtAlgorithm): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  const encoding = {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  } as const;
  const der = await new Promise<Buffer>((resolve, reject) => {
    const done = (e: Error | null, _publicKey: Buffer, privateKey: Buffer) => (e ? reject(e) : resolve(privateKey));
    if (algorithm === 'EdDSA') generateKeyPair('ed25519', encoding, done);
    else if (algorithm === 'RS256') generateKeyPair('rsa', { modulusLength: 2048, ...encoding }, done);
    else generateKeyPair('ec', { namedCurve: algorithm === 'ES256' ? 'P-256' : 'P-384', ...encoding }, done);
  });
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
