import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../fixtures/openssl.js';
import { rekeyOn, startServe, stopProcess, type ServeProcess } from '../../fixtures/serve-client.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { defined } from '../../../shared/domain/defined.js';
import { loadInfraEnv } from '../../infra/env.js';

/**
 * schemathesis (installed by test/infra/components/schemathesis.sh) against `rekey serve`, driven by the OpenAPI
 * document the server serves (the same as events/openapi.json): generated valid and invalid requests for every
 * operation, with a token holding every scope. Checks: no 5xx, every response's status documented, its content
 * type and body matching the schema. Seeded, so a failure replays.
 */

const INVENTORY = `apiVersion: rekey/v1
kind: Inventory
metadata: {name: fuzzed}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: ca, commonName: fuzz CA, key: ECDSA-P256}]
certificates:
  - {name: web, issuer: ca, usage: server, commonName: web, dnsNames: [web], secret: {name: web-tls, namespace: shop}, consumers: [Deployment/web]}
alerts:
  - name: drift
    match: {alertmanager: {alertname: SecretDrift}}
    action: resync
    itemLabel: rekey_item
    mode: approve
`;

describe('schemathesis against rekey serve', () => {
  let dir: string;
  let state: string;
  let inv: string;
  let serve: ServeProcess | undefined;
  let port: number;

  const rekey = (args: readonly string[]) => rekeyOn(state)(args);

  beforeAll(async () => {
    loadInfraEnv({ require: ['schemathesis'] });
    dir = await makeTempDir('rekey-schemathesis-');
    state = join(dir, 'state');
    inv = join(dir, 'inventory.yaml');
    await writeFile(inv, INVENTORY);
    const applied = await rekey(['apply', '-f', inv, '--out', join(dir, 'out')]);
    expect(applied.status, applied.stderr).toBe(0);
    serve = await startServe([
      '--state',
      state,
      'serve',
      '-f',
      inv,
      '--out',
      join(dir, 'out'),
      '--http-port',
      '0',
      '--grpc-port',
      'off',
      '--address',
      '127.0.0.1',
      '--rate-limit',
      '0',
    ]);
    port = serve.https;
  }, 180_000);

  afterAll(async () => {
    await stopProcess(serve);
    if (dir) await removeTempDir(dir);
  });

  it('finds no 5xx and no response outside the document (status, content type, schema) in any operation', async () => {
    // Prepare
    const env = loadInfraEnv({ require: ['schemathesis'] });
    const minted = await rekey([
      'token',
      '-f',
      inv,
      '--scope',
      'items:read rotations:write metrics:read log:write alerts:write',
      '--ttl',
      '1h',
      '--subject',
      'schemathesis',
    ]);
    expect(minted.status, minted.stderr).toBe(0);
    const reports = join(dir, 'reports');

    // Act
    const result = await run(
      env.schemathesisPath,
      [
        'run',
        `https://127.0.0.1:${port}/openapi.json`,
        '--tls-verify',
        'false',
        '-H',
        `Authorization: Bearer ${minted.stdout.trim()}`,
        '--checks',
        'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance',
        '--phases',
        'examples,coverage,fuzzing',
        '--max-examples',
        '10',
        '--seed',
        '20261201',
        '--suppress-health-check',
        'all',
        '--generation-database',
        'none',
        '--no-color',
        '--report',
        'junit',
        '--report-dir',
        reports,
      ],
      { cwd: dir, timeoutMs: 300_000, env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false' } },
    );

    // Assess
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/Selected: (\d+)\/\1\b/);
    const generated = Number(/(\d+) generated, \1 passed/.exec(result.stdout)?.[1] ?? 0);
    expect(generated, result.stdout).toBeGreaterThan(300);
    const junit = await readFile(
      join(
        reports,
        (await readdir(reports)).find((f) => f.endsWith('.xml'))!,
      ),
      'utf8',
    );
    expect(junit).toMatch(/<testsuite [^>]*failures="0"/);
    expect(junit).toMatch(/<testsuite [^>]*errors="0"/);
    expect(defined(serve, 'rekey serve').stderr()).not.toMatch(/"level":"error"/);
    expect(defined(serve, 'rekey serve').stderr()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  }, 360_000);
});
