// An external authority on AWS Private CA (moto's acm-pca): rekey makes the leaf keys, sends CSRs, keeps versions,
// writes Secrets and rotates as for its own CAs; the trust bundle is the CA's certificate. Failures are clear and
// leave nothing pending.
import { execFileSync } from 'node:child_process';
import { createPrivateKey as createKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeLocal } from '../../../cli/compose.js';
import { apply } from '../../../shared/app/apply.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import { RotationStatus, Trigger } from '../../../shared/domain/rotation/record.js';
import { decodeMaterial, type CertificateMaterial } from '../../../shared/domain/store/material.js';
import { silentLogger as silent } from '../../../shared/ports/logger.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { useMoto } from '../aws/moto.js';
import { createActiveRootCa } from './private-ca.js';

const inventoryText = (arn: string) => `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: pca-it}
authorities:
  - name: corp-ca
    commonName: corp-ca
    external: {awsPrivateCa: {arn: "${arn}", signingAlgorithm: SHA256WITHRSA}}
    secret: {name: corp-ca, namespace: apps}
certificates:
  - name: web
    issuer: corp-ca
    usage: server
    commonName: web.apps.svc
    dnsNames: [web.apps.svc, web]
    secret: {name: web-tls, namespace: apps}
`;

let dir: string;
let arn: string;

beforeAll(async () => {
  await useMoto();
  dir = await makeTempDir('rekey-pca-');
  ({ arn } = await createActiveRootCa(`corp-ca-${Date.now()}`));
});
afterAll(async () => {
  if (dir) await removeTempDir(dir);
});

async function stored(rt: Awaited<ReturnType<typeof composeLocal>>, name: string): Promise<CertificateMaterial> {
  const v = await rt.deps.store.getVersion(`rekey/pca-it/${name}`, { stage: Stage.Current });
  return decodeMaterial(v!.value, name) as CertificateMaterial;
}

describe('external authority: AWS Private CA on moto', () => {
  it("apply: the leaf is signed by the Private CA from rekey's CSR, verifies under the CA's certificate, and its key stays in rekey", async () => {
    // Prepare
    const inv = loadInventory(inventoryText(arn));
    const rt = await composeLocal(inv, { stateDir: join(dir, 'state'), target: { kind: 'out', dir: join(dir, 'out') }, log: silent });
    try {
      // Act
      const result = await apply(rt.deps, inv);
      // Assess
      expect(result.problems).toEqual([]);
      const ca = await stored(rt, 'corp-ca');
      const web = await stored(rt, 'web');
      expect(ca.key).toBe('');
      expect(new X509Certificate(ca.cert).subject).toContain('CN=corp-ca-');
      expect(web.ca).toBe(ca.ca);
      expect(web.issuer).toBe('corp-ca');
      expect(web.issuerFingerprint).toBe(ca.fingerprint);
      const leaf = new X509Certificate(web.cert);
      expect(leaf.subjectAltName).toContain('DNS:web.apps.svc');
      expect(leaf.checkIssued(new X509Certificate(ca.ca))).toBe(true);
      writeFileSync(join(dir, 'ca.pem'), web.ca);
      writeFileSync(join(dir, 'leaf.pem'), web.cert + web.chain);
      expect(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' })).toContain(
        'OK',
      );
      expect(leaf.checkPrivateKey(createKey(web.key))).toBe(true);
      const manifest = readFileSync(join(dir, 'out', 'default', 'apps', 'web-tls.yaml'), 'utf8');
      expect(manifest).toContain('tls.crt');
    } finally {
      await rt.close();
    }
  });

  it('rotate: a new key and certificate from the Private CA through the step machine; the previous version kept', async () => {
    // Prepare
    const inv = loadInventory(inventoryText(arn));
    const rt = await composeLocal(inv, { stateDir: join(dir, 'state'), target: { kind: 'out', dir: join(dir, 'out') }, log: silent });
    try {
      const before = await stored(rt, 'web');
      // Act
      const record = await startRotation(rt.deps, inv, 'web', { trigger: Trigger.Manual, reason: 'integration test' });
      await driveRotations(rt.deps, inv, rt.queue);
      // Assess
      const final = (await rt.deps.journal.get(record.id))!;
      expect(final.status, final.error).toBe(RotationStatus.Completed);
      const after = await stored(rt, 'web');
      expect(after.serial).not.toBe(before.serial);
      expect(after.key).not.toBe(before.key);
      const previous = await rt.deps.store.getVersion('rekey/pca-it/web', { stage: Stage.Previous });
      expect((decodeMaterial(previous!.value, 'web') as CertificateMaterial).serial).toBe(before.serial);
    } finally {
      await rt.close();
    }
  });

  it('a CA that does not exist fails the apply clearly (the ARN named) and leaves no version of the leaf', async () => {
    // Prepare
    const missing = arn.replace(/certificate-authority\/.*/, 'certificate-authority/00000000-0000-0000-0000-000000000000');
    const inv = loadInventory(inventoryText(missing).replace('pca-it', 'pca-missing'));
    const rt = await composeLocal(inv, {
      stateDir: join(dir, 'state-missing'),
      target: { kind: 'out', dir: join(dir, 'out-missing') },
      log: silent,
    });
    try {
      // Act
      const error = await apply(rt.deps, inv).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      // Assess
      expect(error?.message).toContain('AWS Private CA GetCertificateAuthorityCertificate');
      expect(error?.message).toContain('00000000-0000-0000-0000-000000000000');
      expect(await rt.deps.store.describe('rekey/pca-missing/web')).toBeUndefined();
    } finally {
      await rt.close();
    }
  });
});
