import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FileVault } from '../../../shared/adapters/local/file-vault.js';
import { apply } from '../../../shared/app/apply.js';
import { RotationLockedError } from '../../../shared/domain/errors.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { storeNameOf } from '../../../shared/domain/units.js';
import type { RenewalEntry, RenewalIndex } from '../../../shared/ports/renewal-index.js';
import type { SecretStore } from '../../../shared/ports/secret-store.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

// Issue 14, target 1: apply writes each certificate it issues once, as current, after checking it in memory.
const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities:
  - {name: root, commonName: root, key: ECDSA-P256}
certificates:
  - {name: web, issuer: root, usage: server, commonName: web, dnsNames: [web], secret: {name: web, namespace: shop}}
  - {name: api, issuer: root, usage: client, commonName: api, secret: {name: api, namespace: shop}}
`;

let root: string;
let inventory: Inventory;
let rt: TestRuntime;
beforeEach(async () => {
  root = await makeTempDir('rekey-apply-one-write-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
});
afterEach(() => removeTempDir(root));

/** Counts the store's writes by method. */
function countingStore(store: SecretStore): { store: SecretStore; writes: string[] } {
  const writes: string[] = [];
  const counted = Object.create(store) as SecretStore;
  for (const m of ['putPending', 'putCurrent', 'promote', 'discardPending'] as const) {
    const real = store[m].bind(store) as (...a: unknown[]) => Promise<unknown>;
    (counted as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
      writes.push(`${m} ${String(args[0])}`);
      return real(...args);
    };
  }
  return { store: counted, writes };
}

describe('apply, one store write per issued unit', () => {
  it('writes each new version once, as current, and publishes its issued and promoted events together', async () => {
    // Prepare
    const { store, writes } = countingStore(rt.deps.store);
    // Act
    const result = await apply({ ...rt.deps, store }, inventory);
    // Assess
    expect(result.problems).toEqual([]);
    expect(writes.sort()).toEqual(['putCurrent rekey/shop/api', 'putCurrent rekey/shop/root', 'putCurrent rekey/shop/web']);
    const web = await rt.deps.store.describe(storeNameOf('shop', 'web'));
    expect(web?.versions.map((v) => v.stages)).toEqual([['AWSCURRENT']]);
    const types = rt.bus.published.map((e) => e.type);
    expect(types.filter((t) => t === EventType.CertificateIssued)).toHaveLength(3);
    expect(types.filter((t) => t === EventType.VersionPromoted)).toHaveLength(3);
  });

  it('tells the renewal index of each version it stores, as a promotion does', async () => {
    // Prepare: a renewal index that records what it is given (the other methods are not reached by apply)
    const noted: string[] = [];
    const renewals = {
      putRenewals: async (_inventory: string, entries: readonly RenewalEntry[]) => {
        noted.push(...entries.map((e) => `${e.unit} ${e.versionId === '' ? 'no version' : 'version'}`));
      },
    } as unknown as RenewalIndex;
    // Act
    await apply({ ...rt.deps, renewals }, inventory);
    // Assess
    expect(noted.sort()).toEqual(['rekey/shop/api version', 'rekey/shop/root version', 'rekey/shop/web version']);
  });

  it('a unit holding a pending version (a rotation) is still refused, and nothing is written for it', async () => {
    // Prepare: everything issued, then a pending version on web, and web's spec changed
    await apply(rt.deps, inventory);
    await rt.deps.store.putPending(storeNameOf('shop', 'web'), 'held-by-a-rotation', '{}');
    const changed = loadInventory(INVENTORY.replace('dnsNames: [web]', 'dnsNames: [web, web.shop]'));
    // Act
    const run = apply(rt.deps, changed);
    // Assess
    await expect(run).rejects.toBeInstanceOf(RotationLockedError);
    const web = await new FileVault(join(rt.stateDir, 'vault'), rt.key).describe(storeNameOf('shop', 'web'));
    expect(web?.versions).toHaveLength(2);
  });
});
