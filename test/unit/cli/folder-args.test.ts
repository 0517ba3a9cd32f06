import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMain } from '../../fixtures/cli.js';
import { exists, makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

const PGO = join(REPO_ROOT, 'examples', 'pgo.yaml');
const NO_ENV = { REKEY_VAULT_KEY: undefined, KUBECONFIG: '/nonexistent' };

/** A folder this process cannot write, even as root (immutable), else by its mode. */
function unwritableFolder(path: string): void {
  mkdirSync(path, { recursive: true });
  if (process.getuid?.() === 0) {
    const r = spawnSync('chattr', ['+i', path]);
    if (r.status !== 0) throw new Error(`chattr +i ${path} failed: ${r.stderr.toString()}`);
  } else chmodSync(path, 0o500);
}
function writableAgain(path: string): void {
  if (process.getuid?.() === 0) spawnSync('chattr', ['-i', path]);
  else chmodSync(path, 0o700);
}

let root: string;
let readOnly: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-folder-args-');
  readOnly = join(root, 'read-only');
  unwritableFolder(readOnly);
  writeFileSync(join(root, 'a-file'), 'not a folder');
});
afterAll(async () => {
  writableAgain(readOnly);
  await removeTempDir(root);
});

describe('--state and --out are checked before any work', () => {
  it.each([
    [
      '--out on a file',
      (s: string) => ['apply', '-f', PGO, '--state', s, '--out', join(root, 'a-file')],
      /^rekey: --out .*a-file: not a folder$/,
    ],
    [
      '--out under a file',
      (s: string) => ['apply', '-f', PGO, '--state', s, '--out', join(root, 'a-file', 'out')],
      /^rekey: --out .*a-file\/out: not a folder$/,
    ],
    [
      '--out in a folder it cannot write',
      (s: string) => ['apply', '-f', PGO, '--state', s, '--out', readOnly],
      /^rekey: --out .*read-only: folder is not writable$/,
    ],
    [
      '--out below a folder it cannot write',
      (s: string) => ['apply', '-f', PGO, '--state', s, '--out', join(readOnly, 'x')],
      /^rekey: --out .*: cannot create it \(.*read-only is not writable\)$/,
    ],
    [
      '--state on a file (apply)',
      () => ['apply', '-f', PGO, '--state', join(root, 'a-file'), '--out', join(root, 'out')],
      /^rekey: --state .*a-file: not a folder$/,
    ],
    ['--state on a file (status)', () => ['status', '-f', PGO, '--state', join(root, 'a-file')], /^rekey: --state .*a-file: not a folder$/],
    [
      '--state on a file (plan)',
      () => ['plan', '-f', PGO, '--state', join(root, 'a-file'), '--out', join(root, 'out')],
      /^rekey: --state .*a-file: not a folder$/,
    ],
    [
      'an unwritable --state',
      () => ['apply', '-f', PGO, '--state', readOnly, '--out', join(root, 'out')],
      /^rekey: --state .*read-only: folder is not writable$/,
    ],
    [
      'a --state that cannot be created',
      () => ['apply', '-f', PGO, '--state', join(readOnly, 'state'), '--out', join(root, 'out')],
      /^rekey: --state .*: cannot create it/,
    ],
    [
      'a --state under /proc',
      () => ['apply', '-f', PGO, '--state', '/proc/rekey-state', '--out', join(root, 'out')],
      /^rekey: --state \/proc\/rekey-state: cannot create/,
    ],
  ])('%s: exit 2, one line, nothing written', async (label, argv, message) => {
    // Prepare
    const state = join(root, `state-${label.replace(/\W+/g, '-')}`);
    // Act
    const r = await runMain(argv(state), NO_ENV);
    // Assess
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
    expect(await exists(state)).toBe(false);
    expect(await exists(join(root, 'out'))).toBe(false);
    expect(readdirSync(readOnly)).toEqual([]);
  });
});
