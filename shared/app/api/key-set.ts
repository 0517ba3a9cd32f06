import type { SecretStore } from '../../ports/secret-store.js';
import { readApiSigningKey } from './signing-key.js';

export type KeySet = readonly Readonly<Record<string, unknown>>[];

/**
 * The public keys tokens may be signed with, read from the store and kept for `ttlMs` (and, with `version`, until
 * this process writes to the store), so a key rotation (a new active key with the old one still in the set for the
 * overlap) is seen within that time without a store read per request. A re-read that finds the same keys returns
 * the same array: the verifier keys its caches (imported keys, verified tokens) on it.
 */
export function storeKeySet(
  store: SecretStore,
  inventory: string,
  options: { ttlMs?: number; now?: () => number; version?: () => number | string } = {},
): () => Promise<KeySet> {
  const ttl = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  let cached: { at: number; version: number | string | undefined; keys: Promise<KeySet> } | undefined;
  let last: { text: string; keys: KeySet } | undefined;
  return () => {
    const version = options.version?.();
    if (!cached || now() - cached.at > ttl || cached.version !== version) {
      const keys = readApiSigningKey(store, inventory).then((m) => {
        const read = m?.keySet ?? [];
        const text = JSON.stringify(read);
        if (last?.text !== text) last = { text, keys: read };
        return last.keys;
      });
      const entry = { at: now(), version, keys };
      cached = entry;
      keys.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.keys;
  };
}
