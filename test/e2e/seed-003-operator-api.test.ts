import { X509Certificate, createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTO_FILE } from '../../shared/app/api/grpc.js';
import { run } from '../fixtures/openssl.js';
import {
  clientFiles,
  httpsCall as get,
  mintToken,
  rekeyOn,
  secretData,
  servedFingerprint,
  startServe,
  stopProcess as stop,
  type ServeProcess,
} from '../fixtures/serve-client.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { Admin, eventually, kubeconfigPath, uniqueName } from '../integration/kube/support.js';

describe('seed 003: the operator API of rekey itself on TLS from a Secret in dc1, JWT signing key auto-generated', () => {
  const ns = uniqueName('rekey-seed003');
  let dir: string;
  let kubeconfig: string;
  let inv: string;
  let state: string;
  let admin: Admin;
  let served: ServeProcess | undefined;
  let ca: string;

  const rekey = (args: readonly string[]) => rekeyOn(state)(args);
  const secret = (name: string) => secretData(admin, ns, name);
  /** serve on TLS from the Secret, the signing key in its Secret, ports picked by the system. */
  const serveArgs = (grpcPort: string) => [
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
    grpcPort,
    '--address',
    '127.0.0.1',
  ];

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
    served = await startServe([...serveArgs('0'), '--tls-reload-interval', '1s']);

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
    const token = await mintToken(rekey, inv, 'metrics:read log:write items:read rotations:write', { ttl: '10m' });
    expect(decodeProtectedHeader(token).kid).toBe(JSON.parse((await secret('rekey-api-jwt-key'))!['signing.jwk']!).kid);
    const auth = { authorization: `Bearer ${token}` };

    const metrics = await get(port, ca, 'GET', '/metrics', auth);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/rekey_certificate_expiration_timestamp_seconds\{inventory="operator-api",item="api-server"/);
    expect(JSON.parse((await get(port, ca, 'GET', '/v1/log/level', auth)).body)).toEqual({ level: 'info' });
    const put = await get(port, ca, 'PUT', '/v1/log/level', { ...auth, 'content-type': 'application/json' }, '{"level":"debug"}');
    expect(JSON.parse(put.body)).toEqual({ level: 'debug' });

    // curl as a real client, trusting only the CA from the Secret.
    const { caFile } = await clientFiles(dir, ca);
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
    const client = new pkg.rekey.v1.Rekey(`127.0.0.1:${served!.grpc!}`, grpc.credentials.createSsl(Buffer.from(ca)), {
      'grpc.ssl_target_name_override': 'localhost',
    });
    const call = (md: grpc.Metadata) =>
      new Promise<{ error: grpc.ServiceError | null; res?: any }>((r) =>
        client.Health({}, md, (error: grpc.ServiceError | null, res: unknown) => r({ error, res })),
      );
    try {
      const token = await mintToken(rekey, inv, 'items:read');
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
    const token = await mintToken(rekey, inv, 'rotations:write items:read');
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
    const token = await mintToken(rekey, inv, 'metrics:read');
    await stop(served);
    served = await startServe(serveArgs('off'));
    expect(served.stderr()).toContain('"source":"secret"');
    expect(JSON.parse((await secret('rekey-api-jwt-key'))!['signing.jwk']!).kid).toBe(kid);
    expect((await get(served.https, ca, 'GET', '/metrics', { authorization: `Bearer ${token}` })).status).toBe(200);
  });
});
