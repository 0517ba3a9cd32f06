import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTO_FILE } from '../../shared/app/api/grpc.js';
import { run } from '../fixtures/openssl.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { Admin, eventually, kubeconfigPath, uniqueName } from '../integration/kube/support.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'cli/main.ts');

interface Served {
  readonly child: ChildProcess;
  readonly https: number;
  readonly grpc: number;
  readonly stderr: () => string;
}

/** `rekey serve` as its own process; resolves when it prints where it listens. */
function serve(args: readonly string[]): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{"listening"'));
      if (!line) return;
      clearTimeout(timer);
      const { listening } = JSON.parse(line) as { listening: { https: number; grpc: number } };
      resolve({ child, https: listening.https, grpc: listening.grpc, stderr: () => stderr });
    });
  });
}

async function stop(s: Served | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

/** HTTPS with the CA from the TLS Secret as the only trust anchor, the name the certificate carries. */
function get(port: number, ca: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; body: string; peer: string }>((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, servername: 'localhost', ca, method, path, headers, agent: false }, (res) => {
      const peer = createHash('sha256')
        .update((res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw)
        .digest('hex');
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, peer }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** The SHA-256 of the certificate a fresh TLS connection is served. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () => {
      resolve(createHash('sha256').update(s.getPeerCertificate().raw).digest('hex'));
      s.end();
    });
    s.on('error', reject);
  });
}

describe('seed 003: the operator API of rekey itself on TLS from a Secret in dc1, JWT signing key auto-generated', () => {
  const ns = uniqueName('rekey-seed003');
  let dir: string;
  let kubeconfig: string;
  let inv: string;
  let state: string;
  let admin: Admin;
  let served: Served | undefined;
  let ca: string;

  const rekey = (args: readonly string[]) =>
    run(process.execPath, ['--import', 'tsx', CLI, '--state', state, ...args], { cwd: REPO, timeoutMs: 120_000 });
  const secret = async (name: string) => {
    try {
      const s = await admin.core.readNamespacedSecret({ name, namespace: ns });
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    } catch {
      return undefined;
    }
  };

  beforeAll(async () => {
    kubeconfig = await kubeconfigPath();
    admin = await Admin.of('dc1');
    await admin.createNamespace(ns);
    dir = await makeTempDir('rekey-seed003-');
    state = join(dir, 'state');
    inv = join(dir, 'operator-api.yaml');
    await writeFile(
      inv,
      `apiVersion: rekey/v1
kind: Inventory
metadata: {name: operator-api}
clusters: [{name: dc1, context: dc1}]
authorities: [{name: api-ca, commonName: operator api CA, key: ECDSA-P256}]
certificates:
  - {name: api-server, issuer: api-ca, usage: server, commonName: rekey-api, dnsNames: [localhost], ipAddresses: [127.0.0.1], secret: {name: rekey-api-tls, namespace: ${ns}}}
`,
    );
    // The serving certificate is rekey's own item, written into dc1 like any other.
    const applied = await rekey(['apply', '-f', inv, '--kubeconfig', kubeconfig]);
    expect(applied.status, applied.stderr).toBe(0);
    ca = (await secret('rekey-api-tls'))!['ca.crt']!;
  });
  afterAll(async () => {
    await stop(served);
    await admin?.deleteNamespace(ns);
    if (dir) await removeTempDir(dir);
  });

  it("starts on the Secret's certificate and, the signing-key Secret missing, generates the key and saves it there", async () => {
    // Prepare
    expect(await secret('rekey-api-jwt-key')).toBeUndefined();

    // Act
    served = await serve([
      '--state',
      state,
      'serve',
      '-f',
      inv,
      '--kubeconfig',
      kubeconfig,
      '--tls-secret',
      `${ns}/rekey-api-tls`,
      '--jwt-key-secret',
      `${ns}/rekey-api-jwt-key`,
      '--http-port',
      '0',
      '--grpc-port',
      '0',
      '--address',
      '127.0.0.1',
      '--tls-reload-interval',
      '1s',
    ]);

    // Assess
    const keySecret = await secret('rekey-api-jwt-key');
    const jwk = JSON.parse(keySecret!['signing.jwk']!) as { kid: string; alg: string; d?: string };
    expect(jwk).toMatchObject({ alg: 'ES256' });
    expect(jwk.d).toBeTruthy();
    expect(JSON.parse(keySecret!['jwks.json']!).keys.map((k: { kid: string }) => k.kid)).toEqual([jwk.kid]);
    const served1 = await servedFingerprint(served.https, ca);
    const inSecret = createHash('sha256')
      .update(new X509Certificate((await secret('rekey-api-tls'))!['tls.crt']!).raw)
      .digest('hex');
    expect(served1).toBe(inSecret);
    expect(served.stderr()).toContain('"source":"generated"');
  });

  it('answers /healthz, /readyz and /version without a token; /metrics and /v1/log/level refuse without one and work with one', async () => {
    const port = served!.https;
    for (const path of ['/healthz', '/readyz', '/version']) expect((await get(port, ca, 'GET', path)).status, path).toBe(200);
    expect(JSON.parse((await get(port, ca, 'GET', '/readyz')).body).checks).toEqual({ store: 'ok', 'cluster:dc1': 'ok' });
    expect((await get(port, ca, 'GET', '/metrics')).status).toBe(401);
    expect((await get(port, ca, 'GET', '/v1/log/level')).status).toBe(401);
    expect((await get(port, ca, 'PUT', '/v1/log/level', { 'content-type': 'application/json' }, '{"level":"debug"}')).status).toBe(401);

    // `rekey token` runs beside the server (read-only on the state) and signs with the key now in the Secret.
    const minted = await rekey(['token', '-f', inv, '--scope', 'metrics:read log:write items:read rotations:write', '--ttl', '10m']);
    expect(minted.status, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    expect(decodeProtectedHeader(token).kid).toBe(JSON.parse((await secret('rekey-api-jwt-key'))!['signing.jwk']!).kid);
    const auth = { authorization: `Bearer ${token}` };

    const metrics = await get(port, ca, 'GET', '/metrics', auth);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/rekey_certificate_expiration_timestamp_seconds\{inventory="operator-api",item="api-server"/);
    expect(JSON.parse((await get(port, ca, 'GET', '/v1/log/level', auth)).body)).toEqual({ level: 'info' });
    const put = await get(port, ca, 'PUT', '/v1/log/level', { ...auth, 'content-type': 'application/json' }, '{"level":"debug"}');
    expect(JSON.parse(put.body)).toEqual({ level: 'debug' });

    // curl as a real client, trusting only the CA from the Secret.
    const caFile = join(dir, 'ca.crt');
    await writeFile(caFile, ca);
    const curl = await run('curl', [
      '-sS',
      '--fail',
      '--cacert',
      caFile,
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      '-H',
      `Authorization: Bearer ${token}`,
      `https://localhost:${port}/v1/items`,
    ]);
    expect(curl.status, curl.stderr).toBe(0);
    expect(JSON.parse(curl.stdout).items.map((i: { name: string }) => i.name)).toEqual(['api-ca', 'api-server']);
    expect(served!.stderr()).not.toContain(token);
  });

  it('requires authorization metadata on every gRPC call', async () => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILE, { defaults: true })) as any;
    const client = new pkg.rekey.v1.Rekey(`127.0.0.1:${served!.grpc}`, grpc.credentials.createSsl(Buffer.from(ca)), {
      'grpc.ssl_target_name_override': 'localhost',
    });
    const call = (md: grpc.Metadata) =>
      new Promise<{ error: grpc.ServiceError | null; res?: any }>((r) =>
        client.Health({}, md, (error: grpc.ServiceError | null, res: unknown) => r({ error, res })),
      );
    try {
      const token = (await rekey(['token', '-f', inv, '--scope', 'items:read'])).stdout.trim();
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      expect((await call(new grpc.Metadata())).error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect((await call(md)).res).toMatchObject({ status: 'ok' });
    } finally {
      client.close();
    }
  });

  it('rotates its own serving certificate through the API and serves the new one without a restart', async () => {
    // Prepare
    const port = served!.https;
    const token = (await rekey(['token', '-f', inv, '--scope', 'rotations:write items:read'])).stdout.trim();
    const before = await servedFingerprint(port, ca);

    // Act
    const accepted = await get(
      port,
      ca,
      'POST',
      '/v1/rotations',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `seed003-${ns}` },
      JSON.stringify({ item: 'api-server', reason: 'seed 003 e2e' }),
    );
    const { location } = JSON.parse(accepted.body) as { location: string };
    const done = await eventually('rotation completed', async () => {
      const r = JSON.parse((await get(port, ca, 'GET', location, { authorization: `Bearer ${token}` })).body) as { status: string };
      return r.status === 'running' ? undefined : r;
    });
    const after = await eventually(
      'new certificate served',
      async () => {
        const fp = await servedFingerprint(port, ca);
        return fp === before ? undefined : fp;
      },
      30_000,
    );

    // Assess
    expect(accepted.status).toBe(202);
    expect(done.status).toBe('completed');
    expect(after).toBe(
      createHash('sha256')
        .update(new X509Certificate((await secret('rekey-api-tls'))!['tls.crt']!).raw)
        .digest('hex'),
    );
  });

  it('keeps the key from the Secret across a restart: tokens minted before stay valid', async () => {
    const kid = JSON.parse((await secret('rekey-api-jwt-key'))!['signing.jwk']!).kid;
    const token = (await rekey(['token', '-f', inv, '--scope', 'metrics:read'])).stdout.trim();
    await stop(served);
    served = await serve([
      '--state',
      state,
      'serve',
      '-f',
      inv,
      '--kubeconfig',
      kubeconfig,
      '--tls-secret',
      `${ns}/rekey-api-tls`,
      '--jwt-key-secret',
      `${ns}/rekey-api-jwt-key`,
      '--http-port',
      '0',
      '--grpc-port',
      'off',
      '--address',
      '127.0.0.1',
    ]);
    expect(served.stderr()).toContain('"source":"secret"');
    expect(JSON.parse((await secret('rekey-api-jwt-key'))!['signing.jwk']!).kid).toBe(kid);
    expect((await get(served.https, ca, 'GET', '/metrics', { authorization: `Bearer ${token}` })).status).toBe(200);
  });
});
