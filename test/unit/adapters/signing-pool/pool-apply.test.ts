import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SigningPool } from '../../../../shared/adapters/signing-pool/pool.js';
import { apply } from '../../../../shared/app/apply.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import { storeNameOf } from '../../../../shared/domain/units.js';
import { Stage } from '../../../../shared/ports/secret-store.js';
import { localRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const inventoryWith = (webNames: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities:
  - {name: root, commonName: root, key: ECDSA-P256}
certificates:
  - {name: web, issuer: root, usage: server, commonName: web, dnsNames: [${webNames}], secret: {name: web, namespace: shop}}
`;

let root: string;
let pool: SigningPool;
beforeEach(async () => {
  root = await makeTempDir('rekey-sign-pool-apply-');
  pool = new SigningPool({
    workers: 1,
    inProcessLeaves: 0,
    entry: { url: new URL('../../../fixtures/dying-sign-worker.mjs', import.meta.url) },
  });
});
afterEach(async () => {
  await pool.close();
  await removeTempDir(root);
});

describe('apply when a signing worker stops', () => {
  it('fails the leaf it held with a clear error and stores nothing for it: the previous version stays current', async () => {
    // Prepare: a first version of web, then a change of its names that re-issues it on the dying worker
    const first = loadInventory(inventoryWith('web'));
    const rt = localRuntime(first, root);
    expect((await apply(rt.deps, first)).problems).toEqual([]);
    const web = storeNameOf('shop', 'web');
    const before = await rt.deps.store.getVersion(web);
    const changed = loadInventory(inventoryWith('web, web.shop.svc'));
    // Act
    const result = apply({ ...rt.deps, leafOffload: pool }, changed);
    // Assess
    await expect(result).rejects.toThrow(/web: the signing worker stopped \(exit code 3\); the leaf was not issued/);
    const after = await rt.deps.store.getVersion(web);
    expect(after?.versionId).toBe(before?.versionId);
    expect(after?.value).toBe(before?.value);
    expect(await rt.deps.store.getVersion(web, { stage: Stage.Pending })).toBeUndefined();
  });
});
