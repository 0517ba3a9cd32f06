import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileVault } from '../../../shared/adapters/local/file-vault.js';
import { JsonJournal } from '../../../shared/adapters/local/json-journal.js';
import { RotationStatus } from '../../../shared/domain/rotation/record.js';
import { Stage } from '../../../shared/ports/secret-store.js';
import { runMain } from '../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { leafRecord } from '../../fixtures/rotation-record.js';

// `rekey recover`, `apply` and `rotate` through main(): what a killed run left is put right, and said.

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: shop}
authorities: [{name: ca, commonName: ca}]
certificates: [{name: web, issuer: ca, usage: server, commonName: web, secret: {name: web, namespace: shop}}]
`;
const KEY = randomBytes(32);
const env = { REKEY_VAULT_KEY: KEY.toString('hex') };

let root: string;
let file: string;
const args = (...verb: string[]) => ['--state', join(root, 'state'), ...verb, '-f', file, '--out', join(root, 'out')];
const vault = () => new FileVault(join(root, 'state', 'vault'), KEY);

beforeEach(async () => {
  root = await makeTempDir('rekey-recover-cli-');
  file = join(root, 'inv.yaml');
  writeFileSync(file, INVENTORY);
  expect((await runMain(args('apply'), env)).code).toBe(0);
});
afterEach(() => removeTempDir(root));

describe('rekey recover', () => {
  it('discards a pending version left by a killed apply, says so, and finds nothing the second time', async () => {
    // Prepare
    await vault().putPending('rekey/shop/web', 'left-by-a-kill', '{}');
    // Act
    const first = await runMain(args('recover'), env);
    const second = await runMain(args('recover'), env);
    // Assess
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('recovered: discarded pending version left-by-a-kill of web');
    expect(second.stdout).toContain('inventory shop: nothing to recover');
    expect(await vault().getVersion('rekey/shop/web', { stage: Stage.Pending })).toBeUndefined();
  });

  it('rotate of an item whose rotation was left running (issued, not promoted) resumes that one, then rotates: exit 0', async () => {
    // Prepare: the record and pending version a `rotate` killed after its issue step leaves
    const journal = new JsonJournal(join(root, 'state', 'journal'));
    const previous = (await vault().getVersion('rekey/shop/web'))!.versionId;
    const at = new Date().toISOString();
    await journal.create(
      leafRecord({
        id: 'killed-rotation',
        startedAt: at,
        updatedAt: at,
        previousVersions: { 'rekey/shop/web': previous },
        lease: { owner: 'cli:host:1:gone', expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
      }),
    );
    // Act
    const rotated = await runMain(args('rotate', 'web'), env);
    const json = await runMain(['--json', ...args('apply')], env);
    // Assess
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/recovered: resumed rotation killed-rotation of web from step issue -> completed/);
    expect((await journal.get('killed-rotation'))!.status).toBe(RotationStatus.Completed);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).recovered).toEqual([]);
  });
});
