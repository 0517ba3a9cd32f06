import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal, type LocalRuntime } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { pemBlocks } from '../../../shared/domain/pki/der.js';
import { authorityScope } from '../../../shared/domain/rotation/authority-scope.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { silentLogger } from '../../../shared/ports/logger.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { Admin, CONTEXTS, deploymentObject, kubeconfigPath, podSpec, rolledOut, uniqueName } from './support.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/apiconnect.yaml', import.meta.url));

/** Whether a bundle (PEM) verifies the chain in a tls.crt. */
function verifies(bundle: string, tlsCrt: string): boolean {
  const roots = pemBlocks(bundle).map((d) => new X509Certificate(d));
  const [leaf, ...chain] = pemBlocks(tlsCrt).map((d) => new X509Certificate(d));
  let cur = leaf!;
  for (let i = 0; i < 5; i++) {
    if (roots.some((r) => cur.checkIssued(r) && cur.verify(r.publicKey))) return true;
    const next = chain.find((c) => cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!next) return false;
    cur = next;
  }
  return false;
}

/**
 * Rotation of `management-ca` from examples/apiconnect.yaml (its own inventory name and namespace) on dc1 and dc2:
 * the Secrets are sampled while it runs, and at every sample each client's ca.crt verifies each server's tls.crt.
 */
describe('authority rotation of management-ca on dc1 + dc2', () => {
  const ns = uniqueName('rekey-ca');
  let admins: Record<(typeof CONTEXTS)[number], Admin>;
  let dir: string;
  let inventory: Inventory;
  let rt: LocalRuntime;

  beforeAll(async () => {
    dir = await makeTempDir('rekey-ca-it-');
    const text = (await readFile(EXAMPLE, 'utf8'))
      .replace('metadata: {name: apiconnect}', 'metadata: {name: ca-it}')
      .replaceAll('namespace: apic', `namespace: ${ns}`)
      .replaceAll('.apic.svc', `.${ns}.svc`);
    inventory = loadInventory(text);
    admins = { dc1: await Admin.of('dc1'), dc2: await Admin.of('dc2') };
    for (const a of Object.values(admins)) {
      await a.createNamespace(ns);
      // apim consumes management-server and the management clients; hub too.
      await a.apply(deploymentObject(ns, 'apim', {}, podSpec({ volume: 'management-server' })));
      await a.apply(deploymentObject(ns, 'hub', {}, podSpec({ volume: 'management-client' })));
    }
    for (const a of Object.values(admins)) await rolledOut(a, ns, 'apim');
    rt = await composeLocal(inventory, {
      stateDir: `${dir}/state`,
      target: { kind: 'kube', kubeconfig: await kubeconfigPath() },
      log: silentLogger,
    });
    await apply(rt.deps, inventory);
  }, 300_000);
  afterAll(async () => {
    await rt?.close();
    for (const a of Object.values(admins ?? {})) await a.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it('keeps every client trusting every server at every sample, restarts trust consumers before re-issuing, in both clusters', async () => {
    // Prepare
    const scope = authorityScope(inventory, inventory.items.get('management-ca') as never);
    const names = scope.leaves.map((l) => ({ name: l.secret!.name, usage: l.usage }));
    const broken: string[] = [];
    let samples = 0;
    const sample = async () => {
      for (const c of CONTEXTS) {
        const list = (await admins[c].core.listNamespacedSecret({ namespace: ns })).items;
        const data = new Map(
          list.map((s) => [
            s.metadata!.name!,
            Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])),
          ]),
        );
        for (const client of names.filter((n) => n.usage !== 'server')) {
          for (const server of names.filter((n) => n.usage !== 'client')) {
            const ca = data.get(client.name)?.['ca.crt'];
            const crt = data.get(server.name)?.['tls.crt'];
            if (ca && crt && !verifies(ca, crt)) broken.push(`${c}: ${client.name} rejects ${server.name}`);
          }
        }
      }
      samples++;
    };
    let running = true;
    const sampler = (async () => {
      while (running) await sample();
    })();
    const restartedBefore = Object.fromEntries(
      await Promise.all(
        CONTEXTS.map(
          async (c) => [c, (await admins[c].deployment(ns, 'apim')).spec?.template?.metadata?.annotations?.['rekey/restartedAt']] as const,
        ),
      ),
    );

    // Act
    const record = await startRotation(rt.deps, inventory, 'management-ca', { trigger: Trigger.Manual, reason: 'integration' });
    await driveRotations(rt.deps, inventory, rt.queue);
    running = false;
    await sampler;
    await sample();

    // Assess
    const final = (await rt.deps.journal.get(record.id))!;
    expect(final.status, final.error).toBe(RotationStatus.Completed);
    expect(samples).toBeGreaterThan(3);
    expect(broken).toEqual([]);
    const events = rt.bus.published.filter((e) => e.detail.rotationId === record.id);
    const firstTrustRestart = events.findIndex((e) => e.type === EventType.RestartCompleted);
    const firstLeafIssued = events.findIndex((e) => e.type === EventType.CertificateIssued && e.detail.item !== 'management-ca');
    expect(firstTrustRestart).toBeGreaterThanOrEqual(0);
    expect(firstTrustRestart).toBeLessThan(firstLeafIssued);
    for (const c of CONTEXTS) {
      expect(events.filter((e) => e.type === EventType.RestartCompleted && e.detail.cluster === c).length, c).toBeGreaterThanOrEqual(3);
      const now = (await admins[c].deployment(ns, 'apim')).spec?.template?.metadata?.annotations?.['rekey/restartedAt'];
      expect(now, c).toBeDefined();
      expect(now, c).not.toBe(restartedBefore[c]);
    }
  }, 600_000);
});
