// Consumers per cluster (seed 002, 2DC-HA): a consumer listed for one site is restarted there and neither restarted
// nor reported missing on the other; plan shows the per-cluster map. Real dc1 + dc2, each running only its own site's
// workloads, as a 2DC-HA installation does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { plan } from '../../../shared/app/plan.js';
import { findUnlistedConsumers } from '../../../shared/app/restart/index.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, CONTEXTS, deploymentObject, kubeconfigPath, podSpec, recordingLogger, rolledOut, uniqueName } from './support.js';

const inventoryText = (ns: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: per-cluster-it}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities: [{name: management-ca, commonName: management-ca, key: ECDSA-P256}]
certificates:
  - name: management-client
    issuer: management-ca
    usage: client
    commonName: management-client
    secret: {name: management-client, namespace: ${ns}}
    consumers: [Deployment/apim, {ref: Deployment/management-tunnel, clusters: [dc1]}]
    restart: {policy: together, within: 3m}
  - name: management-server
    issuer: management-ca
    usage: server
    commonName: management-server
    secret: {name: management-server, namespace: ${ns}}
    consumers: [Deployment/apim, {ref: Deployment/management-remote-sitename-postgres, clusters: [dc2]}]
    restart: {policy: together, within: 3m}
`;

/** What each site runs: apim on both, the tunnel on the active site (dc1), the remote postgres on the standby (dc2). */
const SITE: Record<(typeof CONTEXTS)[number], string[]> = {
  dc1: ['apim', 'management-tunnel'],
  dc2: ['apim', 'management-remote-sitename-postgres'],
};

/** The Secret each workload mounts (so none of them is an unlisted consumer where it runs). */
const MOUNTS: Record<string, string> = {
  apim: 'management-server',
  'management-tunnel': 'management-client',
  'management-remote-sitename-postgres': 'management-server',
};

describe('consumers per cluster on dc1 + dc2 (2DC-HA)', () => {
  const ns = uniqueName('rekey-percluster');
  let admins: Record<(typeof CONTEXTS)[number], Admin>;
  let dir: string;
  let kubeconfig: string;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    dir = await makeTempDir();
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    for (const c of CONTEXTS) {
      await admins[c].createNamespace(ns);
      for (const name of SITE[c]) {
        await admins[c].apply(deploymentObject(ns, name, { app: name }, podSpec({ volume: MOUNTS[name] })));
      }
      for (const name of SITE[c]) await rolledOut(admins[c], ns, name);
    }
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    for (const a of Object.values(admins ?? {})) await a.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it.each([
    ['management-client', { dc1: ['apim', 'management-tunnel'], dc2: ['apim'] }],
    ['management-server', { dc1: ['apim'], dc2: ['apim', 'management-remote-sitename-postgres'] }],
  ] as const)("rotating %s restarts each site's own consumers, and nothing is missing on the other site", async (name, expected) => {
    // Prepare
    const inv = loadInventory(inventoryText(ns));
    const rt = await composeLocal(inv, { stateDir: `${dir}/state`, target: { kind: 'kube', kubeconfig }, log: recordingLogger() });
    closers.push(rt.close);
    await apply(rt.deps, inv);
    const start = rt.bus.published.length;
    // Act
    const record = await startRotation(rt.deps, inv, name, { trigger: Trigger.Manual, reason: 'integration test' });
    await driveRotations(rt.deps, inv, rt.queue);
    // Assess
    const final = (await rt.deps.journal.get(record.id))!;
    expect(final.status, final.error).toBe(RotationStatus.Completed);
    const completed = rt.bus.published
      .slice(start)
      .filter((e) => e.type === EventType.RestartCompleted && e.detail.rotationId === record.id);
    for (const c of CONTEXTS) {
      const done = completed.find((e) => e.detail.cluster === c);
      expect(done?.detail.workloads).toEqual(expected[c].map((w) => `Deployment/${ns}/${w}`));
      expect(done?.detail.missing).toEqual([]);
      expect(final.restarts[c]?.state).toBe('completed');
      for (const w of expected[c]) {
        const annotations = (await admins[c].deployment(ns, w)).spec?.template?.metadata?.annotations;
        expect(annotations?.['rekey/versions'], `${c} ${w}`).toBe(done?.detail.versionsHash);
      }
    }
  });

  it('plan shows the per-cluster consumer map, and the site-only workloads are not reported as unlisted', async () => {
    // Prepare
    const inv = loadInventory(inventoryText(ns));
    const rt = await composeLocal(inv, {
      stateDir: `${dir}/state`,
      target: { kind: 'kube', kubeconfig },
      log: recordingLogger(),
      readOnly: true,
    });
    closers.push(rt.close);
    // Act
    const p = await plan(rt.deps, inv);
    const unlisted = await findUnlistedConsumers(rt.deps, inv);
    // Assess
    expect(p.consumers.map((c) => `${c.item} ${c.cluster}: ${c.consumers.join(', ')}`)).toEqual([
      'management-client dc1: Deployment/apim, Deployment/management-tunnel',
      'management-client dc2: Deployment/apim',
      'management-server dc1: Deployment/apim',
      'management-server dc2: Deployment/apim, Deployment/management-remote-sitename-postgres',
    ]);
    expect(unlisted).toEqual([]);
  });
});
