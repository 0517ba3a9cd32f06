import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { runMain } from '../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, eventually, kubeconfigPath, podSpec, recordingLogger, uniqueName } from './support.js';

const ready = (p: { status?: { conditions?: { type?: string; status?: string }[] }; metadata?: { deletionTimestamp?: unknown } }) =>
  !p.metadata?.deletionTimestamp && Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** Three ready bare pods `app=solo` mounting `solo-tls` in `ns`, behind a PodDisruptionBudget that allows one disruption. */
async function barePodsBehindBudget(admin: Admin, ns: string): Promise<void> {
  await admin.createNamespace(ns);
  for (const name of ['solo-a', 'solo-b', 'solo-c']) {
    await admin.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name, labels: { app: 'solo' } }, spec: podSpec({ volume: 'solo-tls' }) },
    });
  }
  await eventually('3 ready bare pods', async () => {
    const pods = (await admin.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=solo' })).items;
    return pods.filter(ready).length === 3 ? pods : undefined;
  });
  await admin.policy.createNamespacedPodDisruptionBudget({
    namespace: ns,
    body: { metadata: { name: 'solo' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'solo' } } } },
  });
  await eventually('the PDB allows one disruption', async () => {
    const pdb = await admin.policy.readNamespacedPodDisruptionBudget({ name: 'solo', namespace: ns });
    return pdb.status?.disruptionsAllowed === 1 && pdb.status.currentHealthy === 3 ? pdb : undefined;
  });
}

/** An inventory of one certificate `solo` whose consumers are the pods `app=solo` of `ns`, restarted together. */
const soloInventory = (name: string, ns: string, options: { within: string; dnsNames?: string }) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${name}}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: root, commonName: ${name} root, key: ECDSA-P256}]
certificates:
  - {name: solo, issuer: root, usage: server, commonName: solo, dnsNames: [${options.dnsNames ?? 'solo'}], secret: {name: solo-tls, namespace: ${ns}}, consumers: [{selector: app=solo}], restart: {policy: together, within: ${options.within}}}
`;

/** Done when: pods with a PodDisruptionBudget are never evicted beyond it. */
describe('bare pods behind a PodDisruptionBudget (dc1)', () => {
  const ns = uniqueName('rekey-pdb');
  let admin: Admin;
  let dir: string;
  let kubeconfig: string;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    dir = await makeTempDir();
    admin = await Admin.of('dc1');
    await barePodsBehindBudget(admin, ns);
  });
  afterAll(async () => {
    await close?.();
    await admin?.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('evicts only what the budget allows, never deletes, and fails by the deadline saying why', async () => {
    // Prepare
    const inv = loadInventory(soloInventory('pdb-it', ns, { within: '20s' }));
    const log = recordingLogger();
    const rt = await composeLocal(inv, { stateDir: `${dir}/state`, target: { kind: 'kube', kubeconfig }, log });
    close = rt.close;
    await apply(rt.deps, inv);
    const uids = new Map((await admin.core.listNamespacedPod({ namespace: ns })).items.map((p) => [p.metadata!.name!, p.metadata!.uid!]));
    let fewestReady = Infinity;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const pods = (await admin.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=solo' })).items;
        fewestReady = Math.min(fewestReady, pods.filter(ready).length);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // Act
    const record = await startRotation(rt.deps, inv, 'solo', { trigger: Trigger.Manual, reason: 'pdb' });
    await driveRotations(rt.deps, inv, rt.queue);
    watching = false;
    await watcher;
    // Assess
    const final = (await rt.deps.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.Failed);
    expect(final.restarts.dc1?.message).toMatch(/PodDisruptionBudget/);
    expect(fewestReady).toBe(2);
    const left = (await admin.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=solo' })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    expect(left).toHaveLength(2);
    for (const p of left) expect(p.metadata!.uid).toBe(uids.get(p.metadata!.name!)); // the two left were never touched
    const requests = log.requests((r) => r.path.includes('/pods'));
    expect(requests.some((r) => r.method === 'DELETE')).toBe(false);
    expect(requests.filter((r) => r.method === 'POST' && r.path.endsWith('/eviction')).length).toBeGreaterThan(3); // refused ones were retried
    const failed = rt.bus.published.find((e) => e.type === EventType.RestartFailed)!;
    expect(failed.detail.restarted).toHaveLength(1);
  });
});

describe('rekey apply reports a restart that its renewal set off and that failed (dc1)', () => {
  const ns = uniqueName('rekey-pdb-cli');
  let admin: Admin;
  let dir: string;

  beforeAll(async () => {
    dir = await makeTempDir();
    admin = await Admin.of('dc1');
    await barePodsBehindBudget(admin, ns);
  });
  afterAll(async () => {
    await admin?.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('a re-issued certificate whose consumers cannot all restart by the deadline: exit 1, the failure in the JSON result', async () => {
    // Prepare: the certificate exists (created: nothing restarts), then its names change, so apply issues it again
    const kubeconfig = await kubeconfigPath();
    const inventory = (dnsNames: string) => soloInventory('pdb-cli', ns, { within: '15s', dnsNames });
    const file = join(dir, 'inventory.yaml');
    const args = ['apply', '-f', file, '--state', join(dir, 'state'), '--kubeconfig', kubeconfig, '--json'];
    await writeFile(file, inventory('solo'));
    const first = await runMain(args);
    await writeFile(file, inventory('solo, solo.internal'));
    // Act
    const second = await runMain(args);
    // Assess
    expect(first.code, first.stderr).toBe(0);
    expect(second.code).toBe(1);
    const result = JSON.parse(second.stdout) as { restartFailures: string[]; decisions: { unit: string; action: string }[] };
    expect(result.decisions.find((d) => d.unit === 'solo')?.action).toBe('reissue');
    expect(result.restartFailures).toEqual([expect.stringMatching(/^restart failed in dc1 for solo: .*PodDisruptionBudget/)]);
  });
});
