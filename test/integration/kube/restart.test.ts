import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { findUnlistedConsumers } from '../../../shared/app/restart/index.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { EventType, type RekeyEvent } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, CONTEXTS, deploymentObject, kubeconfigPath, podSpec, recordingLogger, rolledOut, uniqueName } from './support.js';

const inventoryText = (ns: string, restart: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: restart-it}
clusters: [{name: dc1, context: dc1}, {name: dc2, context: dc2}]
authorities: [{name: root, commonName: restart-it root, key: ECDSA-P256}]
certificates:
  - name: server
    issuer: root
    usage: server
    commonName: server
    secret: {name: server-tls, namespace: ${ns}}
    consumers: [Deployment/apim, {selector: app.kubernetes.io/part-of=portal}]
    restart: ${restart}
`;

/** Deployments in both clusters: two listed consumers (by name, by selector), one unlisted user, one bystander. */
async function deployWorkloads(admin: Admin, ns: string, options: { pauseApim?: boolean } = {}) {
  await admin.apply(deploymentObject(ns, 'apim', { tier: 'api' }, podSpec({ volume: 'server-tls' })));
  await admin.apply(
    deploymentObject(ns, 'portal-www', { 'app.kubernetes.io/part-of': 'portal' }, podSpec({ projected: 'server-tls' }), { replicas: 2 }),
  );
  await admin.apply(deploymentObject(ns, 'unlisted', { tier: 'batch' }, podSpec({ volume: 'server-tls' })));
  await admin.apply(deploymentObject(ns, 'bystander', { tier: 'web' }, podSpec({})));
  for (const name of ['apim', 'portal-www', 'unlisted', 'bystander']) await rolledOut(admin, ns, name);
  if (options.pauseApim) await admin.mergePatchDeployment(ns, 'apim', { spec: { paused: true } });
}

const generations = async (admin: Admin, ns: string) =>
  Object.fromEntries(
    await Promise.all(
      ['apim', 'portal-www', 'unlisted', 'bystander'].map(async (n) => [n, (await admin.deployment(ns, n)).metadata!.generation!] as const),
    ),
  );

const restartEvents = (events: readonly RekeyEvent[]) =>
  events
    .filter((e) => e.type.startsWith('Restart'))
    .map((e) => `${e.type} ${String(e.detail.cluster)}`)
    .sort();

describe('rotation restarts exactly the listed consumers in both clusters (together)', () => {
  const ns = uniqueName('rekey-restart');
  let admins: Record<(typeof CONTEXTS)[number], Admin>;
  let dir: string;
  let kubeconfig: string;
  const opened: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    dir = await makeTempDir();
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    for (const a of Object.values(admins)) {
      await a.createNamespace(ns);
      await deployWorkloads(a, ns);
    }
  });
  afterEach(async () => {
    for (const close of opened.splice(0)) await close();
  });
  afterAll(async () => {
    for (const a of Object.values(admins ?? {})) await a.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('restarts apim and the portal (selector), not the others; every rollout completes; the events and journal show it', async () => {
    // Prepare
    const inv = loadInventory(inventoryText(ns, '{policy: together, within: 3m}'));
    const log = recordingLogger();
    const rt = await composeLocal(inv, { stateDir: `${dir}/state`, target: { kind: 'kube', kubeconfig }, log });
    opened.push(rt.close);
    await apply(rt.deps, inv);
    const before = { dc1: await generations(admins.dc1, ns), dc2: await generations(admins.dc2, ns) };
    // Act
    const record = await startRotation(rt.deps, inv, 'server', { trigger: Trigger.Manual, reason: 'integration test' });
    await driveRotations(rt.deps, inv, rt.queue);
    // Assess
    const final = (await rt.deps.journal.get(record.id))!;
    expect(final.status, final.error).toBe(RotationStatus.Completed);
    expect(final.restarts.dc1?.state).toBe('completed');
    expect(final.restarts.dc2?.state).toBe('completed');
    expect(final.restarts.dc1?.workloads).toEqual([`Deployment/${ns}/apim`, `Deployment/${ns}/portal-www`]);
    expect(restartEvents(rt.bus.published)).toEqual([
      'RestartCompleted dc1',
      'RestartCompleted dc2',
      'RestartRequested dc1',
      'RestartRequested dc2',
    ]);
    const requested = rt.bus.published.filter((e) => e.type === EventType.RestartRequested);
    expect(new Set(requested.map((e) => e.detail.versionsHash)).size).toBe(1);
    expect(requested.every((e) => e.detail.rotationId === record.id)).toBe(true);
    for (const c of CONTEXTS) {
      const after = await generations(admins[c], ns);
      expect(after).toEqual({ ...before[c], apim: before[c].apim! + 1, 'portal-www': before[c]['portal-www']! + 1 });
      for (const name of ['apim', 'portal-www']) {
        const d = await rolledOut(admins[c], ns, name, 5_000); // already done: the worker waited for it
        expect(d.spec?.template?.metadata?.annotations).toMatchObject({ 'rekey/versions': requested[0]!.detail.versionsHash });
      }
      for (const name of ['unlisted', 'bystander'])
        expect((await admins[c].deployment(ns, name)).spec?.template?.metadata?.annotations?.['rekey/versions']).toBeUndefined();
    }
  });

  it('a repeated restart request with the same versions changes nothing (NotUpdated)', async () => {
    // Prepare
    const inv = loadInventory(inventoryText(ns, 'together'));
    const rt = await composeLocal(inv, { stateDir: `${dir}/state`, target: { kind: 'kube', kubeconfig }, log: recordingLogger() });
    opened.push(rt.close);
    const hash = (await admins.dc1.deployment(ns, 'apim')).spec!.template.metadata!.annotations!['rekey/versions']!;
    const generation = (await admins.dc1.deployment(ns, 'apim')).metadata!.generation;
    // Act
    const outcome = await rt.deps.clusters
      .get('dc1')!
      .workloads!.restart({ kind: 'Deployment', namespace: ns, name: 'apim' }, hash, new Date());
    // Assess
    expect(outcome).toBe('NotUpdated');
    expect((await admins.dc1.deployment(ns, 'apim')).metadata!.generation).toBe(generation);
  });

  it('finds the workload that uses the Secret without being listed, in both clusters', async () => {
    // Prepare
    const inv = loadInventory(inventoryText(ns, 'together'));
    const rt = await composeLocal(inv, {
      stateDir: `${dir}/state`,
      target: { kind: 'kube', kubeconfig },
      log: recordingLogger(),
      readOnly: true,
    });
    opened.push(rt.close);
    // Act
    const unlisted = await findUnlistedConsumers(rt.deps, inv);
    // Assess
    expect(unlisted.map((u) => `${u.cluster} ${u.workload} ${u.secret} ${u.via}`).sort()).toEqual([
      `dc1 Deployment/${ns}/unlisted server-tls volume`,
      `dc2 Deployment/${ns}/unlisted server-tls volume`,
    ]);
  });
});

describe('together/within: a rollout held back in dc2 fails the run by the deadline', () => {
  const ns = uniqueName('rekey-held');
  let admins: Record<(typeof CONTEXTS)[number], Admin>;
  let dir: string;
  let kubeconfig: string;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    dir = await makeTempDir();
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    await admins.dc1.createNamespace(ns);
    await admins.dc2.createNamespace(ns);
    await deployWorkloads(admins.dc1, ns);
    await deployWorkloads(admins.dc2, ns, { pauseApim: true });
  });
  afterAll(async () => {
    await close?.();
    for (const a of Object.values(admins ?? {})) await a.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('dc1 completes, dc2 fails loudly at the deadline, the new version stays current and written everywhere', async () => {
    // Prepare
    const WITHIN_S = 30;
    const inv = loadInventory(inventoryText(ns, `{policy: together, within: ${WITHIN_S}s}`));
    const log = recordingLogger();
    const rt = await composeLocal(inv, { stateDir: `${dir}/state`, target: { kind: 'kube', kubeconfig }, log });
    close = rt.close;
    await apply(rt.deps, inv);
    const started = Date.now();
    // Act
    const record = await startRotation(rt.deps, inv, 'server', { trigger: Trigger.Manual, reason: 'held rollout' });
    await driveRotations(rt.deps, inv, rt.queue);
    // Assess
    const elapsed = Date.now() - started;
    const final = (await rt.deps.journal.get(record.id))!;
    expect(final.status).toBe(RotationStatus.Failed);
    expect(final.error).toMatch(/dc2/);
    expect(final.restarts.dc1?.state).toBe('completed');
    expect(final.restarts.dc2).toMatchObject({
      state: 'failed',
      message: expect.stringMatching(new RegExp(`Deployment/${ns}/apim: not done by .*paused`)),
    });
    expect(elapsed).toBeLessThan((WITHIN_S + 60) * 1000);
    const failed = rt.bus.published.filter((e) => e.type === EventType.RestartFailed);
    expect(failed.map((e) => [e.detail.cluster, e.detail.failed])).toEqual([['dc2', [`Deployment/${ns}/apim`]]]);
    expect(log.lines.some((l) => l.level === 'error' && l.message === 'restart failed')).toBe(true);
    // nothing lost: the new version is current and in every Secret; the portal in dc2 did restart
    expect((await rt.deps.store.getVersion('rekey/restart-it/server', { stage: Stage.Current }))?.versionId).toBe(record.id);
    for (const c of CONTEXTS) {
      const s = await admins[c].core.readNamespacedSecret({ name: 'server-tls', namespace: ns });
      expect(s.metadata?.annotations?.['rekey/version']).toBe(record.id);
    }
    expect(failed[0]!.detail.restarted).toEqual([`Deployment/${ns}/portal-www`]);
  });
});
