import type { SecretStore } from '../../ports/secret-store.js';
import { readApiSigningKey } from './signing-key.js';

/**
 * The public keys tokens may be signed with, read from the store and kept for `ttlMs` so a key rotation (a new
 * active key with the old one still in the set for the overlap) is seen within that time without a store read
 * per request.
 */
export function storeKeySet(
  store: SecretStore,
  inventory: string,
  options: { ttlMs?: number; now?: () => number } = {},
): () => Promise<readonly Readonly<Record<string, unknown>>[]> {
  const ttl = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  let cached: { at: number; keys: Promise<readonly Readonly<Record<string, unknown>>[]> } | undefined;
  return () => {
    if (!cached || now() - cached.at > ttl) {
      const keys = readApiSigningKey(store, inventory).then((m) => m?.keySet ?? []);
      cached = { at: now(), keys };
      keys.catch(() => {
        cached = undefined;
      });
    }
    return cached.keys;
  };
}
