import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { loadInfraEnv } from '../../infra/env.js';

/**
 * schemathesis (installed by test/infra/components/schemathesis.sh) against `rekey serve`, driven by the OpenAPI
 * document the server serves (the same as events/openapi.json): generated valid and invalid requests for every
 * operation, with a token holding every scope. Checks: no 5xx, every response's status documented, its content
 * type and body matching the schema. Seeded, so a failure replays.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO, 'cli/main.ts');

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
  let child: ChildProcess | undefined;
  let port: number;
  let serverLog = '';

  const rekey = (args: readonly string[]) =>
    run(process.execPath, ['--import', 'tsx', CLI, '--state', state, ...args], { cwd: REPO, timeoutMs: 120_000 });

  beforeAll(async () => {
    loadInfraEnv({ require: ['schemathesis'] });
    dir = await makeTempDir('rekey-schemathesis-');
    state = join(dir, 'state');
    inv = join(dir, 'inventory.yaml');
    await writeFile(inv, INVENTORY);
    const applied = await rekey(['apply', '-f', inv, '--out', join(dir, 'out')]);
    expect(applied.status, applied.stderr).toBe(0);
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI,
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
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.on('data', (c: Buffer) => (serverLog += c.toString()));
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${serverLog}`)), 60_000);
      child!.on('exit', (code) => reject(new Error(`serve exited ${code}: ${serverLog}`)));
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('{"listening"'));
        if (!line) return;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { listening: { https: number } }).listening.https);
      });
    });
  }, 180_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
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
    expect(serverLog).not.toMatch(/"level":"error"/);
    expect(serverLog).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  }, 360_000);
});
