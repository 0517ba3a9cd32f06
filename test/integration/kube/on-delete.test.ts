import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, eventually, kubeconfigPath, podSpec, uniqueName } from './support.js';

/**
 * StatefulSets and DaemonSets with `updateStrategy: OnDelete` on dc1 (kwok runs the pods): a rotation restarts them
 * by evicting their pods one at a time, each only once every pod is back and ready, and completes when every pod
 * was recreated from the new template. A pod list is sampled while it runs: never more than one pod of a workload
 * missing, terminating or unready at once.
 */

const ns = uniqueName('rekey-ondelete');
let admin: Admin;
let dir: string;

const inventoryText = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ondelete-it}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: root, commonName: ondelete root, key: ECDSA-P256}]
certificates:
  - name: db
    issuer: root
    usage: server
    commonName: db
    secret: {name: db-tls, namespace: ${ns}}
    consumers: [StatefulSet/db, DaemonSet/agent]
    restart: {policy: together, within: 4m}
`;

const labels = (app: string) => ({ app });
const podsOf = async (app: string): Promise<V1Pod[]> =>
  (await admin.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items;
const ready = (p: V1Pod) =>
  !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

beforeAll(async () => {
  dir = await makeTempDir('rekey-ondelete-');
  admin = await Admin.of('dc1');
  await admin.createNamespace(ns);
  const template = (app: string) => ({ metadata: { labels: labels(app) }, spec: podSpec({ volume: 'db-tls' }) });
  await admin.apply({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: ns },
    spec: {
      serviceName: 'db',
      replicas: 3,
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: labels('db') },
      template: template('db'),
    },
  });
  await admin.apply({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: ns },
    spec: { updateStrategy: { type: 'OnDelete' }, selector: { matchLabels: labels('agent') }, template: template('agent') },
  });
  await eventually('db pods ready', async () => ((await podsOf('db')).filter(ready).length === 3 ? true : undefined), 120_000);
  await eventually(
    'agent pods ready',
    async () => {
      const ds = await admin.apps.readNamespacedDaemonSet({ name: 'agent', namespace: ns });
      const want = ds.status?.desiredNumberScheduled ?? 0;
      return want > 0 && (await podsOf('agent')).filter(ready).length === want ? true : undefined;
    },
    120_000,
  );
}, 300_000);

afterAll(async () => {
  await admin?.deleteNamespace(ns);
  if (dir) await removeTempDir(dir);
});

describe('OnDelete StatefulSets and DaemonSets are restarted pod by pod', () => {
  it('every pod is evicted and recreated from the new template, one at a time; the rotation completes', async () => {
    // Prepare
    const inv = loadInventory(inventoryText);
    const rt = await composeLocal(inv, {
      stateDir: `${dir}/state`,
      target: { kind: 'kube', kubeconfig: await kubeconfigPath() },
      log: silentLogger,
    });
    try {
      await apply(rt.deps, inv);
      const uidsBefore = {
        db: (await podsOf('db')).map((p) => p.metadata!.uid!),
        agent: (await podsOf('agent')).map((p) => p.metadata!.uid!),
      };
      const desired = { db: 3, agent: uidsBefore.agent.length };
      let worst = { db: 0, agent: 0 };
      let samples = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const app of ['db', 'agent'] as const) {
            const pods = await podsOf(app);
            const down = desired[app] - pods.filter(ready).length;
            worst = { ...worst, [app]: Math.max(worst[app], down) };
          }
          samples++;
          await new Promise((r) => setTimeout(r, 100));
        }
      })();

      // Act
      const record = await startRotation(rt.deps, inv, 'db', { trigger: Trigger.Manual, reason: 'OnDelete test' });
      await driveRotations(rt.deps, inv, rt.queue);
      sampling = false;
      await sampler;

      // Assess
      const final = (await rt.deps.journal.get(record.id))!;
      expect(final.status, final.error).toBe(RotationStatus.Completed);
      expect(final.restarts.dc1).toMatchObject({
        state: 'completed',
        workloads: expect.arrayContaining([`DaemonSet/${ns}/agent`, `StatefulSet/${ns}/db`]),
      });
      const hash = rt.bus.published.find((e) => e.type === EventType.RestartRequested)!.detail.versionsHash;
      for (const app of ['db', 'agent'] as const) {
        const pods = await podsOf(app);
        expect(pods.filter(ready), app).toHaveLength(desired[app]);
        for (const p of pods) {
          expect(p.metadata?.annotations?.['rekey/versions'], `${app}: ${p.metadata?.name}`).toBe(hash);
          expect(uidsBefore[app], `${app}: ${p.metadata?.name} is a new pod`).not.toContain(p.metadata!.uid);
        }
      }
      expect(samples).toBeGreaterThan(3);
      expect(worst.db).toBeLessThanOrEqual(1);
      expect(worst.agent).toBeLessThanOrEqual(1);
    } finally {
      await rt.close();
    }
  });
});
