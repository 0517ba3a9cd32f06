import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../shared/app/apply.js';
import { inspectItem } from '../../../shared/app/inspect.js';
import { ChainEnd } from '../../../shared/app/report/certificate-facts.js';
import { PlacementState } from '../../../shared/app/report/placements.js';
import { driveRotations, startRotation } from '../../../shared/app/rotation/index.js';
import { UsageError } from '../../../shared/domain/errors.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { Trigger } from '../../../shared/domain/rotation/record.js';
import { runMain } from '../../fixtures/cli.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
clusters: [{name: dc1}, {name: dc2}]
authorities:
  - {name: root, commonName: shop root, key: ECDSA-P384}
  - {name: issuing, commonName: shop issuing, key: RSA-2048, parent: root, validity: 8760h}
certificates:
  - name: web
    issuer: issuing
    usage: server
    commonName: web
    dnsNames: [web, web.shop.svc]
    ipAddresses: [10.0.0.7]
    secret: {name: web-tls, namespace: shop}
    consumers: [Deployment/web, {selector: app=web}]
credentials:
  - {name: db-password, type: password, secret: {name: db-password, namespace: shop}}
`;

let root: string;
let inventory: Inventory;
let rt: TestRuntime;

beforeEach(async () => {
  root = await makeTempDir('rekey-inspect-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
});
afterEach(() => removeTempDir(root));

describe('inspect', () => {
  it('decodes the current certificate, follows its chain to the trusted root and lists versions, copies and the last rotation', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    const record = await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(rt.deps, inventory, rt.queue);
    // Act
    const i = await inspectItem(rt.deps, inventory, 'web');
    // Assess
    const unit = i.units[0]!;
    expect(unit.certificate).toMatchObject({
      subject: 'CN=web',
      issuer: 'CN=shop issuing',
      dnsNames: ['web', 'web.shop.svc'],
      ipAddresses: ['10.0.0.7'],
      keyType: 'ECDSA-P256',
      isCA: false,
      extKeyUsage: ['serverAuth'],
      selfSigned: false,
    });
    expect(unit.chain).toMatchObject({
      end: ChainEnd.TrustedRoot,
      endsAt: 'CN=shop root',
      links: [{ subject: 'CN=shop issuing' }, { subject: 'CN=shop root' }],
    });
    expect(unit.versions.map((v) => v.stages)).toEqual([['AWSCURRENT'], ['AWSPREVIOUS']]);
    expect(unit.versions[0]!.versionId).toBe(record.id);
    expect(i.synced.map((p) => [p.cluster, p.secret, p.state, p.version])).toEqual([
      ['dc1', 'web-tls', PlacementState.Current, record.id],
      ['dc2', 'web-tls', PlacementState.Current, record.id],
    ]);
    expect(i.consumers).toEqual(['Deployment/web', 'selector app=web']);
    expect(i.lastRotation).toMatchObject({ id: record.id, status: 'completed', trigger: 'manual' });
    expect(i.lastRotation!.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['issue', 'test', 'promote', 'sync']));
    expect(i.foundConsumers).toBeUndefined(); // manifests on disk: no workloads to look at
  });

  it('shows a stale copy and a missing one as such', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    const stale = await rt.writers.get('dc1')!.getSecret('shop', 'web-tls');
    await startRotation(rt.deps, inventory, 'web', { trigger: Trigger.Manual, reason: 'test' });
    await driveRotations(rt.deps, inventory, rt.queue);
    await rt.writers
      .get('dc1')!
      .writeSecret(
        { ...stale!, type: 'kubernetes.io/tls' },
        { adopt: false, expected: (await rt.writers.get('dc1')!.getSecret('shop', 'web-tls'))! },
      );
    await unlink(join(rt.outDir, 'dc2', 'shop', 'web-tls.yaml'));
    // Act
    const i = await inspectItem(rt.deps, inventory, 'web');
    // Assess
    expect(i.synced.map((p) => [p.cluster, p.state])).toEqual([
      ['dc1', PlacementState.Stale],
      ['dc2', PlacementState.Missing],
    ]);
  });

  it('describes a credential without its password, and an item never issued as having no versions', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    // Act
    const cred = await inspectItem(rt.deps, loadInventory(INVENTORY), 'db-password');
    const fresh = await inspectItem(localRuntime(inventory, join(root, 'empty')).deps, inventory, 'web');
    // Assess
    expect(cred.units[0]!.credential).toMatchObject({ type: 'password' });
    const stored = JSON.parse((await rt.store.getVersion('rekey/shop/db-password'))!.value) as { password: string };
    expect(JSON.stringify(cred)).not.toContain(stored.password);
    expect(fresh.units[0]!.versions).toEqual([]);
    expect(fresh.units[0]!.certificate).toBeUndefined();
  });

  it('refuses an unknown item as invalid input', async () => {
    await expect(inspectItem(rt.deps, inventory, 'nope')).rejects.toBeInstanceOf(UsageError);
  });

  it('rekey inspect prints the certificate and never key material; --json is one document; unknown name exits 2', async () => {
    // Prepare
    const inv = join(root, 'inv.yaml');
    await writeFile(inv, INVENTORY);
    const state = join(root, 'cli-state');
    const outDir = join(root, 'cli-out');
    expect((await runMain(['--state', state, 'apply', '-f', inv, '--out', outDir])).code).toBe(0);
    // Act
    const text = await runMain(['--state', state, 'inspect', 'web', '-f', inv, '--out', outDir]);
    const json = await runMain(['--state', state, '--json', 'inspect', 'issuing', '-f', inv]);
    const unknown = await runMain(['--state', state, 'inspect', 'nope', '-f', inv]);
    // Assess
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Subject: +CN=web/);
    expect(text.stdout).toContain('dc1/shop/web-tls: current');
    expect(text.stdout).not.toMatch(/PRIVATE KEY/);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { kind: string; units: { certificate: { isCA: boolean } }[] };
    expect(doc).toMatchObject({
      kind: 'authority',
      parent: 'root',
      units: [{ certificate: { isCA: true, keyType: 'RSA-2048' }, chain: { end: ChainEnd.TrustedRoot } }],
    });
    expect(json.stdout).not.toMatch(/PRIVATE KEY/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no item named "nope"');
  });
});
