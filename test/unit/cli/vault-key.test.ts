import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMain } from '../../fixtures/cli.js';
import { exists, makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const PGO = join(REPO_ROOT, 'examples', 'pgo.yaml');
const KEY = randomBytes(32).toString('hex');

let root: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-vault-key-');
});
afterAll(() => removeTempDir(root));

describe('REKEY_VAULT_KEY on the command line', () => {
  it('apply uses it (no vault.key written); status reads with it; a wrong or missing key is a clear error, not a stack', async () => {
    // Prepare
    const state = join(root, 'state');
    const args = ['-f', PGO, '--state', state];
    // Act
    const applied = await runMain(['apply', ...args, '--out', join(root, 'out')], { REKEY_VAULT_KEY: KEY });
    const same = await runMain(['--json', 'status', ...args], { REKEY_VAULT_KEY: KEY });
    const wrong = await runMain(['status', ...args], { REKEY_VAULT_KEY: randomBytes(32).toString('base64') });
    const none = await runMain(['status', ...args], { REKEY_VAULT_KEY: undefined });
    const badLength = await runMain(['status', ...args], { REKEY_VAULT_KEY: 'abc' });
    // Assess
    expect(applied.code, applied.stderr).toBe(0);
    expect(await exists(join(state, 'vault.key'))).toBe(false);
    expect(readdirSync(join(state, 'vault')).filter((f) => f.endsWith('.vault'))).toHaveLength(2);
    expect(same.code).toBe(0);
    expect((JSON.parse(same.stdout) as { items: Array<{ version?: string }> }).items.every((i) => i.version)).toBe(true);
    for (const r of [wrong, none]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot be decrypted \(wrong REKEY_VAULT_KEY or damaged file\)/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(badLength.code).toBe(2);
    expect(badLength.stderr).toMatch(/REKEY_VAULT_KEY must be 32 bytes/);
  });

  it('apply with a malformed REKEY_VAULT_KEY exits 2 and leaves no lock behind', async () => {
    // Prepare
    const state = join(root, 'state-bad-key');
    // Act
    const r = await runMain(['apply', '-f', PGO, '--state', state, '--out', join(root, 'out3')], { REKEY_VAULT_KEY: 'abc' });
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/REKEY_VAULT_KEY must be 32 bytes/);
    expect(await exists(join(state, 'lock'))).toBe(false);
    expect(await exists(join(state, 'vault'))).toBe(false);
  });

  it('without REKEY_VAULT_KEY, apply creates <state>/vault.key (0600) and the state folder is private (0700)', async () => {
    // Prepare
    const state = join(root, 'state-with-file');
    // Act
    const r = await runMain(['apply', '-f', PGO, '--state', state, '--out', join(root, 'out2')], { REKEY_VAULT_KEY: undefined });
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(state, 'vault.key')).mode & 0o777).toBe(0o600);
    expect(statSync(state).mode & 0o777).toBe(0o700);
    expect(await exists(join(state, 'lock'))).toBe(false);
  });
});
