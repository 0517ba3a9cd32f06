import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalHostFiles } from '../../../shared/adapters/local/host-files.js';
import { apply } from '../../../shared/app/apply.js';
import { MaterialReader } from '../../../shared/app/materials.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

// Issue 14, target 1: apply does not keep every leaf it issued in memory to the end of the run.
const inventoryIn = (root: string): Inventory =>
  loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: mem}
clusters: [{name: dc1}]
authorities:
  - {name: root, commonName: root, key: ECDSA-P256, secret: {name: root-ca, namespace: mem}}
certificates:
  - {name: web, issuer: root, usage: server, commonName: web, dnsNames: [web], secret: {name: web, namespace: mem}}
  - {name: api, issuer: root, usage: client, commonName: api, secret: {name: api, namespace: mem}}
  - {name: proxy, issuer: root, usage: server, commonName: proxy, dnsNames: [proxy], secret: {name: proxy, namespace: mem}, files: {dir: ${join(root, 'tls')}, cert: server.crt, key: server.key}}
`);

let root: string;
let rt: TestRuntime;
let inventory: Inventory;
beforeEach(async () => {
  root = await makeTempDir('rekey-apply-release-');
  inventory = inventoryIn(root);
  rt = localRuntime(inventory, root);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await removeTempDir(root);
});

describe('apply forgets a leaf once its Secrets are written', () => {
  it('releases the leaves that only have Secrets, keeps the CA and the leaf with host files, and writes every Secret and file from the stored version', async () => {
    // Prepare
    const released: string[] = [];
    const real = MaterialReader.prototype.release;
    vi.spyOn(MaterialReader.prototype, 'release').mockImplementation(function (this: MaterialReader, name: string) {
      released.push(name);
      real.call(this, name);
    });
    // Act
    await mkdir(rt.stateDir, { recursive: true });
    const result = await apply({ ...rt.deps, hostFiles: new LocalHostFiles({ stateDir: rt.stateDir }) }, inventory);
    // Assess
    expect(result.problems).toEqual([]);
    expect(released.sort()).toEqual(['rekey/mem/api', 'rekey/mem/web']);
    for (const name of ['web', 'api', 'proxy']) {
      const stored = await rt.deps.store.getVersion(`rekey/mem/${name}`, { stage: Stage.Current });
      const manifest = await readFile(join(root, 'out', 'dc1', 'mem', `${name}.yaml`), 'utf8');
      expect(manifest).toContain(`rekey/version: ${stored?.versionId}`);
    }
    const proxy = JSON.parse((await rt.deps.store.getVersion('rekey/mem/proxy', { stage: Stage.Current }))!.value) as { cert: string };
    expect(await readFile(join(root, 'tls', 'server.crt'), 'utf8')).toContain(proxy.cert);
  });
});
