import { readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManifestWriter } from '../../../../shared/adapters/local/manifest-writer.js';
import { IntegrityError, UnmanagedObjectError } from '../../../../shared/domain/errors.js';
import type { DesiredSecret } from '../../../../shared/ports/cluster.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';

let root: string;
let writer: ManifestWriter;

beforeEach(async () => {
  root = await makeTempDir('rekey-manifests-');
  writer = new ManifestWriter(join(root, 'dc1'));
});
afterEach(() => removeTempDir(root));

const desired = (overrides: Partial<DesiredSecret> = {}): DesiredSecret => ({
  name: 'web.tls',
  namespace: 'shop',
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': 'CERT\n', 'tls.key': 'KEY\n', 'ca.crt': 'CA: "quoted" ünïcode\n' },
  labels: { 'app.kubernetes.io/managed-by': 'rekey' },
  annotations: { 'rekey/version': 'v1', 'rekey/not-after': '2030-01-01T00:00:00.000Z', 'rekey/yes': 'true', 'rekey/number': '0123' },
  ...overrides,
});

describe('ManifestWriter', () => {
  it('writes DIR/<namespace>/<name>.yaml as a v1 Secret with base64 data, mode 0600, and reads it back exactly', async () => {
    // Act
    const outcome = await writer.writeSecret(desired(), { adopt: false });
    const file = join(root, 'dc1', 'shop', 'web.tls.yaml');
    const manifest = load(await readFile(file, 'utf8')) as Record<string, any>;
    const observed = await writer.getSecret('shop', 'web.tls');
    // Assess
    expect(outcome).toBe('created');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(manifest).toMatchObject({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'web.tls', namespace: 'shop' },
    });
    expect(Buffer.from(manifest.data['tls.key'], 'base64').toString()).toBe('KEY\n');
    // strings that look like booleans, numbers or dates stay strings (any YAML 1.1 reader, kubectl included)
    expect(manifest.metadata.annotations).toEqual(desired().annotations);
    expect(observed).toEqual({
      name: 'web.tls',
      namespace: 'shop',
      type: 'kubernetes.io/tls',
      data: desired().data,
      labels: desired().labels,
      annotations: desired().annotations,
    });
    expect(writer.writes).toEqual(['shop/web.tls']);
  });

  it('reports an update when the Secret exists, and lists the namespace', async () => {
    // Prepare
    await writer.writeSecret(desired(), { adopt: false });
    await writer.writeSecret(desired({ name: 'other' }), { adopt: false });
    // Act
    const outcome = await writer.writeSecret(desired({ annotations: { 'rekey/version': 'v2' } }), { adopt: false });
    const listed = await writer.listSecrets('shop');
    // Assess
    expect(outcome).toBe('updated');
    expect(listed.map((s) => s.name).sort()).toEqual(['other', 'web.tls']);
    expect(listed.find((s) => s.name === 'web.tls')!.annotations['rekey/version']).toBe('v2');
    expect(await writer.listSecrets('empty')).toEqual([]);
    expect(await writer.getSecret('shop', 'missing')).toBeUndefined();
  });

  it('refuses to overwrite a Secret it does not manage unless adopt is set', async () => {
    // Prepare: a hand-made manifest with stringData and no rekey label
    await mkdir(join(root, 'dc1', 'shop'), { recursive: true });
    const file = join(root, 'dc1', 'shop', 'web.tls.yaml');
    const original =
      'apiVersion: v1\nkind: Secret\nmetadata: {name: web.tls, namespace: shop}\ntype: Opaque\nstringData: {password: hunter2}\n';
    await writeFile(file, original);
    // Act
    const refused = await writer.writeSecret(desired(), { adopt: false }).catch((e: unknown) => e);
    const untouched = await readFile(file, 'utf8');
    const observed = await writer.getSecret('shop', 'web.tls');
    const adopted = await writer.writeSecret(desired(), { adopt: true });
    // Assess
    expect(refused).toBeInstanceOf(UnmanagedObjectError);
    expect(untouched).toBe(original);
    expect(observed!.data).toEqual({ password: 'hunter2' });
    expect(adopted).toBe('updated');
    expect((await writer.getSecret('shop', 'web.tls'))!.labels['app.kubernetes.io/managed-by']).toBe('rekey');
  });

  it('ignores files that are not Secret manifests when listing', async () => {
    // Prepare
    await writer.writeSecret(desired(), { adopt: false });
    await writeFile(join(root, 'dc1', 'shop', 'notes.txt'), 'hello');
    await writeFile(join(root, 'dc1', 'shop', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n');
    // Act
    const listed = await writer.listSecrets('shop');
    // Assess
    expect(listed.map((s) => s.name)).toEqual(['web.tls']);
  });
});

describe('ManifestWriter, folders', () => {
  it('makes a namespace folder again when it was removed after its first write', async () => {
    // Prepare
    await writer.writeSecret(desired(), { adopt: false });
    await rm(join(root, 'dc1', 'shop'), { recursive: true });
    // Act
    const outcome = await writer.writeSecret(desired({ name: 'api.tls' }), { adopt: false });
    // Assess
    expect(outcome).toBe('created');
    expect((await writer.getSecret('shop', 'api.tls'))?.name).toBe('api.tls');
  });
});

describe('ManifestWriter with a broken file in the output folder', () => {
  it('names the file that is not YAML instead of failing with a parser stack trace', async () => {
    // Prepare
    await mkdir(join(root, 'dc1', 'shop'), { recursive: true });
    await writeFile(join(root, 'dc1', 'shop', 'notes.yaml'), 'foo: [unclosed\n');
    await writeFile(join(root, 'dc1', 'shop', 'web.tls.yaml'), 'kind: Secret\nmetadata: {name: web.tls\n');
    // Act
    const listed = await writer.listSecrets('shop').catch((e: unknown) => e);
    const got = await writer.getSecret('shop', 'web.tls').catch((e: unknown) => e);
    // Assess
    expect(listed).toBeInstanceOf(IntegrityError);
    expect((listed as Error).message).toMatch(/dc1\/shop\/(notes|web\.tls)\.yaml is not valid YAML/);
    expect(got).toBeInstanceOf(IntegrityError);
    expect((got as Error).message).toContain(join(root, 'dc1', 'shop', 'web.tls.yaml'));
  });
});

describe('ManifestWriter as the only writer of its folder (sole)', () => {
  it('a Secret without a file is absent from the folder listing, an unmanaged one found there is still refused, a written one reads back', async () => {
    // Prepare: a file of the user's in the folder before the writer lists it
    await mkdir(join(root, 'dc1', 'shop'), { recursive: true });
    await writeFile(
      join(root, 'dc1', 'shop', 'theirs.yaml'),
      'apiVersion: v1\nkind: Secret\nmetadata: {name: theirs, namespace: shop}\ntype: Opaque\n',
    );
    const sole = new ManifestWriter(join(root, 'dc1'), { sole: true });
    // Act
    const absent = await sole.getSecret('shop', 'web.tls');
    const refused = await sole.writeSecret(desired({ name: 'theirs' }), { adopt: false }).catch((e: unknown) => e);
    const outcome = await sole.writeSecret(desired(), { adopt: false });
    const again = await sole.writeSecret(desired(), { adopt: false });
    // Assess
    expect(absent).toBeUndefined();
    expect(refused).toBeInstanceOf(UnmanagedObjectError);
    expect(outcome).toBe('created');
    expect(again).toBe('updated');
    expect((await sole.getSecret('shop', 'web.tls'))?.data['tls.crt']).toBe('CERT\n');
  });
});
