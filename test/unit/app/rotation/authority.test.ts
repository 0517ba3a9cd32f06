import { X509Certificate } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../../shared/app/apply.js';
import { rollbackItem } from '../../../../shared/app/rollback.js';
import { scan } from '../../../../shared/app/scan.js';
import { driveRotations, startRotation } from '../../../../shared/app/rotation/index.js';
import { EventType } from '../../../../shared/domain/events/types.js';
import { loadInventory } from '../../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { pemBlocks } from '../../../../shared/domain/pki/der.js';
import { AuthorityStep } from '../../../../shared/domain/rotation/machines.js';
import { RotationStatus, Trigger } from '../../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../../shared/domain/store/material.js';
import { Annotation } from '../../../../shared/domain/sync/desired.js';
import { localRuntime, type TestRuntime } from '../../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}, {name: dc2}]
authorities:
  - {name: ca, commonName: shop ca, key: ECDSA-P256, validity: 87600h, secret: {name: shop-ca, namespace: shop}}
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}, consumers: [Deployment/web]}
  - {name: api-client, issuer: ca, usage: client, commonName: api-client, secret: {name: api-client, namespace: shop}, consumers: [Deployment/api]}
  - {name: db, issuer: ca, usage: server, commonName: db, perReplica: {statefulSet: db, replicas: 2}, secret: {name: db-tls, namespace: shop, clusters: [dc2]}}
`;
const CA = 'rekey/shop/ca';

let root: string;
let inventory: Inventory;
let rt: TestRuntime;

beforeEach(async () => {
  root = await makeTempDir('rekey-authority-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
  await apply(rt.deps, inventory);
});
afterEach(() => removeTempDir(root));

const caCert = async (): Promise<CertificateMaterial> => decodeMaterial((await rt.store.getVersion(CA))!.value, CA) as CertificateMaterial;

/** Every Secret of every cluster, as written (data decoded). */
async function secrets(): Promise<{ where: string; data: Record<string, string>; annotations: Record<string, string> }[]> {
  const out = [];
  for (const [cluster, w] of rt.writers)
    for (const s of await w.listSecrets('shop'))
      out.push({ where: `${cluster}/${s.name}`, data: { ...s.data }, annotations: { ...s.annotations } });
  return out;
}

/** Whether `bundle` verifies the leaf (and intermediates) in `tlsCrt`. */
function verifies(bundle: string, tlsCrt: string): boolean {
  const roots = pemBlocks(bundle).map((d) => new X509Certificate(d));
  let cur = new X509Certificate(pemBlocks(tlsCrt)[0]!);
  const chain = pemBlocks(tlsCrt)
    .slice(1)
    .map((d) => new X509Certificate(d));
  for (let i = 0; i < 5; i++) {
    if (roots.some((r) => cur.checkIssued(r) && cur.verify(r.publicKey))) return true;
    const next = chain.find((c) => cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!next) return false;
    cur = next;
  }
  return false;
}

/** At this moment every holder of a `ca.crt` trusts every server and client certificate written anywhere. */
async function everyoneTrustsEveryone(): Promise<string[]> {
  const all = await secrets();
  const bad: string[] = [];
  for (const holder of all.filter((s) => s.data['ca.crt'])) {
    for (const peer of all.filter((s) => s.data['tls.crt']))
      if (!verifies(holder.data['ca.crt']!, peer.data['tls.crt']!)) bad.push(`${holder.where} rejects ${peer.where}`);
  }
  return bad;
}

describe('authority rotation with trust overlap (embedded runtime, manifests on disk)', () => {
  it('publishes old + new, re-issues every child under the new CA, drops the old CA; trust holds at every step', async () => {
    // Prepare
    const before = await caCert();
    const record = await startRotation(rt.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'test' });
    // Act
    await driveRotations(rt.deps, inventory, rt.queue);
    // Assess
    const final = (await rt.journal.get(record.id))!;
    expect(final.status, final.error).toBe(RotationStatus.Completed);
    expect(final.history.map((h) => h.step)).toEqual(Object.values(AuthorityStep));
    const after = await caCert();
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.trustAlso).toBeUndefined();
    for (const s of await secrets()) {
      expect(pemBlocks(s.data['ca.crt']!).length, s.where).toBe(1);
      expect(s.annotations[Annotation.BundleHash], s.where).toBeUndefined();
      if (s.data['tls.crt']) expect(verifies(after.cert, s.data['tls.crt']), s.where).toBe(true);
    }
    const phases = rt.bus.published
      .filter((e) => e.type === EventType.RotationPhaseChanged && e.detail.rotationId === record.id)
      .map((e) => e.detail.phase);
    expect(phases).toEqual(['overlap', 'reissuing', 'verifying', 'dropping', 'done']);
    expect(final.authority).toMatchObject({ children: ['web', 'api-client', 'db/0', 'db/1'], onNewCa: 4 });
  });

  it('at every step each ca.crt verifies every tls.crt, and during the overlap every bundle is byte-identical with old + new', async () => {
    // Prepare
    const broken: string[] = [];
    const overlap: { step: string; hashes: Set<string>; sizes: Set<number> }[] = [];
    const second = await startRotation(rt.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'sampled' });
    // Act: one message at a time, sampling every Secret before each
    for (let guard = 0; guard < 100 && rt.queue.size; guard++) {
      const step = (await rt.journal.get(second.id))!.step;
      broken.push(...(await everyoneTrustsEveryone()).map((b) => `${step}: ${b}`));
      const all = await secrets();
      const hashes = new Set(all.map((s) => s.annotations[Annotation.BundleHash] ?? '-'));
      overlap.push({ step, hashes, sizes: new Set(all.map((s) => pemBlocks(s.data['ca.crt']!).length)) });
      await rt.queue
        .drain(async (m) => {
          const { executeStep } = await import('../../../../shared/app/rotation/index.js');
          await executeStep(rt.deps, inventory, m);
          throw new StopDrain();
        })
        .catch((e: unknown) => {
          if (!(e instanceof StopDrain)) throw e;
        });
    }
    broken.push(...(await everyoneTrustsEveryone()).map((b) => `end: ${b}`));
    // Assess
    expect(broken).toEqual([]);
    expect((await rt.journal.get(second.id))!.status).toBe(RotationStatus.Completed);
    // between publish and drop, every ca.crt holds the same two CAs (one hash everywhere)
    const during = overlap.filter((o) =>
      ['restart-trust', 'promote', 'reissue', 'restart-children', 'verify', 'drop-old'].includes(o.step),
    );
    expect(during.length).toBeGreaterThan(0);
    for (const o of during) {
      expect([...o.sizes], o.step).toEqual([2]);
      expect(o.hashes.size, o.step).toBe(1);
    }
  });

  it('apply starts a rotation for a CA whose spec changed instead of re-issuing it with its leaves at once', async () => {
    // Prepare: a new common name makes the CA due (SpecChanged)
    const changed = loadInventory(INVENTORY.replace('commonName: shop ca', 'commonName: shop ca 2'));
    const before = await caCert();
    // Act
    const result = await apply(rt.deps, changed);
    // Assess: nothing re-issued yet, one authority rotation queued
    expect(result.rotations).toHaveLength(1);
    expect((await caCert()).fingerprint).toBe(before.fingerprint);
    await driveRotations(rt.deps, changed, rt.queue);
    const final = (await rt.journal.get(result.rotations[0]!))!;
    expect(final.status, final.error).toBe(RotationStatus.Completed);
    expect(new X509Certificate((await caCert()).cert).subject).toContain('shop ca 2');
  });

  it('the scheduled scan starts the rotation of a CA in its renewal window and leaves its leaves to it', async () => {
    // Prepare: the CA is due (a spec change, as a renewal window would); its leaves follow it
    const changed = loadInventory(INVENTORY.replace('commonName: shop ca', 'commonName: shop ca 3'));
    // Act
    const result = await scan(rt.deps, changed);
    // Assess
    expect(result.started.map((s) => s.item)).toEqual(['ca']);
    await driveRotations(rt.deps, changed, rt.queue);
    expect((await rt.journal.get(result.started[0]!.rotationId))!.status).toBe(RotationStatus.Completed);
    expect(await everyoneTrustsEveryone()).toEqual([]);
  });

  it('rollback while the old CA is still in the bundles puts the old CA and the old leaves back; after the drop it is refused', async () => {
    // Prepare: run up to (not including) verify
    const before = await caCert();
    const webBefore = (await rt.store.getVersion('rekey/shop/web'))!.versionId;
    const record = await startRotation(rt.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'test' });
    const { executeStep } = await import('../../../../shared/app/rotation/index.js');
    for (let guard = 0; guard < 100; guard++) {
      if ((await rt.journal.get(record.id))!.step === AuthorityStep.Verify) break;
      await rt.queue
        .drain(async (m) => {
          await executeStep(rt.deps, inventory, m);
          throw new StopDrain();
        })
        .catch((e: unknown) => {
          if (!(e instanceof StopDrain)) throw e;
        });
    }
    // Act
    const result = await rollbackItem(rt.deps, inventory, 'ca', { reason: 'operator' });
    // Assess
    expect(result.units).toEqual(expect.arrayContaining(['ca', 'web', 'api-client', 'db/0', 'db/1']));
    expect((await caCert()).fingerprint).toBe(before.fingerprint);
    expect((await rt.store.getVersion('rekey/shop/web'))!.versionId).toBe(webBefore);
    expect((await rt.journal.get(record.id))!.status).toBe(RotationStatus.RolledBack);
    expect(await everyoneTrustsEveryone()).toEqual([]);
    expect(rt.bus.published.some((e) => e.type === EventType.RotationRolledBack && e.detail.rotationId === record.id)).toBe(true);
    // a completed rotation (old CA dropped) cannot be rolled back
    const done = await startRotation(rt.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'again' });
    await driveRotations(rt.deps, inventory, rt.queue);
    expect((await rt.journal.get(done.id))!.status).toBe(RotationStatus.Completed);
    await expect(rollbackItem(rt.deps, inventory, 'ca', { reason: 'too late' })).rejects.toThrow(/already dropped the old CA/);
  });

  it('a leaf cannot go back to its version under a CA that has since rotated (refused, nothing changes)', async () => {
    // Prepare: web rotates under the old CA, then the CA rotates to the end
    const leaf = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'leaf' });
    await driveRotations(rt.deps, inventory, rt.queue);
    expect((await rt.journal.get(leaf.id))!.status).toBe(RotationStatus.Completed);
    const ca = await startRotation(rt.deps, inventory, 'ca', { trigger: Trigger.Manual, reason: 'ca' });
    await driveRotations(rt.deps, inventory, rt.queue);
    const current = (await rt.store.getVersion('rekey/shop/web'))!.versionId;
    expect(current).toBe(ca.id);
    // Act + Assess: refused, nothing changed
    await expect(rollbackItem(rt.deps, inventory, 'web', { reason: 'operator' })).rejects.toThrow(
      /signed by a CA of ca that its bundles no longer trust/,
    );
    expect((await rt.store.getVersion('rekey/shop/web'))!.versionId).toBe(current);
    expect(await everyoneTrustsEveryone()).toEqual([]);
  });

  it('a root rotation cascades through an intermediate whose own published ca.crt keeps old + new intermediate until the drop', async () => {
    // Prepare: root -> int (published) -> leaf
    const cascade = loadInventory(`
apiVersion: rekey/v1
kind: Inventory
metadata: {name: cascade}
clusters: [{name: dc1}]
authorities:
  - {name: root, commonName: cascade root, key: ECDSA-P256, validity: 87600h}
  - {name: int, commonName: cascade int, key: ECDSA-P256, validity: 43800h, parent: root, secret: {name: int-ca, namespace: shop}}
certificates:
  - {name: svc, issuer: int, usage: server, commonName: svc, dnsNames: [svc], secret: {name: svc-tls, namespace: shop}}
`);
    const crt = await makeTempDir('rekey-cascade-');
    const c = localRuntime(cascade, crt);
    try {
      await apply(c.deps, cascade);
      const intCa = async () => (await c.writers.get('dc1')!.listSecrets('shop')).find((x) => x.name === 'int-ca')!.data['ca.crt']!;
      const oldInt = await intCa();
      const record = await startRotation(c.deps, cascade, 'root', { trigger: Trigger.Manual, reason: 'cascade' });
      const seen: { step: string; certs: number }[] = [];
      // Act: one message at a time, sampling the intermediate's published ca.crt before each
      for (let guard = 0; guard < 100 && c.queue.size; guard++) {
        seen.push({ step: (await c.journal.get(record.id))!.step, certs: pemBlocks(await intCa()).length });
        await c.queue
          .drain(async (m) => {
            const { executeStep } = await import('../../../../shared/app/rotation/index.js');
            await executeStep(c.deps, cascade, m);
            throw new StopDrain();
          })
          .catch((e: unknown) => {
            if (!(e instanceof StopDrain)) throw e;
          });
      }
      // Assess
      const final = (await c.journal.get(record.id))!;
      expect(final.status, final.error).toBe(RotationStatus.Completed);
      const at = (step: string) => seen.find((x) => x.step === step)?.certs;
      expect(at('publish-bundle')).toBe(1);
      expect([at('restart-children'), at('verify'), at('drop-old')]).toEqual([2, 2, 2]);
      const end = await intCa();
      expect(pemBlocks(end)).toHaveLength(1);
      expect(end).not.toBe(oldInt);
      const intNow = decodeMaterial((await c.store.getVersion('rekey/cascade/int'))!.value, 'int') as CertificateMaterial;
      expect(intNow.trustAlso).toBeUndefined();
      const rootNow = decodeMaterial((await c.store.getVersion('rekey/cascade/root'))!.value, 'root') as CertificateMaterial;
      expect(new X509Certificate(intNow.cert).checkIssued(new X509Certificate(rootNow.cert))).toBe(true);
    } finally {
      await removeTempDir(crt);
    }
  });
});

class StopDrain extends Error {}
