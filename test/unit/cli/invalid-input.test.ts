import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain, spawnCli } from '../../fixtures/cli.js';
import { baseDoc, BROKEN_INVENTORIES, yamlOf } from '../../fixtures/inventories.js';
import { exists, makeTempDir, removeTempDir, snapshotTree, type TreeEntry } from '../../fixtures/tmp.js';

/**
 * Invalid input of any kind: exit code 2, the field path on stderr, nothing on stdout (no stack trace anywhere),
 * and the state folder untouched: still missing if it was missing, byte-identical (and same mtimes) if not.
 */

const PICKED = [
  'unknown field at top level',
  'unknown field in a certificate',
  'duplicate names across kinds',
  'unknown issuer',
  'parent cycle a -> b -> a',
  'days are not a duration',
  'renewBefore equal to validity',
  'leaf outlives its CA',
  'intermediate outlives its parent',
  'bad key type',
  'bad usage',
  'bad IPv4 address',
  'bad DNS name',
  'bad Secret name',
  'unknown cluster in secret.clusters',
  'two items write the same Secret',
  'restart within with policy none',
  'bad consumer kind',
  'duration beyond Go range',
];
const cases = [
  ...BROKEN_INVENTORIES.filter((c) => PICKED.includes(c.name)).map((c) => {
    const doc = baseDoc();
    c.mutate(doc);
    return { name: c.name, text: yamlOf(doc), path: c.path };
  }),
  { name: 'YAML syntax error', text: yamlOf(baseDoc()).replace('kind: Inventory', 'kind: [Inventory'), path: 'line ' },
  { name: 'duplicate YAML key', text: yamlOf(baseDoc()) + 'kind: Inventory\n', path: 'line ' },
];

const COMMANDS: Record<string, (file: string, out: string) => string[]> = {
  validate: (f) => ['validate', '-f', f],
  plan: (f, out) => ['plan', '-f', f, '--out', out],
  apply: (f, out) => ['apply', '-f', f, '--out', out],
  rotate: (f, out) => ['rotate', 'web', '-f', f, '--out', out],
  status: (f) => ['status', '-f', f],
  export: (f, out) => ['export', 'web', '-f', f, '--format', 'pem', '--dir', join(out, 'export')],
};
const NO_ENV = { REKEY_VAULT_KEY: undefined, REKEY_STATE: undefined, KUBECONFIG: undefined };
const STACK = /\n\s+at .+:\d+/;

let root: string;
let validFile: string;
let state: string;
let out: string;
let stateBefore: TreeEntry[];
let outBefore: TreeEntry[];

beforeAll(async () => {
  root = await makeTempDir('rekey-invalid-');
  await mkdir(join(root, 'inventories'));
  for (const [i, c] of cases.entries()) await writeFile(join(root, 'inventories', `broken-${i}.yaml`), c.text);
  validFile = join(root, 'inventories', 'valid.yaml');
  await writeFile(validFile, yamlOf(baseDoc()));
  // An existing state and output, made by a valid apply
  state = join(root, 'state');
  out = join(root, 'out');
  const r = await runMain(['apply', '-f', validFile, '--out', out, '--state', state], NO_ENV);
  if (r.code !== 0) throw new Error(`setup apply failed: ${r.stderr}`);
  stateBefore = await snapshotTree(state);
  outBefore = await snapshotTree(out);
}, 60_000);
afterAll(() => removeTempDir(root));

describe('broken inventories are refused by every command, changing nothing', () => {
  it('there are enough kinds of broken inventory', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases.map((c, i) => ({ ...c, i })))('$name', async ({ i, path }) => {
    const file = join(root, 'inventories', `broken-${i}.yaml`);
    for (const [command, args] of Object.entries(COMMANDS)) {
      // Act: with the existing state, and with a state folder that does not exist
      const existing = await runMain([...args(file, out), '--state', state], NO_ENV);
      const missingState = join(root, `missing-${i}-${command}`);
      const missingOut = join(root, `missing-out-${i}-${command}`);
      const fresh = await runMain([...args(file, missingOut), '--state', missingState], NO_ENV);
      // Assess
      for (const r of [existing, fresh]) {
        expect(r.code, `${command}: ${r.stderr}`).toBe(2);
        expect(r.stderr, command).toContain(path);
        expect(r.stderr, command).toMatch(/invalid inventory/);
        expect(r.stdout, command).toBe('');
        expect(r.stderr, command).not.toMatch(STACK);
      }
      expect(await exists(missingState), command).toBe(false);
      expect(await exists(missingOut), command).toBe(false);
    }
    expect(await snapshotTree(state)).toEqual(stateBefore);
    expect(await snapshotTree(out)).toEqual(outBefore);
  });

  it('with --json the error is also one JSON document on stdout, with every issue and its path', async () => {
    // Prepare
    const i = cases.findIndex((c) => c.name === 'unknown issuer');
    // Act
    const r = await runMain(['--json', 'validate', '-f', join(root, 'inventories', `broken-${i}.yaml`)], NO_ENV);
    // Assess
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { error: { type: string; issues: Array<{ path: string; message: string }> } };
    expect(doc.error.type).toBe('InvalidInventoryError');
    expect(doc.error.issues).toContainEqual({ path: 'certificates[3].issuer', message: 'unknown authority "mgmt-ca"' });
  });
});

describe('usage errors exit 2', () => {
  it.each([
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['an unknown option', ['apply', '-f', 'x.yaml', '--bogus'], /unknown option '--bogus'/],
    ['a missing -f', ['plan'], /required option '-f, --file <inventory>' not specified/],
    ['a missing argument', ['rotate', '-f', 'x.yaml'], /missing required argument 'name'/],
    ['an unknown export format', ['export', 'web', '-f', 'x.yaml', '--format', 'der'], /Allowed choices are pem, env, p12/],
    [
      'an unknown version stage',
      ['export', 'web', '-f', 'x.yaml', '--version-stage', 'oldest'],
      /Allowed choices are current, previous, pending/,
    ],
    [
      'an unreadable inventory file',
      ['validate', '-f', '/nonexistent/inventory.yaml'],
      /cannot read inventory \/nonexistent\/inventory.yaml: ENOENT/,
    ],
  ])('%s', async (_label, argv, message) => {
    // Act
    const r = await runMain([...argv, '--state', join(root, 'usage-state')], NO_ENV);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK);
    expect(await exists(join(root, 'usage-state'))).toBe(false);
  });

  it('rotate and export of an item the inventory does not have exit 2 and name it, changing nothing', async () => {
    // Act
    const rotate = await runMain(['rotate', 'no-such-item', '-f', validFile, '--out', out, '--state', state], NO_ENV);
    const exported = await runMain(['export', 'no-such-item', '-f', validFile, '--state', state], NO_ENV);
    // Assess
    for (const r of [rotate, exported]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('"no-such-item"');
      expect(r.stdout).toBe('');
    }
    expect(await snapshotTree(state)).toEqual(stateBefore);
    expect(await snapshotTree(out)).toEqual(outBefore);
  });

  it('apply without --out and without a kubeconfig is a usage error', async () => {
    // Act
    const r = await runMain(['apply', '-f', validFile, '--state', join(root, 'no-target-state')], {
      ...NO_ENV,
      KUBECONFIG: '/nonexistent',
      HOME: root,
    });
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out/);
    expect(await exists(join(root, 'no-target-state'))).toBe(false);
  });

  it.each([
    ['REKEY_FILE_WRITER', 'yes', /REKEY_FILE_WRITER=yes: expected 1 .* or 0/],
    ['REKEY_SIGN_WORKERS', 'two', /REKEY_SIGN_WORKERS=two: expected a number of worker threads/],
  ])('apply with %s=%s exits 2 and creates neither the state folder nor the output', async (name, value, message) => {
    // Act
    const state = join(root, `env-${name}-state`);
    const output = join(root, `env-${name}-out`);
    const r = await runMain(['apply', '-f', validFile, '--state', state, '--out', output], { ...NO_ENV, [name]: value });
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK);
    expect(await exists(state)).toBe(false);
    expect(await exists(output)).toBe(false);
  });

  it('help exits 0', async () => {
    const r = await runMain(['export', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--version-stage/);
  });
});

describe('as a process (exit status, streams)', () => {
  it('the rekey process exits 2 on invalid input and 0 on success, with no stack trace', async () => {
    // Prepare
    const broken = join(root, 'inventories', `broken-${cases.findIndex((c) => c.name === 'unknown issuer')}.yaml`);
    const freshState = join(root, 'process-state');
    // Act: in parallel, each is a separate process (usage errors and missing items are covered in-process above)
    const [invalid, ok] = await Promise.all([
      spawnCli(['apply', '-f', broken, '--out', join(root, 'process-out'), '--state', freshState]),
      spawnCli(['--json', 'plan', '-f', validFile, '--out', out, '--state', state]),
    ]);
    // Assess
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toContain('certificates[3].issuer: unknown authority "mgmt-ca"');
    expect(invalid.stdout).toBe('');
    expect(await exists(freshState)).toBe(false);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ actions: [], warnings: [] });
    for (const r of [invalid, ok]) expect(r.stdout + r.stderr).not.toMatch(STACK);
    expect(await snapshotTree(state)).toEqual(stateBefore);
  }, 30_000);
});
