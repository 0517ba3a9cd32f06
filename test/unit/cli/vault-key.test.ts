import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/cannot be decrypted \(wrong REKEY_VAULT_KEY or damaged file\)/);
    // no key at all next to a vault: named as such, not as a decryption failure
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/vault exists but its key is missing/);
    for (const r of [wrong, none]) expect(r.stderr).not.toMatch(/\n\s+at /);
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

  it('REKEY_VAULT_KEY in base64 with junk characters, or of the wrong length, is refused (strict decoding)', async () => {
    // Prepare: base64 that a lenient decoder turns into 32 bytes by skipping the junk
    const b64 = randomBytes(32).toString('base64');
    const state = join(root, 'state-junk-b64');
    const cases = [
      `${b64.slice(0, 10)}!!${b64.slice(10)}`,
      `${b64.slice(0, 20)} ${b64.slice(20)}`,
      `${b64}AAAA`,
      b64.slice(0, 40),
      `${KEY.slice(0, 63)}g`,
    ];
    // Act
    const runs = [];
    for (const c of cases) runs.push(await runMain(['status', '-f', PGO, '--state', state], { REKEY_VAULT_KEY: c }));
    const good = await runMain(['status', '-f', PGO, '--state', state], { REKEY_VAULT_KEY: b64 });
    const unpadded = await runMain(['status', '-f', PGO, '--state', state], { REKEY_VAULT_KEY: b64.replace(/=+$/, '') });
    // Assess
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/REKEY_VAULT_KEY must be 32 bytes/);
    }
    expect(good.code, good.stderr).toBe(0);
    expect(unpadded.code, unpadded.stderr).toBe(0);
  });
});

describe('<state>/vault.key', () => {
  it.each([
    ['junk', 'not a key at all\n'],
    ['short hex', 'abcdef0123\n'],
    ['hex with a junk character', `${KEY.slice(0, 63)}z\n`],
    [
      'base64 with a junk character',
      `${randomBytes(32)
        .toString('base64')
        .replace(/^(.{5})/, '$1#')}\n`,
    ],
    ['empty', ''],
  ])('%s in vault.key is a clear error naming the file, not a stack trace, and nothing is written', async (_label, content) => {
    // Prepare
    const state = join(root, `state-bad-file-${_label.replace(/\W+/g, '-')}`);
    mkdirSync(state, { recursive: true, mode: 0o700 });
    writeFileSync(join(state, 'vault.key'), content, { mode: 0o600 });
    // Act
    const applied = await runMain(['apply', '-f', PGO, '--state', state, '--out', join(state, 'out')], { REKEY_VAULT_KEY: undefined });
    const status = await runMain(['status', '-f', PGO, '--state', state], { REKEY_VAULT_KEY: undefined });
    // Assess
    for (const r of [applied, status]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/vault\.key is not a vault key \(expected 64 hex characters or base64 of 32 bytes\)/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(readdirSync(state).sort()).toEqual(['vault.key']);
  });

  it('a vault.key readable by group or others works but is warned about, naming the fix', async () => {
    // Prepare
    const state = join(root, 'state-open-key');
    mkdirSync(state, { recursive: true, mode: 0o700 });
    writeFileSync(join(state, 'vault.key'), `${KEY}\n`);
    chmodSync(join(state, 'vault.key'), 0o644);
    // Act
    const r = await runMain(['apply', '-f', PGO, '--state', state, '--out', join(root, 'out-open')], { REKEY_VAULT_KEY: undefined });
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/vault\.key is readable by group or others \(mode 0644\): run chmod 600 /);
    expect(r.stderr).not.toContain(KEY);
  });

  it('vault.key deleted while the vault holds secrets: apply and status refuse, and no new key is made', async () => {
    // Prepare
    const state = join(root, 'state-lost-key');
    const first = await runMain(['apply', '-f', PGO, '--state', state, '--out', join(root, 'out-lost')], { REKEY_VAULT_KEY: undefined });
    expect(first.code, first.stderr).toBe(0);
    rmSync(join(state, 'vault.key'));
    const vaultBefore = readdirSync(join(state, 'vault')).sort();
    // Act
    const applied = await runMain(['apply', '-f', PGO, '--state', state, '--out', join(root, 'out-lost')], { REKEY_VAULT_KEY: undefined });
    const status = await runMain(['status', '-f', PGO, '--state', state], { REKEY_VAULT_KEY: undefined });
    // Assess
    for (const r of [applied, status]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /vault exists but its key is missing: .* holds 2 secret\(s\) and .*vault\.key is gone; restore vault\.key from a backup or set REKEY_VAULT_KEY/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await exists(join(state, 'vault.key'))).toBe(false);
    expect(readdirSync(join(state, 'vault')).sort()).toEqual(vaultBefore);
  });

  it('a vault file put back from before a rotation: apply refuses with a clear error and writes no Secret', async () => {
    // Prepare: issue, keep a copy of the certificate's vault file, rotate, put the copy back
    const state = join(root, 'state-rollback');
    const out = join(root, 'out-rollback');
    const args = ['-f', PGO, '--state', state, '--out', out];
    expect((await runMain(['apply', ...args], { REKEY_VAULT_KEY: undefined })).code).toBe(0);
    const file = readdirSync(join(state, 'vault')).find((f) => f.endsWith('.vault') && f.includes('postgres-operator'))!;
    copyFileSync(join(state, 'vault', file), join(root, 'rollback-copy'));
    const rotated = await runMain(['rotate', 'postgres-operator', ...args], { REKEY_VAULT_KEY: undefined });
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const manifests = snapshotFiles(out);
    copyFileSync(join(root, 'rollback-copy'), join(state, 'vault', file));
    // Act
    const applied = await runMain(['apply', ...args], { REKEY_VAULT_KEY: undefined });
    // Assess
    expect(applied.code).toBe(1);
    expect(applied.stderr).toMatch(
      /is an older copy \(generation \d+, the vault index records \d+\).*was put back from an earlier state; refusing to use it/,
    );
    expect(applied.stderr).not.toMatch(/\n\s+at /);
    expect(snapshotFiles(out)).toEqual(manifests);
  });
});

/** Every file under `dir` with its content. */
function snapshotFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files[join(entry.parentPath, entry.name)] = readFileSync(join(entry.parentPath, entry.name), 'utf8');
  }
  return files;
}
