import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../cli/tools/build-cli.js';
import { openssl, run } from '../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { loadInfraEnv } from '../infra/env.js';
import { syntheticInventory } from '../bench/inventory-gen.js';

/**
 * The bundled CLI on Node 22 (the machine's node, which runs every other CLI test, is 20): an apply large enough to
 * start both of its threads (signing workers past the first 32 leaves, the file writer past the first 128 files),
 * then a second apply that finds nothing to do.
 */

const LEAVES = 150;
const INVENTORY = syntheticInventory({ name: 'node22-cli', certificates: LEAVES, authorities: 1, namespaces: 1, clusters: ['default'] });

let root: string;
let bundle: string;
let node22: string;
beforeAll(async () => {
  node22 = loadInfraEnv({ require: ['node22'] }).node22Path;
  root = await makeTempDir('rekey-cli-node22-');
  bundle = (await buildCli(join(root, 'dist'))).bundle;
  writeFileSync(join(root, 'inventory.yaml'), INVENTORY);
}, 120_000);
afterAll(() => removeTempDir(root));

const apply = () =>
  run(node22, [bundle, '--state', join(root, 'state'), 'apply', '-f', join(root, 'inventory.yaml'), '--out', join(root, 'out'), '--json'], {
    env: { ...process.env, REKEY_VAULT_KEY: undefined, REKEY_SIGN_WORKERS: '1', REKEY_LOG_LEVEL: 'debug' },
    timeoutMs: 120_000,
  });

describe('the bundled CLI on Node 22', () => {
  it('applies through its signing worker and file writer thread, certificates verify, and a second apply changes nothing', async () => {
    // Act
    const first = await apply();
    const second = await apply();

    // Assess: both threads ran, nothing warned, the last leaf verifies under the CA and matches its key
    expect(first.status, first.stderr).toBe(0);
    expect((await run(node22, ['--version'])).stdout.trim()).toMatch(/^v22\./);
    expect(first.stderr).toContain('debug: signing leaves on worker threads workers=1');
    expect(first.stderr).toContain('debug: writing files on a thread of their own');
    expect(Number(/onWorkers=(\d+)/.exec(first.stderr)?.[1])).toBeGreaterThan(0);
    expect(first.stderr).not.toMatch(/^(warn|error):/m);
    const secret = load(readFileSync(join(root, 'out', 'default', 'ns-0', `svc-${LEAVES - 1}-tls.yaml`), 'utf8')) as {
      data: Record<string, string>;
    };
    const part = (key: string) => {
      const path = join(root, key);
      writeFileSync(path, Buffer.from(secret.data[key]!, 'base64'));
      return path;
    };
    const cert = part('tls.crt');
    expect(openssl(['verify', '-CAfile', part('ca.crt'), cert]).stdout.trim()).toBe(`${cert}: OK`);
    expect(openssl(['pkey', '-pubout', '-in', part('tls.key')]).stdout).toBe(openssl(['x509', '-pubkey', '-noout', '-in', cert]).stdout);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('signing leaves on worker threads');
    const report = (r: { stdout: string }) => JSON.parse(r.stdout) as { decisions: unknown[]; sync: { secrets: { change: string }[] } };
    expect(report(first).decisions).toHaveLength(LEAVES + 1);
    expect(report(second).decisions).toEqual([]);
    expect(new Set(report(second).sync.secrets.map((s) => s.change))).toEqual(new Set(['unchanged']));
  });
});
