import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Api } from './index.js';
import type { ApiResponse } from './http.js';
import type { TlsMaterial } from './tls.js';

type CertificateProvider = grpc.experimental.CertificateProvider;
type IdentityCertificateUpdateListener = grpc.experimental.IdentityCertificateUpdateListener;

/**
 * Where the service definition lives: proto/rekey/v1/rekey.proto of the package, found from this module upwards
 * (three folders up in the sources, one or two from the CLI bundle's dist/ and dist/chunks/); override for bundles
 * shipped without the package.
 */
export const PROTO_FILE = packageFile('proto/rekey/v1/rekey.proto');

function packageFile(path: string): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, path))) return join(dir, path);
    if (dirname(dir) === dir) return join(here, '../../..', path);
  }
}

export function loadRekeyService(protoFile: string = PROTO_FILE): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(protoFile, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { rekey: { v1: { Rekey: grpc.ServiceClientConstructor } } };
  return pkg.rekey.v1.Rekey.service;
}

/** HTTP status of the shared router -> gRPC status code. */
function codeOf(status: number): grpc.status {
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return grpc.status.INVALID_ARGUMENT;
    case 401:
      return grpc.status.UNAUTHENTICATED;
    case 403:
      return grpc.status.PERMISSION_DENIED;
    case 404:
      return grpc.status.NOT_FOUND;
    case 409:
      return grpc.status.ABORTED;
    case 429:
      return grpc.status.RESOURCE_EXHAUSTED;
    case 501:
      return grpc.status.UNIMPLEMENTED;
    case 503:
      return grpc.status.UNAVAILABLE;
    case 504:
      return grpc.status.DEADLINE_EXCEEDED;
    default:
      return grpc.status.INTERNAL;
  }
}

const firstValue = (md: grpc.Metadata, key: string): string | undefined => {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
};

/**
 * The one check every RPC passes: a valid bearer token in the `authorization` metadata (seed 003: "all gRPC
 * requests require per-RPC metadata set to contain a valid Authorization header"). Refused calls end with
 * UNAUTHENTICATED before their message reaches a handler.
 */
export function authInterceptor(api: Api): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            api.verifier.verify(firstValue(metadata, 'authorization')).then(
              () => mdNext(metadata),
              (e: unknown) =>
                call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: e instanceof Error ? e.message : 'unauthenticated' }),
            );
          },
        });
      },
    });
}

type Json = Record<string, unknown>;

/** Runs one request through the HTTP router (same scopes, validation, limits) and maps its answer. */
async function viaRouter(
  api: Api,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<Json> {
  const response: ApiResponse = await api.router({
    method,
    path,
    query: new URLSearchParams(),
    headers: {
      authorization: firstValue(call.metadata, 'authorization'),
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...extra,
    },
    ...(body !== undefined && { body: Buffer.from(JSON.stringify(body)) }),
    client: `grpc:${call.getPeer()}`,
  });
  const json = JSON.parse(response.body || '{}') as Json;
  if (response.status >= 400)
    throw Object.assign(new Error(textOf(json.detail) ?? textOf(json.title) ?? 'failed'), { code: codeOf(response.status) });
  return json;
}

const unit = (u: Json) => ({
  name: u.name,
  kind: u.kind,
  version: u.version ?? '',
  notAfter: u.notAfter ?? '',
  serial: u.serial ?? '',
  fingerprint: u.fingerprint ?? '',
  issuer: u.issuer ?? '',
  rotationId: (u.rotation as Json | undefined)?.id ?? '',
  rotationStatus: (u.rotation as Json | undefined)?.status ?? '',
});

function unary(run: (call: grpc.ServerUnaryCall<Json, unknown>) => Promise<unknown>): grpc.handleUnaryCall<Json, unknown> {
  return (call, callback) => {
    run(call).then(
      (value) => callback(null, value),
      (e: unknown) => {
        const { code, message } = e as Error & { code?: grpc.status };
        callback({ code: code ?? grpc.status.INTERNAL, details: code ? message : 'internal error' });
      },
    );
  };
}

/** The rekey.v1.Rekey handlers, each a thin mapping onto the HTTP routes. */
export function rekeyHandlers(api: Api): grpc.UntypedServiceImplementation {
  const seg = (s: unknown) => encodeURIComponent(textOf(s) ?? '');
  return {
    Rotate: unary(async (call) => {
      const r = call.request;
      const key = textOf(r.idempotencyKey) ?? '';
      const res = await viaRouter(
        api,
        call,
        'POST',
        '/v1/rotations',
        { item: r.item, ...(r.reason ? { reason: r.reason } : {}) },
        key ? { 'idempotency-key': key } : {},
      );
      return { id: res.id, item: res.item, status: res.status };
    }),
    GetRotation: unary(async (call) => {
      const r = await viaRouter(api, call, 'GET', `/v1/rotations/${seg(call.request.id)}`);
      return {
        ...r,
        history: (r.history as Json[]).map((h) => ({ ...h, message: h.message ?? '' })),
        finishedAt: r.finishedAt ?? '',
        error: r.error ?? '',
      };
    }),
    ListItems: unary(async (call) => {
      const r = await viaRouter(api, call, 'GET', '/v1/items');
      return { inventory: r.inventory, items: (r.items as Json[]).map(unit) };
    }),
    GetItem: unary(async (call) => {
      const r = await viaRouter(api, call, 'GET', `/v1/items/${seg(call.request.name)}`);
      const secret = (r.targets as Json).secret as Json | undefined;
      return {
        name: r.name,
        kind: r.kind,
        units: (r.units as Json[]).map(unit),
        consumers: r.consumers,
        secretNamespace: secret?.namespace ?? '',
        secretName: secret?.name ?? '',
        clusters: secret?.clusters ?? [],
      };
    }),
    Health: unary(async () => ({ status: 'ok', version: api.backend.version })),
  };
}

export interface GrpcApi {
  readonly server: grpc.Server;
  readonly port: number;
  /** Serves new connections with this certificate (existing ones keep theirs), as the HTTPS server's setTls. */
  setTls(tls: TlsMaterial): void;
  close(): Promise<void>;
}

/** The serving certificate as grpc-js's certificate provider: each `set` is pushed to the server's listeners. */
class ServingCertificate implements CertificateProvider {
  private readonly listeners = new Set<IdentityCertificateUpdateListener>();
  private current: { certificate: Buffer; privateKey: Buffer };

  constructor(tls: TlsMaterial) {
    this.current = { certificate: Buffer.from(tls.cert), privateKey: Buffer.from(tls.key) };
  }

  set(tls: TlsMaterial): void {
    this.current = { certificate: Buffer.from(tls.cert), privateKey: Buffer.from(tls.key) };
    for (const l of this.listeners) l(this.current);
  }

  addIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.listeners.add(listener);
    // Not synchronously: grpc-js adds its own watcher only after this returns, and would miss the certificate.
    queueMicrotask(() => {
      if (this.listeners.has(listener)) listener(this.current);
    });
  }
  removeIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.listeners.delete(listener);
  }
  // No client certificates: there is no CA to provide.
  addCaCertificateListener(): void {}
  removeCaCertificateListener(): void {}
}

/** rekey.v1.Rekey on TLS with the serving certificate, behind the auth interceptor. */
export async function startGrpc(options: {
  api: Api;
  tls: TlsMaterial;
  port: number;
  host?: string;
  protoFile?: string;
}): Promise<GrpcApi> {
  const server = new grpc.Server({ interceptors: [authInterceptor(options.api)], 'grpc.max_receive_message_length': 64 * 1024 });
  server.addService(loadRekeyService(options.protoFile), rekeyHandlers(options.api));
  const serving = new ServingCertificate(options.tls);
  // grpc-js 1.14 declares (caProvider, identityProvider) but hands its arguments on in the other order, to a
  // constructor taking (identityProvider, caProvider): the provider goes first so that it is the identity, and no
  // CA provider means no client certificate is asked for. The gRPC test checks a changed certificate is served.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(serving, null, false);
  const host = options.host ?? '0.0.0.0';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${options.port}`, credentials, (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    server,
    port,
    setTls: (tls) => serving.set(tls),
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}

/** A string or number field of a decoded message as text; anything else as missing. */
function textOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}
