import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTO_FILE, startGrpc, type GrpcApi } from '../../../../shared/app/api/grpc.js';
import { selfSignedTls } from '../../../../shared/app/api/tls.js';
import { makeTempDir, removeTempDir } from '../../../fixtures/tmp.js';
import { apiFixture, tokens, type ApiFixture } from './fixture.js';

type Unary = (req: object, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, res?: any) => void) => void;

let root: string;
let f: ApiFixture;
let server: GrpcApi;
let client: grpc.Client & Record<string, Unary>;
let token: string;

const RPCS: Record<string, object> = {
  Health: {},
  ListItems: {},
  GetItem: { name: 'web' },
  GetRotation: { id: '00000000-0000-4000-8000-000000000000' },
  Rotate: { item: 'web', reason: 'grpc test', idempotencyKey: 'grpc-1' },
};

const invoke = (method: string, req: object, md: grpc.Metadata) =>
  new Promise<{ error: grpc.ServiceError | null; res?: any }>((resolve) =>
    client[method]!.call(client, req, md, (error, res) => resolve({ error, res })),
  );

const bearer = (t: string) => {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${t}`);
  return md;
};

beforeAll(async () => {
  root = await makeTempDir('rekey-grpc-');
  f = await apiFixture(root, { router: { rateLimit: false } });
  token = await tokens(f.inventory.name, f.key).valid({ scope: 'rotations:write items:read' });
  const tls = selfSignedTls(['localhost']);
  server = await startGrpc({ api: f.api, tls, port: 0, host: '127.0.0.1' });
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILE, { defaults: true })) as any;
  client = new pkg.rekey.v1.Rekey(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(Buffer.from(tls.cert)), {
    'grpc.ssl_target_name_override': 'localhost',
  });
});
afterAll(async () => {
  client?.close();
  await server?.close();
  await removeTempDir(root);
});

describe('gRPC rekey.v1.Rekey', () => {
  it('refuses every RPC without authorization metadata (UNAUTHENTICATED), and with a bad token, changing nothing', async () => {
    const forged = await tokens(f.inventory.name, f.key).otherKey(f.key.kid);
    const refused: string[] = [];
    for (const [method, req] of Object.entries(RPCS)) {
      const none = await invoke(method, req, new grpc.Metadata());
      const bad = await invoke(method, req, bearer(forged));
      expect(none.error?.code, method).toBe(grpc.status.UNAUTHENTICATED);
      expect(bad.error?.code, method).toBe(grpc.status.UNAUTHENTICATED);
      refused.push(method);
    }
    expect(refused).toHaveLength(5);
    expect(await f.rt.journal.listByItem('shop', 'web')).toEqual([]);
  });

  it('accepts every RPC with a valid token', async () => {
    const health = await invoke('Health', {}, bearer(token));
    const list = await invoke('ListItems', {}, bearer(token));
    const item = await invoke('GetItem', { name: 'web' }, bearer(token));
    const rotate = await invoke('Rotate', RPCS.Rotate!, bearer(token));
    const rotation = await invoke('GetRotation', { id: rotate.res?.id }, bearer(token));
    expect(health.res).toMatchObject({ status: 'ok' });
    expect(list.res.items.map((i: { name: string }) => i.name)).toEqual(['root', 'web']);
    expect(item.res).toMatchObject({ name: 'web', kind: 'certificate', secretName: 'web', secretNamespace: 'shop' });
    expect(rotate.error).toBeNull();
    expect(rotation.res).toMatchObject({ id: rotate.res.id, item: 'web', trigger: 'api', reason: 'grpc test' });
  });

  it("applies the routes' scopes and name checks: PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND", async () => {
    const readOnly = await tokens(f.inventory.name, f.key).valid({ scope: 'items:read' });
    expect((await invoke('Rotate', { item: 'web' }, bearer(readOnly))).error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await invoke('GetItem', { name: '../vault' }, bearer(token))).error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await invoke('GetItem', { name: 'nope' }, bearer(token))).error?.code).toBe(grpc.status.NOT_FOUND);
  });
});

/** The certificate a fresh TLS connection (ALPN h2, as gRPC clients make) is served, as a SHA-256 fingerprint. */
function served(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
      resolve(sock.getPeerCertificate().fingerprint256);
      sock.end();
    });
    sock.on('error', reject);
  });
}

describe('gRPC serving certificate', () => {
  it('serves new connections with a new certificate once setTls is called (as serve does when the TLS Secret changes); calls work on it', async () => {
    // Prepare
    const before = await served(server.port);
    const next = selfSignedTls(['localhost']);
    const nextFingerprint = new X509Certificate(next.cert).fingerprint256;
    expect(before).not.toBe(nextFingerprint);

    // Act
    server.setTls(next);

    // Assess
    expect(await served(server.port)).toBe(nextFingerprint);
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILE, { defaults: true })) as any;
    const fresh = new pkg.rekey.v1.Rekey(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(Buffer.from(next.cert)), {
      'grpc.ssl_target_name_override': 'localhost',
    }) as grpc.Client & Record<string, Unary>;
    const health = await new Promise<{ error: grpc.ServiceError | null; res?: any }>((resolve) =>
      fresh.Health!.call(fresh, {}, bearer(token), (error, res) => resolve({ error, res })),
    );
    fresh.close();
    expect(health.error).toBeNull();
    expect(health.res.status).toBe('ok');
  });
});
