import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { defined } from '../../../shared/domain/defined.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, eventually, kubeconfigPath, podSpec, recordingLogger, uniqueName } from './support.js';

/**
 * An OnDelete StatefulSet behind a PodDisruptionBudget that allows no disruption (dc1, kwok runs the pods): rekey's
 * restart evicts through the Eviction API, so the budget refuses every eviction; the restart deletes no pod, keeps
 * retrying, and fails by its deadline naming the budget. With the budget relaxed, the next rotation replaces every
 * pod one at a time and completes.
 */

const ns = uniqueName('rekey-ondelete-pdb');
const PDB = 'db-budget';
let admin: Admin;
let dir: string;

const inventoryText = (within: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ondelete-pdb-it}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: root, commonName: ondelete-pdb root, key: ECDSA-P256}]
certificates:
  - {name: db, issuer: root, usage: server, commonName: db, secret: {name: db-tls, namespace: ${ns}}, consumers: [StatefulSet/db], restart: {policy: together, within: ${within}}}
`;

const podsOf = async (): Promise<V1Pod[]> => (await admin.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=db' })).items;
const ready = (p: V1Pod) =>
  !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const uidsOf = async () => new Map((await podsOf()).map((p) => [defined(p.metadata?.name), defined(p.metadata?.uid)]));

/** The fewest ready pods seen while `run` runs (sampled every 100 ms). */
async function fewestReadyDuring(run: () => Promise<void>): Promise<{ fewest: number; samples: number }> {
  let fewest = Infinity;
  let samples = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      fewest = Math.min(fewest, (await podsOf()).filter(ready).length);
      samples++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await run();
  } finally {
    watching = false;
    await watcher;
  }
  return { fewest, samples };
}

beforeAll(async () => {
  dir = await makeTempDir('rekey-ondelete-pdb-');
  admin = await Admin.of('dc1');
  await admin.createNamespace(ns);
  await admin.apply({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: ns },
    spec: {
      serviceName: 'db',
      replicas: 3,
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: { app: 'db' } },
      template: { metadata: { labels: { app: 'db' } }, spec: podSpec({ volume: 'db-tls' }) },
    },
  });
  await eventually('db pods ready', async () => ((await podsOf()).filter(ready).length === 3 ? true : undefined), 120_000);
  await admin.policy.createNamespacedPodDisruptionBudget({
    namespace: ns,
    body: { metadata: { name: PDB }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'db' } } } },
  });
  await eventually('the budget sees 3 healthy pods and allows no disruption', async () => {
    const pdb = await admin.policy.readNamespacedPodDisruptionBudget({ name: PDB, namespace: ns });
    return pdb.status?.currentHealthy === 3 && pdb.status.disruptionsAllowed === 0 ? pdb : undefined;
  });
}, 300_000);

afterAll(async () => {
  await admin?.deleteNamespace(ns);
  if (dir) await removeTempDir(dir);
});

describe('an OnDelete StatefulSet behind a PodDisruptionBudget (dc1)', () => {
  it('a budget allowing no disruption: no pod is deleted or evicted, the restart fails by its deadline naming the budget; relaxed, the next rotation completes', async () => {
    // Prepare
    const log = recordingLogger();
    const rt = await composeLocal(loadInventory(inventoryText('20s')), {
      stateDir: `${dir}/state`,
      target: { kind: 'kube', kubeconfig: await kubeconfigPath() },
      log,
    });
    try {
      const blocked = loadInventory(inventoryText('20s'));
      await apply(rt.deps, blocked);
      const before = await uidsOf();
      expect(before.size).toBe(3);

      // Act: the budget refuses every eviction
      const record = await startRotation(rt.deps, blocked, 'db', { trigger: Trigger.Manual, reason: 'pdb blocks' });
      const held = await fewestReadyDuring(() => driveRotations(rt.deps, blocked, rt.queue));

      // Assess: failed by the deadline, naming the budget; every pod still the one it was
      const failed = defined(await rt.deps.journal.get(record.id));
      expect(failed.status).toBe(RotationStatus.Failed);
      expect(failed.restarts.dc1?.message).toMatch(/not done by/);
      expect(failed.restarts.dc1?.message).toMatch(/PodDisruptionBudget/);
      expect(failed.restarts.dc1?.message).toContain(PDB);
      expect(held.samples).toBeGreaterThan(3);
      expect(held.fewest).toBe(3);
      expect(await uidsOf()).toEqual(before);
      const podRequests = log.requests((r) => r.path.includes('/pods'));
      expect(podRequests.some((r) => r.method === 'DELETE')).toBe(false);
      expect(podRequests.filter((r) => r.method === 'POST' && r.path.endsWith('/eviction')).length).toBeGreaterThan(1); // retried

      // Act again: the budget relaxed to one pod at a time, a new rotation with a longer deadline
      await admin.policy.patchNamespacedPodDisruptionBudget({
        name: PDB,
        namespace: ns,
        body: [{ op: 'replace', path: '/spec/maxUnavailable', value: 1 }],
      });
      await eventually('the budget allows one disruption', async () => {
        const pdb = await admin.policy.readNamespacedPodDisruptionBudget({ name: PDB, namespace: ns });
        return pdb.status?.disruptionsAllowed === 1 ? pdb : undefined;
      });
      const relaxed = loadInventory(inventoryText('4m'));
      const again = await startRotation(rt.deps, relaxed, 'db', { trigger: Trigger.Manual, reason: 'pdb relaxed' });
      const rolled = await fewestReadyDuring(() => driveRotations(rt.deps, relaxed, rt.queue));

      // Assess: completed, every pod replaced, never more than one down
      const done = defined(await rt.deps.journal.get(again.id));
      expect(done.status, done.error).toBe(RotationStatus.Completed);
      const after = await uidsOf();
      expect(after.size).toBe(3);
      for (const [name, uid] of after) expect(before.get(name), `${name} is a new pod`).not.toBe(uid);
      expect(rolled.fewest).toBeGreaterThanOrEqual(2);
      expect(log.requests((r) => r.path.includes('/pods')).some((r) => r.method === 'DELETE')).toBe(false);
    } finally {
      await rt.close();
    }
  }, 420_000);
});
