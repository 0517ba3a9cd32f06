import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../../cli/tools/build-cli.js';
import { REPO_ROOT } from '../../fixtures/cli.js';
import { openssl, run } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

/** More leaves than the pool makes in process (IN_PROCESS_LEAVES), so the rest go to the signing worker. */
const LEAVES = 48;
const INVENTORY = [
  'apiVersion: rekey/v1',
  'kind: Inventory',
  'metadata: {name: sign-pool}',
  'authorities: [{name: ca, commonName: sign-pool-ca}]',
  'certificates:',
  ...Array.from(
    { length: LEAVES },
    (_, i) =>
      `  - {name: svc-${i}, issuer: ca, usage: server, commonName: svc-${i}, dnsNames: [svc-${i}], secret: {name: svc-${i}-tls, namespace: shop}}`,
  ),
  '',
].join('\n');

let root: string;
let bundle: string;
beforeAll(async () => {
  root = await makeTempDir('rekey-sign-pool-cli-');
  bundle = (await buildCli(join(root, 'dist'))).bundle;
  writeFileSync(join(root, 'inventory.yaml'), INVENTORY);
}, 120_000);
afterAll(() => removeTempDir(root));

/** `rekey apply` as its own process, bundled or through tsx as `REKEY_TSX=1 bin/rekey.js` runs it, with one signing worker. */
function apply(entry: 'bundle' | 'tsx') {
  const argv = ['--state', join(root, `state-${entry}`), 'apply', '-f', join(root, 'inventory.yaml'), '--out', join(root, `out-${entry}`)];
  const env = { ...process.env, REKEY_VAULT_KEY: undefined, REKEY_SIGN_WORKERS: '1', REKEY_LOG_LEVEL: 'debug' };
  return entry === 'bundle'
    ? run(process.execPath, [bundle, ...argv], { env, timeoutMs: 120_000 })
    : run(process.execPath, [join(REPO_ROOT, 'bin/rekey.js'), ...argv], { env: { ...env, REKEY_TSX: '1' }, timeoutMs: 120_000 });
}

describe('rekey apply with the signing pool', () => {
  it.each(['bundle', 'tsx'] as const)(
    'through %s: leaves past the first ones are made on the worker, verify, and the process exits once done',
    async (entry) => {
      // Act: a process that did not exit would be killed at the timeout, with no exit status
      const r = await apply(entry);

      // Assert
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('debug: signing leaves on worker threads workers=1');
      const onWorkers = Number(/debug: signing workers stopped leaves=\d+ onWorkers=(\d+)/.exec(r.stderr)?.[1]);
      expect(onWorkers).toBeGreaterThan(0);
      expect(r.stderr).not.toMatch(/^(warn|error):/m);
      for (const name of ['svc-0', `svc-${LEAVES - 1}`]) {
        const secret = load(readFileSync(join(root, `out-${entry}`, 'default', 'shop', `${name}-tls.yaml`), 'utf8')) as {
          data: Record<string, string>;
        };
        const part = (key: string, file: string) => {
          const path = join(root, `${entry}-${name}-${file}`);
          writeFileSync(path, Buffer.from(secret.data[key]!, 'base64'));
          return path;
        };
        const cert = part('tls.crt', 'tls.crt');
        expect(openssl(['verify', '-CAfile', part('ca.crt', 'ca.crt'), cert]).stdout.trim()).toBe(`${cert}: OK`);
        expect(openssl(['pkey', '-pubout', '-in', part('tls.key', 'tls.key')]).stdout).toBe(
          openssl(['x509', '-pubkey', '-noout', '-in', cert]).stdout,
        );
      }
    },
    180_000,
  );
});
