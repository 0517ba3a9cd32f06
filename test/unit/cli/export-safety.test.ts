import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envPrefixOf } from '../../../shared/app/export.js';
import { runMain } from '../../fixtures/cli.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const INVENTORY = `
apiVersion: rekey/v1
kind: Inventory
metadata: {name: nine}
authorities: [{name: ca, commonName: ca}]
certificates:
  - {name: 9lives.x, issuer: ca, usage: client, commonName: cat, secret: {name: cat, namespace: shop}}
`;
const NO_ENV = { REKEY_VAULT_KEY: undefined, KUBECONFIG: '/nonexistent' };

let root: string;
let file: string;
let state: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-export-safety-');
  file = join(root, 'nine.yaml');
  state = join(root, 'state');
  writeFileSync(file, INVENTORY);
  const applied = await runMain(['apply', '-f', file, '--state', state, '--out', join(root, 'out')], NO_ENV);
  expect(applied.code, applied.stderr).toBe(0);
});
afterAll(() => removeTempDir(root));

const exportTo = (dir: string | undefined, ...extra: string[]) =>
  runMain(['export', '9lives.x', '-f', file, '--state', state, '--format', 'env', ...(dir ? ['--dir', dir] : []), ...extra], NO_ENV);

describe('export --dir never writes keys where others can reach them', () => {
  it('a symlink already at D/tls.key is replaced, not written through: its target keeps its content', async () => {
    // Prepare: the owner of "victim" planted D/tls.key -> victim to receive the key
    const dir = join(root, 'planted');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(root, 'victim'), 'untouched');
    symlinkSync(join(root, 'victim'), join(dir, 'tls.key'));
    // Act
    const r = await exportTo(dir);
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(root, 'victim'), 'utf8')).toBe('untouched');
    expect(lstatSync(join(dir, 'tls.key')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(dir, 'tls.key'), 'utf8')).toContain('PRIVATE KEY');
    expect(lstatSync(join(dir, 'tls.key')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
  });

  it.each([
    ['writable by others without the sticky bit', 0o777, /writable by group without the sticky bit \(mode 0777\)/],
    ['writable by its group without the sticky bit', 0o770, /writable by group without the sticky bit \(mode 0770\)/],
    ['writable by others only', 0o703, /writable by others without the sticky bit \(mode 0703\)/],
  ])('a folder %s is refused (exit 2, nothing written)', async (label, mode, message) => {
    // Prepare
    const dir = join(root, label.replace(/\W+/g, '-'));
    mkdirSync(dir);
    chmodSync(dir, mode);
    // Act
    const r = await exportTo(dir);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/refusing to write keys there/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a world-writable folder with the sticky bit (like /tmp) is fine: others cannot replace what rekey puts there', async () => {
    // Prepare
    const dir = join(root, 'sticky');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    // Act
    const r = await exportTo(dir);
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
  });

  it('a folder owned by another user is refused', async () => {
    // Prepare: only root can give a folder away; as another user, a folder of root's stands in
    const dir = process.getuid?.() === 0 ? join(root, 'someone-elses') : '/';
    if (process.getuid?.() === 0) {
      mkdirSync(dir, { mode: 0o755 });
      chownSync(dir, 12345, 12345);
    }
    // Act
    const r = await exportTo(dir);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/owned by uid \d+, not by this user/);
    if (process.getuid?.() === 0) expect(readdirSync(dir)).toEqual([]);
  });
});

describe('export --format env prints lines a shell can eval, and nothing else', () => {
  it.each(['X=1; touch pwned; Y', 'A B', '1ABC', 'PRE-FIX', '$(id)', ''])(
    '--prefix %j is refused before anything is written',
    async (prefix) => {
      // Prepare
      const dir = join(root, `prefix-${Buffer.from(prefix).toString('hex')}`);
      // Act
      const r = await exportTo(dir, '--prefix', prefix);
      // Assess
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--prefix must be a shell variable name/);
      expect(r.stdout).toBe('');
      expect(existsSync(dir)).toBe(false);
      expect(existsSync(join(process.cwd(), 'pwned'))).toBe(false);
    },
  );

  it('an item named 9lives.x gets the prefix _9LIVES_X, and bash evaluates the lines', async () => {
    // Prepare
    const dir = join(root, 'nine');
    // Act
    const r = await exportTo(dir);
    const shell = spawnSync(
      'bash',
      ['-c', 'eval "$EXPORTS" && printf "%s\\n" "$_9LIVES_X_CA_CERT" "$_9LIVES_X_CLIENT_CERT" "$_9LIVES_X_CLIENT_KEY"'],
      { env: { PATH: process.env.PATH, EXPORTS: r.stdout } },
    );
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(shell.status, shell.stderr.toString()).toBe(0);
    expect(shell.stdout.toString().trim().split('\n')).toEqual([join(dir, 'ca.crt'), join(dir, 'tls.crt'), join(dir, 'tls.key')]);
  });

  it.each([
    ['postgres-operator', 'POSTGRES_OPERATOR'],
    ['9lives.x', '_9LIVES_X'],
    ['a.b-c', 'A_B_C'],
    ['-x-', 'X'],
    ['...', '_'],
  ])('envPrefixOf(%j) is the identifier %s', (name, prefix) => {
    expect(envPrefixOf(name)).toBe(prefix);
    expect(prefix).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });

  it('without --dir, env files go under <state>/export/<item>, not under the working directory', async () => {
    // Act
    const r = await exportTo(undefined);
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`export _9LIVES_X_CLIENT_KEY=${join(state, 'export', '9lives.x', 'tls.key')}`);
    expect(readdirSync(join(state, 'export', '9lives.x')).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(existsSync(join(process.cwd(), '.rekey', 'export', '9lives.x'))).toBe(false);
  });
});
