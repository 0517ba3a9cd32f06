import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../shared/app/apply.js';
import { exportItem } from '../../../shared/app/export.js';
import { plan } from '../../../shared/app/plan.js';
import { status } from '../../../shared/app/status.js';
import { NotFoundError, UsageError } from '../../../shared/domain/errors.js';
import { EventType } from '../../../shared/domain/events/types.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const BASE = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities:
  - {name: root, commonName: root, key: ECDSA-P256}
  - {name: issuing, commonName: issuing, key: ECDSA-P256, parent: root, validity: 8760h}
certificates:
  - {name: web, issuer: issuing, usage: server, commonName: web, dnsNames: [web], secret: {name: web, namespace: shop}}
  - {name: api, issuer: root, usage: client, commonName: api, secret: {name: api, namespace: shop}}
`;

let root: string;
let inventory: Inventory;
let rt: TestRuntime;

beforeEach(async () => {
  root = await makeTempDir('rekey-apply-');
  inventory = loadInventory(BASE);
  rt = localRuntime(inventory, root);
});
afterEach(() => removeTempDir(root));

const actions = async (inv: Inventory) =>
  (await plan({ ...rt.deps }, inv)).actions.map((a) => `${a.action} ${a.kind} ${a.name} ${a.reason}`);

describe('plan and apply', () => {
  it('plan on an empty state lists issues parents first and the writes; apply does exactly that; then nothing is left', async () => {
    // Act
    const before = await actions(inventory);
    const result = await apply(rt.deps, inventory);
    const after = await actions(inventory);
    // Assess
    expect(before).toEqual([
      'issue authority root NeverIssued',
      'issue authority issuing NeverIssued',
      'issue certificate web NeverIssued',
      'issue certificate api NeverIssued',
      'write secret web NewVersion',
      'write secret api NewVersion',
    ]);
    expect(result.decisions.map((d) => `${d.action} ${d.unit}`)).toEqual(['issue root', 'issue issuing', 'issue web', 'issue api']);
    expect(result.sync.secrets.map((s) => s.change)).toEqual(['created', 'created']);
    expect(result.problems).toEqual([]);
    expect(after).toEqual([]);
  });

  it('a changed SAN re-issues only that certificate (SpecChanged)', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    const changed = loadInventory(BASE.replace('dnsNames: [web]', 'dnsNames: [web, web.shop.svc]'));
    // Act
    const planned = await actions(changed);
    await apply(rt.deps, changed);
    // Assess
    expect(planned).toEqual(['reissue certificate web SpecChanged', 'write secret web NewVersion']);
    expect(await actions(changed)).toEqual([]);
  });

  it('a re-issued intermediate re-issues what it signed (IssuerChanged), not what the root signed', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    const changed = loadInventory(BASE.replace('validity: 8760h', 'validity: 8000h'));
    // Act
    const planned = await actions(changed);
    // Assess
    expect(planned).toEqual([
      'reissue authority issuing SpecChanged',
      'reissue certificate web IssuerChanged',
      'write secret web NewVersion',
    ]);
  });

  it('a hand-edited Secret is drift: plan shows the update, apply repairs it and emits DriftDetected', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    const file = join(rt.outDir, 'default', 'shop', 'web.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace(/tls\.key: .*/, `tls.key: ${Buffer.from('edited').toString('base64')}`));
    // Act
    const planned = await actions(inventory);
    const result = await apply(rt.deps, inventory);
    // Assess
    expect(planned).toEqual(['update secret web SecretDrifted']);
    expect(result.sync.secrets.find((s) => s.secret === 'web')).toMatchObject({ change: 'updated', reason: 'SecretDrifted' });
    expect(rt.bus.published.filter((e) => e.type === EventType.DriftDetected).map((e) => e.detail.item)).toEqual(['web']);
    expect(await readFile(file, 'utf8')).not.toContain(Buffer.from('edited').toString('base64'));
  });

  it('an unmanaged Secret is not overwritten: a plan warning and an apply problem', async () => {
    // Prepare
    const file = join(rt.outDir, 'default', 'shop', 'api.yaml');
    await mkdir(join(rt.outDir, 'default', 'shop'), { recursive: true });
    const theirs = 'apiVersion: v1\nkind: Secret\nmetadata: {name: api, namespace: shop}\ntype: Opaque\ndata: {a: Yg==}\n';
    await writeFile(file, theirs);
    await apply(rt.deps, inventory);
    // Act
    const p = await plan(rt.deps, inventory);
    const result = await apply(rt.deps, inventory);
    // Assess
    expect(p.warnings).toEqual([
      expect.objectContaining({ name: 'api', cluster: 'default', message: expect.stringMatching(/not managed by rekey/) }),
    ]);
    expect(result.problems).toEqual([expect.stringMatching(/^default\/shop\/api \(api\): /)]);
    expect(await readFile(file, 'utf8')).toBe(theirs);
  });
});

describe('status and export', () => {
  it('status gives version, expiry, serial and issuer per unit, and no key material', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    // Act
    const rows = await status(rt.deps, inventory);
    // Assess
    expect(rows.map((r) => r.name)).toEqual(['root', 'issuing', 'web', 'api']);
    const web = rows.find((r) => r.name === 'web')!;
    expect(web).toMatchObject({ kind: 'certificate', issuer: 'issuing' });
    expect(web.version).toBe((await rt.store.getVersion('rekey/shop/web'))!.versionId);
    expect(JSON.stringify(rows)).not.toMatch(/PRIVATE KEY|"key"/);
  });

  it('export pem, env and p12 of the current or previous version; refuses unknown items and missing versions', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    const dir = join(root, 'export');
    // Act
    const pem = await exportItem(rt.deps, inventory, 'web', { format: 'pem' });
    const files = await exportItem(rt.deps, inventory, 'web', { format: 'pem', dir });
    const env = await exportItem(rt.deps, inventory, 'web', { format: 'env', dir, prefix: 'WEB' });
    const p12 = await exportItem(rt.deps, inventory, 'web', { format: 'p12', dir, password: 'pw' });
    // Assess
    expect(pem.stdout).toMatch(/BEGIN CERTIFICATE[\s\S]*BEGIN CERTIFICATE[\s\S]*BEGIN PRIVATE KEY[\s\S]*BEGIN CERTIFICATE/);
    expect(files.files.map((f) => [f.path, f.mode])).toEqual([
      [join(dir, 'ca.crt'), 0o644],
      [join(dir, 'tls.crt'), 0o644],
      [join(dir, 'tls.key'), 0o600],
    ]);
    expect(env.stdout).toBe(
      `export WEB_CA_CERT=${join(dir, 'ca.crt')}\nexport WEB_CLIENT_CERT=${join(dir, 'tls.crt')}\nexport WEB_CLIENT_KEY=${join(dir, 'tls.key')}\n`,
    );
    expect(p12.files[0]!.path).toBe(join(dir, 'web.p12'));
    await expect(exportItem(rt.deps, inventory, 'nope', { format: 'pem' })).rejects.toBeInstanceOf(UsageError);
    await expect(exportItem(rt.deps, inventory, 'web', { format: 'pem', stage: Stage.Previous })).rejects.toBeInstanceOf(NotFoundError);
    await expect(exportItem(rt.deps, inventory, 'web', { format: 'p12' })).rejects.toBeInstanceOf(UsageError);
  });

  it('export quotes a directory with spaces for the shell', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    // Act
    const env = await exportItem(rt.deps, inventory, 'web', { format: 'env', dir: join(root, "my 'certs'") });
    // Assess
    expect(env.stdout.split('\n')[0]).toBe(`export WEB_CA_CERT='${join(root, "my '\\''certs'\\''", 'ca.crt')}'`);
  });
});

describe('export of an authority', () => {
  it('hands out the certificate and the path to its root, never the CA key', async () => {
    // Prepare
    await apply(rt.deps, inventory);
    const dir = join(root, 'ca-export');
    // Act
    const pem = await exportItem(rt.deps, inventory, 'issuing', { format: 'pem' });
    const env = await exportItem(rt.deps, inventory, 'issuing', { format: 'env', dir, prefix: 'ISSUING' });
    const p12 = await exportItem(rt.deps, inventory, 'issuing', { format: 'p12', password: 'pw' }).catch((e: unknown) => e);
    // Assess
    expect(pem.stdout).not.toContain('PRIVATE KEY');
    expect(pem.stdout.match(/BEGIN CERTIFICATE/g)).toHaveLength(2); // issuing + root
    expect(env.files.map((f) => f.path)).toEqual([join(dir, 'ca.crt')]);
    expect(env.stdout).toBe(`export ISSUING_CA_CERT=${join(dir, 'ca.crt')}\n`);
    expect(p12).toBeInstanceOf(UsageError);
  });
});

describe('export of per-replica certificates', () => {
  it('needs the replica: the item alone or a replica that does not exist is a usage error naming the choices', async () => {
    // Prepare
    const inv = loadInventory(
      BASE +
        '  - {name: db, issuer: root, usage: server, commonName: db, perReplica: {statefulSet: db, replicas: 2}, secret: {name: db, namespace: shop}}\n',
    );
    const runtime = localRuntime(inv, join(root, 'replicas'));
    await apply(runtime.deps, inv);
    // Act
    const whole = await exportItem(runtime.deps, inv, 'db', { format: 'pem' }).catch((e: unknown) => e);
    const missing = await exportItem(runtime.deps, inv, 'db/2', { format: 'pem' }).catch((e: unknown) => e);
    const notReplicated = await exportItem(runtime.deps, inv, 'web/0', { format: 'pem' }).catch((e: unknown) => e);
    const one = await exportItem(runtime.deps, inv, 'db/1', { format: 'pem' });
    // Assess
    for (const e of [whole, missing]) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toBe('db has one certificate per replica: export one of db/0, db/1');
    }
    expect((notReplicated as Error).message).toBe('web has no replicas: export web');
    expect(one.stdout).toMatch(/BEGIN CERTIFICATE/);
  });
});
