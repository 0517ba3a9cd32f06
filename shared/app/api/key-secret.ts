import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../domain/sync/desired.js';
import type { SigningKeyMaterial } from '../../domain/store/material.js';
import type { SecretSink } from '../../ports/cluster.js';
import type { SecretStore } from '../../ports/secret-store.js';
import { ensureApiSigningKey, readApiSigningKey, saveApiSigningKey, signingKeyFromJwk } from './signing-key.js';

/** Keys of the signing-key Secret: the private JWK, and the public key set verifiers may read. */
export const SigningKeySecretKey = { Jwk: 'signing.jwk', Jwks: 'jwks.json' } as const;

export const SigningKeySource = { Store: 'store', Secret: 'secret', Generated: 'generated' } as const;
export type SigningKeySource = (typeof SigningKeySource)[keyof typeof SigningKeySource];

/**
 * Seed 003: the API's signing key lives in a Secret; if the Secret is missing or empty, a key is generated (or the
 * one already in the store is used) and saved into it. A key found in the Secret becomes the store's current key,
 * with the store's previous public keys kept in the set so tokens it signed stay valid.
 */
export async function syncSigningKeySecret(
  sink: SecretSink,
  ref: { namespace: string; name: string },
  store: SecretStore,
  inventory: string,
  now: Date,
): Promise<{ material: SigningKeyMaterial; source: SigningKeySource }> {
  const observed = await sink.getSecret(ref.namespace, ref.name);
  const text = observed?.data[SigningKeySecretKey.Jwk]?.trim();
  if (text) {
    const fromSecret = await signingKeyFromJwk(text, now);
    const stored = await readApiSigningKey(store, inventory);
    if (stored?.kid === fromSecret.kid) return { material: stored, source: SigningKeySource.Secret };
    const material = { ...fromSecret, keySet: [...fromSecret.keySet, ...(stored?.keySet ?? []).filter((k) => k.kid !== fromSecret.kid)] };
    await saveApiSigningKey(store, inventory, material);
    return { material, source: SigningKeySource.Secret };
  }
  const { material, generated } = await ensureApiSigningKey(store, inventory, { now });
  await sink.writeSecret(
    {
      name: ref.name,
      namespace: ref.namespace,
      type: 'Opaque',
      data: {
        [SigningKeySecretKey.Jwk]: JSON.stringify(material.jwk),
        [SigningKeySecretKey.Jwks]: JSON.stringify({ keys: material.keySet }),
      },
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { 'rekey/inventory': inventory, 'rekey/item': '_api/jwt-signing-key', 'rekey/kid': material.kid },
    },
    // An empty Secret someone made for the key is filled in (seed 003), even without rekey's label.
    { adopt: true, ...(observed && { expected: observed }) },
  );
  return { material, source: generated ? SigningKeySource.Generated : SigningKeySource.Store };
}
