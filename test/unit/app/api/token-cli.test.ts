import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readApiSigningKey } from '../../../../shared/app/api/signing-key.js';
import { FileVault } from '../../../../shared/adapters/local/file-vault.js';
import { loadVaultKey } from '../../../../shared/adapters/local/vault-key.js';
import { runMain } from '../../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { INVENTORY } from './fixture.js';

let root: string;
let inv: string;
beforeEach(async () => {
  root = await makeTempDir('rekey-token-');
  inv = join(root, 'inv.yaml');
  await writeFile(inv, INVENTORY);
});
afterEach(() => removeTempDir(root));

describe('rekey token', () => {
  it('prints only a token: ES256, kid of the stored key (made on first use), iss, aud, scopes, ttl', async () => {
    const res = await runMain(['--state', join(root, 'st'), 'token', '-f', inv, '--scope', 'metrics:read log:write', '--ttl', '2h']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = res.stdout.trim();
    const claims = decodeJwt(token);
    const key = await readApiSigningKey(
      new FileVault(join(root, 'st', 'vault'), (await loadVaultKey(join(root, 'st'), {}, { create: false }))!),
      'shop',
    );
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid: key!.kid });
    expect(claims).toMatchObject({ iss: 'rekey/shop', aud: 'rekey-api', sub: 'operator', scope: 'metrics:read log:write' });
    expect(claims.exp! - claims.iat!).toBe(7200);
    expect(res.stderr).toBe('');
  });

  it('mints enrolment scopes (enrol:<profile>, enrol:<profile>:revoke) beside the API ones', async () => {
    // Act
    const res = await runMain([
      '--state',
      join(root, 'st'),
      'token',
      '-f',
      inv,
      '--scope',
      'enrol:backup-clients enrol:backup-clients:revoke',
    ]);
    const bad = await runMain(['--state', join(root, 'st'), 'token', '-f', inv, '--scope', 'enrol:a:b']);
    // Assess
    expect(res.code, res.stderr).toBe(0);
    expect(decodeJwt(res.stdout.trim())).toMatchObject({ scope: 'enrol:backup-clients enrol:backup-clients:revoke' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown scope(s): enrol:a:b');
  });

  it('refuses an unknown scope and a bad ttl with exit 2, writing nothing', async () => {
    const bad = await runMain(['--state', join(root, 'st'), 'token', '-f', inv, '--scope', 'admin']);
    const ttl = await runMain(['--state', join(root, 'st'), 'token', '-f', inv, '--scope', 'items:read', '--ttl', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown scope(s): admin');
    expect(ttl.code).toBe(2);
    expect(bad.stdout + ttl.stdout).toBe('');
  });
});
