import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClusters } from '../../../shared/adapters/kube/index.js';
import type { Deps } from '../../../shared/app/deps.js';
import { pauseOwner, resumeOwner } from '../../../shared/app/pause/index.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Credential } from '../../../shared/domain/inventory/model.js';
import { Admin, CONTEXTS, kubeconfigPath, recordingLogger, uniqueName } from './support.js';
import { createPostgres, installPostgresCrd } from './crd.js';

/** Seed 001: pause the Postgres owner before the password changes, resume it after; a CRD installed by the test. */
describe('pause and resume of a custom resource in both clusters', () => {
  const ns = uniqueName('rekey-pause');
  let admins: Record<(typeof CONTEXTS)[number], Admin>;
  let deps: Deps;

  const inv = () =>
    loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: pause-it}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
credentials:
  - name: apicuser
    type: password
    secret: {name: apicuser, namespace: ${ns}}
    pause:
      object: {apiVersion: kubedb.com/v1, kind: Postgres, name: pg}
      patch: {metadata: {annotations: {rekey/paused: "true"}}, spec: {halted: true}}
      resume: {metadata: {annotations: {rekey/paused: null}}, spec: {halted: null}}
`);
  // CustomObjectsApi returns the object as sent (KubernetesObjectApi.read would drop fields it has no type for).
  const read = (a: Admin) =>
    a.kc
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ group: 'kubedb.com', version: 'v1', namespace: ns, plural: 'postgreses', name: 'pg' }) as Promise<{
      metadata: { annotations?: Record<string, string>; resourceVersion: string };
      spec: Record<string, unknown>;
    }>;

  beforeAll(async () => {
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    for (const a of Object.values(admins)) {
      await installPostgresCrd(a);
      await a.createNamespace(ns);
      await createPostgres(a, ns, 'pg');
    }
    const clusters = await connectClusters(
      [
        { name: 'dc1', context: 'dc1' },
        { name: 'dc2', context: 'dc2' },
      ],
      { kubeconfig: await kubeconfigPath(), log: recordingLogger() },
    );
    deps = { clusters, log: recordingLogger() } as unknown as Deps;
  });
  afterAll(async () => {
    for (const a of Object.values(admins ?? {})) await a.deleteNamespace(ns);
  });

  it('applies the pause patch on every cluster, idempotently, and the resume patch removes it again', async () => {
    // Prepare
    const inventory = inv();
    const credential = inventory.items.get('apicuser') as Credential;
    // Act
    const first = await pauseOwner(deps, inventory, credential);
    const versionsAfterFirst = await Promise.all(CONTEXTS.map(async (c) => (await read(admins[c])).metadata.resourceVersion));
    const second = await pauseOwner(deps, inventory, credential);
    // Assess
    expect(first).toEqual({ patched: ['dc1', 'dc2'], unreachable: [] });
    expect(second.patched).toEqual(['dc1', 'dc2']);
    for (const [i, c] of CONTEXTS.entries()) {
      const pg = await read(admins[c]);
      expect(pg.metadata.annotations).toEqual({ 'team/owner': 'db', 'rekey/paused': 'true' });
      expect(pg.spec).toEqual({ version: '16', replicas: 1, halted: true });
      expect(pg.metadata.resourceVersion).toBe(versionsAfterFirst[i]); // the second pause wrote nothing
    }
    // Act
    await resumeOwner(deps, inventory, credential);
    // Assess
    for (const c of CONTEXTS) {
      const pg = await read(admins[c]);
      expect(pg.metadata.annotations).toEqual({ 'team/owner': 'db' });
      expect(pg.spec).toEqual({ version: '16', replicas: 1 });
    }
  });

  it('names the object and the cluster when the owner is missing', async () => {
    // Prepare
    const inventory = inv();
    const credential = inventory.items.get('apicuser') as Credential;
    const missing = { ...credential, pause: { ...credential.pause!, object: { ...credential.pause!.object, name: 'nope' } } };
    // Act + Assess
    await expect(pauseOwner(deps, inventory, missing)).rejects.toThrow(
      new RegExp(`could not pause Postgres ${ns}/nope on cluster dc1 for apicuser: .*not found`),
    );
  });
});
