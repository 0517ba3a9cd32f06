import { execFile } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBundle } from '../../../bin/fresh-bundle.js';
import { buildCli } from '../../../cli/tools/build-cli.js';
import { REPO_ROOT } from '../../fixtures/cli.js';
import { makeTempDir, removeTempDir, snapshotTree } from '../../fixtures/tmp.js';

const execFileAsync = promisify(execFile);

const INVENTORY = `apiVersion: rekey/v1
kind: Inventory
metadata: {name: bundle-check}
authorities: [{name: ca, commonName: bundle-ca}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web.shop.svc], secret: {name: web-tls, namespace: shop}}
credentials:
  - {name: db, type: password, secret: {name: db-password, namespace: shop}}
`;

/** The CLI as its own process: the bundle, or cli/main.ts through tsx (what bin/rekey.js falls back to). */
async function rekey(entry: 'bundle' | 'tsx', argv: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const args = entry === 'bundle' ? [bundle, ...argv] : ['--import', 'tsx', join(REPO_ROOT, 'cli/main.ts'), ...argv];
  return execFileAsync(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, REKEY_VAULT_KEY: undefined } });
}

/** What must match between the two runs: file names and each Secret's shape, not the fresh keys and certificates. */
async function outShape(dir: string): Promise<unknown[]> {
  return (await snapshotTree(dir)).map((f) => {
    const doc = load(Buffer.from(f.content, 'base64').toString('utf8')) as {
      kind: string;
      type?: string;
      metadata: { name: string; namespace?: string; labels?: object; annotations?: object };
      data?: object;
    };
    const { name, namespace, labels, annotations } = doc.metadata;
    return {
      path: f.path,
      mode: f.mode,
      kind: doc.kind,
      type: doc.type,
      name,
      namespace,
      labels,
      annotations: Object.keys(annotations ?? {}).sort(),
      keys: Object.keys(doc.data ?? {}).sort(),
    };
  });
}

let root: string;
let bundle: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-bundle-');
  bundle = (await buildCli(join(root, 'dist'))).bundle;
  writeFileSync(join(root, 'inventory.yaml'), INVENTORY);
}, 120_000);
afterAll(() => removeTempDir(root));

describe('the bundled CLI (npm run build:cli) behaves as the TypeScript run through tsx', () => {
  it('prints the same --version', async () => {
    // Act
    const [fromBundle, fromTsx] = await Promise.all([rekey('bundle', ['--version']), rekey('tsx', ['--version'])]);

    // Assert
    expect(fromBundle.stdout).toMatch(/^\d+\.\d+\.\d+/);
    expect(fromBundle.stdout).toBe(fromTsx.stdout);
  });

  it('applies a small inventory to --out with the same report and the same Secrets', async () => {
    // Act
    const runs = await Promise.all(
      (['bundle', 'tsx'] as const).map((entry) =>
        rekey(entry, [
          '--state',
          join(root, `state-${entry}`),
          'apply',
          '-f',
          join(root, 'inventory.yaml'),
          '--out',
          join(root, `out-${entry}`),
        ]),
      ),
    );

    // Assert
    const report = (r: { stderr: string; stdout: string }, entry: string) =>
      (r.stdout + r.stderr).replaceAll(join(root, `out-${entry}`), '<out>').replace(/done in [0-9.]+s/, 'done in <t>');
    expect(report(runs[0]!, 'bundle')).toBe(report(runs[1]!, 'tsx'));
    expect(report(runs[0]!, 'bundle')).toContain('3 version(s) made');
    const shape = await outShape(join(root, 'out-bundle'));
    expect(shape.length).toBeGreaterThan(0);
    expect(shape).toEqual(await outShape(join(root, 'out-tsx')));
  });
});

describe('bin/rekey.js runs the bundle only while it is up to date', () => {
  function fakePackage(dir: string, inputs: string[]): void {
    mkdirSync(join(dir, 'dist'), { recursive: true });
    mkdirSync(join(dir, 'cli'), { recursive: true });
    writeFileSync(join(dir, 'cli/main.ts'), '');
    writeFileSync(join(dir, 'dist/rekey.mjs'), '');
    writeFileSync(join(dir, 'dist/rekey.inputs.json'), JSON.stringify({ bundle: 'rekey.mjs', inputs }));
    utimesSync(join(dir, 'cli/main.ts'), 1000, 1000);
    utimesSync(join(dir, 'dist/rekey.mjs'), 2000, 2000);
  }

  it('uses the bundle when every input is older', async () => {
    const dir = join(root, 'fresh');
    fakePackage(dir, ['cli/main.ts']);
    expect(freshBundle(dir)).toBe(join(dir, 'dist/rekey.mjs'));
  });

  it('falls back when an input changed after the build, went missing, or no bundle was built', async () => {
    const changed = join(root, 'changed');
    fakePackage(changed, ['cli/main.ts']);
    utimesSync(join(changed, 'cli/main.ts'), 3000, 3000);
    const missing = join(root, 'missing');
    fakePackage(missing, ['cli/main.ts', 'cli/gone.ts']);

    expect(freshBundle(changed)).toBeUndefined();
    expect(freshBundle(missing)).toBeUndefined();
    expect(freshBundle(join(root, 'never-built'))).toBeUndefined();
  });
});
