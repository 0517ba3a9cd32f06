import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply } from '../../../shared/app/apply.js';
import { exportItem } from '../../../shared/app/export.js';
import { UsageError } from '../../../shared/domain/errors.js';
import { loadInventory } from '../../../shared/domain/inventory/load.js';
import type { Inventory } from '../../../shared/domain/inventory/model.js';
import { openssl } from '../../fixtures/openssl.js';
import { localRuntime, type TestRuntime } from '../../fixtures/runtime.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities:
  - {name: root, commonName: shop root, key: ECDSA-P384}
  - {name: issuing, commonName: shop issuing, key: RSA-2048, parent: root, validity: 8760h}
certificates:
  - {name: web, issuer: issuing, usage: server, commonName: web, dnsNames: [web], secret: {name: web, namespace: shop}}
  - {name: api, issuer: root, usage: client, key: Ed25519, commonName: api, secret: {name: api, namespace: shop}}
`;
const PASSWORD = 'export chain pw';

let root: string;
let inventory: Inventory;
let rt: TestRuntime;

beforeEach(async () => {
  root = await makeTempDir('rekey-export-chain-');
  inventory = loadInventory(INVENTORY);
  rt = localRuntime(inventory, root);
  await apply(rt.deps, inventory);
});
afterEach(() => removeTempDir(root));

/** Subjects of the certificates in a PKCS#12 file, as openssl reads them. */
async function subjectsIn(content: string | Buffer): Promise<string[]> {
  const path = join(root, `p12-${Math.random().toString(36).slice(2)}.p12`);
  await writeFile(path, content);
  const r = openssl(['pkcs12', '-in', path, '-nokeys', '-passin', `pass:${PASSWORD}`]);
  expect(r.status, r.stderr).toBe(0);
  return [...r.stdout.matchAll(/^subject=(.*)$/gm)].map((m) => m[1]!.trim());
}

describe('export --format p12 --chain', () => {
  it.each([
    ['web', undefined, ['CN = web', 'CN = shop issuing']],
    ['web', 'intermediates' as const, ['CN = web', 'CN = shop issuing']],
    ['web', 'full' as const, ['CN = web', 'CN = shop issuing', 'CN = shop root']],
    ['api', undefined, ['CN = api']],
    ['api', 'full' as const, ['CN = api', 'CN = shop root']],
  ])('%s with chain %s holds %j', async (name, chain, expected) => {
    // Act
    const result = await exportItem(rt.deps, inventory, name, { format: 'p12', dir: root, password: PASSWORD, ...(chain && { chain }) });
    // Assess
    expect(result.files).toHaveLength(1);
    expect(await subjectsIn(result.files[0]!.content)).toEqual(expected);
  });

  it('the full chain verifies with openssl from the exported PKCS#12 alone', async () => {
    // Prepare
    const result = await exportItem(rt.deps, inventory, 'web', { format: 'p12', dir: root, password: PASSWORD, chain: 'full' });
    const p12 = join(root, 'full.p12');
    await writeFile(p12, result.files[0]!.content);
    const certs = openssl(['pkcs12', '-in', p12, '-nokeys', '-passin', `pass:${PASSWORD}`]).stdout;
    const blocks = certs.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    await writeFile(join(root, 'leaf.pem'), blocks[0]);
    await writeFile(join(root, 'inter.pem'), blocks[1]!);
    await writeFile(join(root, 'root.pem'), blocks[2]!);
    // Act
    const r = openssl(['verify', '-CAfile', join(root, 'root.pem'), '-untrusted', join(root, 'inter.pem'), join(root, 'leaf.pem')]);
    // Assess
    expect(r.stdout.trim()).toBe(`${join(root, 'leaf.pem')}: OK`);
  });

  it('--chain full with pem or env is a usage error (their ca.crt holds the root)', async () => {
    // Act
    const pem = exportItem(rt.deps, inventory, 'web', { format: 'pem', chain: 'full' });
    const env = exportItem(rt.deps, inventory, 'web', { format: 'env', dir: root, chain: 'full' });
    // Assess
    await expect(pem).rejects.toBeInstanceOf(UsageError);
    await expect(env).rejects.toBeInstanceOf(UsageError);
  });
});
