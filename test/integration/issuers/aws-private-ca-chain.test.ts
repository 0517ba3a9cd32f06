// A change of an external CA's chain (AWS Private CA on moto re-issues its CA certificate) is found by the scan and
// goes through the authority's trust-overlap rotation: both chains in the bundles, the leaves re-issued, the new chain
// current; not picked up only when the stored copy expires.
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { plan } from '../../../shared/app/plan.js';
import { EXTERNAL_CHAIN_CHANGED } from '../../../shared/app/issuers/chain-watch.js';
import { driveRotations } from '../../../shared/app/rotation/index.js';
import { scan } from '../../../shared/app/scan.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationKind, RotationStatus } from '../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../shared/domain/store/material.js';
import { silentLogger as silent } from '../../../shared/ports/logger.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { useMoto } from '../aws/moto.js';
import { createActiveRootCa, reissueRootCaCertificate } from './private-ca.js';

const inventoryText = (arn: string, name = 'pca-chain') => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: ${name}}
authorities:
  - name: corp-ca
    commonName: corp-ca
    external: {awsPrivateCa: {arn: "${arn}", signingAlgorithm: SHA256WITHRSA}}
    secret: {name: corp-ca, namespace: apps}
certificates:
  - {name: web, issuer: corp-ca, usage: server, commonName: web.apps.svc, dnsNames: [web.apps.svc], secret: {name: web-tls, namespace: apps}}
`;

let dir: string;
let ca: Awaited<ReturnType<typeof createActiveRootCa>>;

beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-pca-chain-');
  ca = await createActiveRootCa(`chain-ca-${Date.now()}`);
});
afterAll(async () => {
  if (dir) await removeTempDir(dir);
});

describe('external authority: a changed CA chain (AWS Private CA on moto)', () => {
  it('scan starts an authority rotation when the Private CA serves a new certificate, which completes with both chains trusted on the way and the new one current', async () => {
    // Prepare
    const inv = loadInventory(inventoryText(ca.arn));
    const rt = await composeLocal(inv, { stateDir: join(dir, 'state'), target: { kind: 'out', dir: join(dir, 'out') }, log: silent });
    const read = async (name: string) =>
      decodeMaterial(
        (await rt.deps.store.getVersion(`rekey/pca-chain/${name}`, { stage: Stage.Current }))!.value,
        name,
      ) as CertificateMaterial;
    try {
      expect((await apply(rt.deps, inv)).problems).toEqual([]);
      const before = { ca: await read('corp-ca'), web: await read('web') };
      const quiet = await scan(rt.deps, inv);
      const newCert = await reissueRootCaCertificate(ca.client, ca.arn);

      // Act
      const found = await scan(rt.deps, inv);
      await driveRotations(rt.deps, inv, rt.queue);

      // Assess
      expect(quiet.started).toEqual([]);
      const started = found.started.find((s) => s.item === 'corp-ca');
      expect(started?.reason).toContain(EXTERNAL_CHAIN_CHANGED);
      const record = (await rt.deps.journal.get(started!.rotationId))!;
      expect(record.kind).toBe(RotationKind.Authority);
      expect(record.status, record.error).toBe(RotationStatus.Completed);
      expect(record.history.map((h) => h.step)).toContain('publish-bundle');
      // The overlap: the rotation's version of the CA kept the old certificate as still trusted until drop-old.
      const overlap = await rt.deps.store.getVersion('rekey/pca-chain/corp-ca', { versionId: record.id });
      expect((decodeMaterial(overlap!.value, 'corp-ca') as CertificateMaterial).trustAlso).toBe(before.ca.cert);
      const after = { ca: await read('corp-ca'), web: await read('web') };
      const fresh = new X509Certificate(newCert);
      expect(after.ca.fingerprint).toBe(fresh.fingerprint256.replaceAll(':', '').toLowerCase());
      expect(after.ca.fingerprint).not.toBe(before.ca.fingerprint);
      expect(after.web.serial).not.toBe(before.web.serial);
      expect(after.web.issuerFingerprint).toBe(after.ca.fingerprint);
      expect(new X509Certificate(after.web.cert).verify(fresh.publicKey)).toBe(true);
      const again = await scan(rt.deps, inv);
      expect(again.started).toEqual([]);
    } finally {
      await rt.close();
    }
  });

  it('plan shows and apply starts the same trust-overlap rotation when the Private CA serves a new certificate; the next apply starts nothing', async () => {
    // Prepare
    const own = await createActiveRootCa(`chain-apply-${Date.now()}`);
    const inv = loadInventory(inventoryText(own.arn, 'pca-chain-apply'));
    const rt = await composeLocal(inv, {
      stateDir: join(dir, 'state-apply'),
      target: { kind: 'out', dir: join(dir, 'out-apply') },
      log: silent,
    });
    const read = async (name: string) =>
      decodeMaterial(
        (await rt.deps.store.getVersion(`rekey/pca-chain-apply/${name}`, { stage: Stage.Current }))!.value,
        name,
      ) as CertificateMaterial;
    try {
      expect((await apply(rt.deps, inv)).chainChanges).toEqual([]);
      const before = { ca: await read('corp-ca'), web: await read('web') };
      const newCert = await reissueRootCaCertificate(own.client, own.arn);

      // Act
      const planned = await plan(rt.deps, inv);
      const result = await apply(rt.deps, inv);
      await driveRotations(rt.deps, inv, rt.queue);
      const again = { plan: await plan(rt.deps, inv), apply: await apply(rt.deps, inv) };

      // Assess
      expect(planned.actions.filter((a) => a.action === 'rotate')).toEqual([
        expect.objectContaining({ kind: 'authority', name: 'corp-ca', reason: expect.stringContaining(EXTERNAL_CHAIN_CHANGED) }),
      ]);
      expect(result.chainChanges).toEqual([
        { authority: 'corp-ca', reason: expect.stringContaining(EXTERNAL_CHAIN_CHANGED), rotationId: expect.any(String) },
      ]);
      expect(result.rotations).toEqual([result.chainChanges[0]!.rotationId]);
      const record = (await rt.deps.journal.get(result.chainChanges[0]!.rotationId))!;
      expect(record.kind).toBe(RotationKind.Authority);
      expect(record.status, record.error).toBe(RotationStatus.Completed);
      expect(record.history.map((h) => h.step)).toEqual(expect.arrayContaining(['publish-bundle', 'drop-old']));
      const overlap = await rt.deps.store.getVersion('rekey/pca-chain-apply/corp-ca', { versionId: record.id });
      expect((decodeMaterial(overlap!.value, 'corp-ca') as CertificateMaterial).trustAlso).toBe(before.ca.cert);
      const after = { ca: await read('corp-ca'), web: await read('web') };
      expect(after.ca.fingerprint).toBe(new X509Certificate(newCert).fingerprint256.replaceAll(':', '').toLowerCase());
      expect(after.web.serial).not.toBe(before.web.serial);
      expect(after.web.issuerFingerprint).toBe(after.ca.fingerprint);
      expect(again.plan.actions.filter((a) => a.action === 'rotate')).toEqual([]);
      expect(again.apply.chainChanges).toEqual([]);
      expect(again.apply.rotations).toEqual([]);
    } finally {
      await rt.close();
    }
  });
});
