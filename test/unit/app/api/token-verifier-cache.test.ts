import { describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../../../shared/app/api/auth.js';
import { storeKeySet, type KeySet } from '../../../../shared/app/api/key-set.js';
import { ApiProblem } from '../../../../shared/app/api/problem.js';
import { mintApiToken, newApiSigningKey, saveApiSigningKey, TOKEN_AUDIENCE, tokenIssuer } from '../../../../shared/app/api/signing-key.js';
import { ChangeCounter, countWrites, STORE_READS } from '../../../../shared/app/change-counter.js';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { randomBytes } from 'node:crypto';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

/**
 * The verifier's hot path: a token verified once is remembered (no key lookup, no signature check) for as long as
 * the key set is the same and the token's exp/nbf hold; the key set is re-read when this process writes the store
 * and keeps its identity while the keys are unchanged.
 */

const T0 = new Date('2026-12-01T06:00:00Z');

/** The key set with a counter of how often a key's `kid` is looked at (only a full verification does). */
function counted(keys: KeySet): { keys: KeySet; lookups: () => number } {
  let n = 0;
  const wrapped = keys.map((k) => {
    const copy = { ...k };
    const kid = copy.kid;
    Object.defineProperty(copy, 'kid', {
      enumerable: true,
      get: () => {
        n++;
        return kid;
      },
    });
    return copy;
  });
  return { keys: wrapped, lookups: () => n };
}

describe('TokenVerifier: verified tokens remembered per key set', () => {
  it('verifies a token once; repeats cost no key lookup until the token expires (then 401 like jose)', async () => {
    // Prepare
    const material = await newApiSigningKey('ES256', T0);
    const { keys, lookups } = counted(material.keySet);
    let now = T0;
    const verifier = new TokenVerifier({ issuer: tokenIssuer('shop'), audience: TOKEN_AUDIENCE, keySet: async () => keys, now: () => now });
    const token = await mintApiToken(material, { inventory: 'shop', scopes: ['items:read'], ttlSeconds: 60, now: T0 });

    // Act
    const first = await verifier.verify(`Bearer ${token}`);
    const afterFirst = lookups();
    for (let i = 0; i < 5; i++) await verifier.verify(`Bearer ${token}`);
    const afterRepeats = lookups();
    now = new Date(T0.getTime() + (60 + 30) * 1000); // exp + the 30 s of clock tolerance
    const expired = await verifier.verify(`Bearer ${token}`).catch((e: unknown) => e);

    // Assess
    expect(first.subject).toBe('operator');
    expect(afterFirst).toBeGreaterThan(0);
    expect(afterRepeats).toBe(afterFirst);
    expect(expired).toBeInstanceOf(ApiProblem);
    expect((expired as ApiProblem).status).toBe(401);
  });

  it('forgets remembered tokens when the key set changes: a token of a removed key is refused at once', async () => {
    // Prepare
    const old = await newApiSigningKey('ES256', T0);
    const next = await newApiSigningKey('ES256', T0);
    let keys: KeySet = [...next.keySet, ...old.keySet];
    const verifier = new TokenVerifier({ issuer: tokenIssuer('shop'), audience: TOKEN_AUDIENCE, keySet: async () => keys, now: () => T0 });
    const token = await mintApiToken(old, { inventory: 'shop', scopes: ['items:read'], ttlSeconds: 600, now: T0 });
    await verifier.verify(`Bearer ${token}`);

    // Act
    keys = [...next.keySet];
    const refused = await verifier.verify(`Bearer ${token}`).catch((e: unknown) => e);

    // Assess
    expect((refused as ApiProblem).status).toBe(401);
    expect((refused as ApiProblem).message).toBe('the token was signed with an unknown key');
  });
});

describe('storeKeySet', () => {
  it('keeps the same array while the keys are unchanged, re-reads when this process writes, and sees a new key then', async () => {
    // Prepare
    const root = await makeTempDir('rekey-key-set-');
    try {
      const changes = new ChangeCounter();
      const store = countWrites(new FileVault(`${root}/vault`, randomBytes(32)), STORE_READS, changes);
      const first = await newApiSigningKey('ES256', T0);
      await saveApiSigningKey(store, 'shop', first);
      const keySet = storeKeySet(store, 'shop', { ttlMs: 3_600_000, version: () => changes.value });

      // Act
      const a = await keySet();
      const b = await keySet();
      changes.bump(); // a write that did not touch the key: re-read, same keys, same array
      const c = await keySet();
      const rotated = await newApiSigningKey('ES256', T0, first);
      await saveApiSigningKey(store, 'shop', rotated);
      const d = await keySet();

      // Assess
      expect(b).toBe(a);
      expect(c).toBe(a);
      expect(d).not.toBe(a);
      expect(d.map((k) => k.kid)).toEqual([rotated.kid, first.kid]);
    } finally {
      await removeTempDir(root);
    }
  });
});
