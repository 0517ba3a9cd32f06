import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import {
  AppsV1Api,
  CoreV1Api,
  createConfiguration,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  ServerConfiguration,
  setHeaderOptions,
  type Configuration,
  type Middleware,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { Logger } from '../../ports/logger.js';

/** The typed APIs rekey uses against one cluster, sharing one keep-alive connection pool. */
export interface KubeClient {
  readonly cluster: string;
  readonly context: string;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly objects: RawObjectApi;
  /** Plain JSON requests for the hot paths (Secrets): same connections, credentials, timeout and debug log. */
  readonly json: JsonRequest;
}

/**
 * One request with a JSON body (or none) answered with JSON. Not through client-node's typed serializer and its
 * fetch: for the thousand Secrets of a sync those cost more CPU than the request (measured: about half a
 * millisecond a request). A non-2xx answer rejects with a KubeHttpError, which translateKubeError reads as it reads
 * client-node's ApiException (HTTP code, Status body).
 */
export type JsonRequest = (
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  options?: { readonly query?: Readonly<Record<string, string>>; readonly body?: unknown; readonly contentType?: string },
) => Promise<unknown>;

export class KubeHttpError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
    this.name = 'KubeHttpError';
  }
}

/** Sends what `ctx` holds (URL, headers, agent the authentication set) with Node's http(s) and parses the JSON answer. */
function sendJson(ctx: RequestContext, body: string | undefined, timeoutMs: number): Promise<unknown> {
  const url = new URL(ctx.getUrl());
  const headers: Record<string, string | number> = { ...ctx.getHeaders() };
  if (body !== undefined) headers['Content-Length'] = Buffer.byteLength(body);
  const agent = ctx.getAgent();
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(
      url,
      { method: ctx.getHttpMethod(), headers, signal: AbortSignal.timeout(timeoutMs), ...(agent && { agent }) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(new KubeHttpError(status, text));
            return;
          }
          try {
            resolve(text ? JSON.parse(text) : undefined);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * KubernetesObjectApi resolves any kind's path (discovery, cached), but its patch runs the body through client-node's
 * typed serializer, which drops fields the model names differently (`x-kubernetes-*`) or does not know. A merge
 * patch from the inventory must reach the server exactly as written, so this sends the JSON as it is.
 */
export class RawObjectApi extends KubernetesObjectApi {
  async mergePatchRaw(
    target: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
    body: unknown,
    fieldManager: string,
  ): Promise<void> {
    const path = await this.specUriPath(target, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json, */*;q=0.8');
    ctx.setHeaderParam('Content-Type', 'application/merge-patch+json');
    ctx.setQueryParam('fieldManager', fieldManager);
    ctx.setBody(JSON.stringify(body));
    await this.requestPromise(ctx);
  }

  /**
   * A request to a path rekey knows (its own CRD's), without discovery and without the typed serializer: the JSON
   * goes and comes back as it is.
   */
  async requestJson(path: string, method: 'GET' | 'PUT', body?: unknown): Promise<unknown> {
    const ctx = this.configuration.baseServer.makeRequestContext(path, method === 'GET' ? HttpMethod.GET : HttpMethod.PUT);
    ctx.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) {
      ctx.setHeaderParam('Content-Type', 'application/json');
      ctx.setBody(JSON.stringify(body));
    }
    return this.requestPromise(ctx, 'any');
  }
}

export interface ClientOptions {
  readonly cluster: string;
  readonly context: string;
  /** A KubeConfig whose current context is `context`. */
  readonly kubeConfig: KubeConfig;
  /** Bearer tokens (EKS: a presigned STS GetCallerIdentity URL); replaces the kubeconfig user's credentials. */
  readonly tokenProvider?: (cluster: string) => Promise<string>;
  readonly log: Logger;
  /** Per-request timeout; a request that takes longer is aborted and reported as transient. */
  readonly requestTimeoutMs: number;
  /** Connections kept open per cluster. */
  readonly maxSockets: number;
}

/** How long a provided token is reused: EKS tokens live 15 minutes. */
const TOKEN_TTL_MS = 5 * 60_000;

/** Per-call options that set the Content-Type of a PATCH (the generated client defaults to JSON Patch). */
export function contentType(value: string): ConfigurationOptions {
  return setHeaderOptions('Content-Type', value);
}

/** A kubeconfig user without exec plugin or auth provider: client-node derives the same credentials every time. */
function staticCredentials(kc: KubeConfig): boolean {
  const user = kc.getCurrentUser();
  return user !== null && !user.exec && !user.authProvider;
}

function readMaybeFile(data: string | undefined, file: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (file) return readFileSync(file);
  return undefined;
}

/**
 * One client per cluster. client-node creates a new https.Agent (so a new TLS handshake) for every request; rekey
 * keeps one keep-alive agent per cluster instead, built from the options client-node computed for the first
 * request, so a sync of a thousand Secrets does not make a thousand handshakes. Every request is logged at debug
 * level (method and path only: never bodies, headers or tokens), which is also how tests count requests.
 */
export function makeClient(options: ClientOptions): KubeClient {
  const { kubeConfig: kc, cluster: clusterName, log } = options;
  const server = kc.getCurrentCluster();
  if (!server) throw new Error(`context ${options.context} names no cluster`);

  let agent: http.Agent | undefined;
  const keepAlive = (created: http.Agent | undefined): http.Agent | undefined => {
    if (agent) return agent;
    if (!created || (created.constructor !== https.Agent && created.constructor !== http.Agent)) return created; // proxies: as configured
    const base = (created as https.Agent).options;
    agent =
      created instanceof https.Agent
        ? new https.Agent({ ...base, keepAlive: true, maxSockets: options.maxSockets })
        : new http.Agent({ ...base, keepAlive: true, maxSockets: options.maxSockets });
    return agent;
  };

  // Credentials that cannot change during the process (client certificate, static token, basic): what client-node
  // computes for every request (the files read and decoded, a new agent) is computed once; the keep-alive agent
  // already holds the first request's certificate.
  let fixedHeaders: Record<string, string> | undefined;
  let token: { value: string; until: number } | undefined;
  const provider = options.tokenProvider;
  const auth = provider
    ? {
        getName: () => 'rekey bearer token provider',
        applySecurityAuthentication: async (ctx: RequestContext) => {
          if (!token || token.until < Date.now()) token = { value: await provider(clusterName), until: Date.now() + TOKEN_TTL_MS };
          ctx.setHeaderParam('Authorization', `Bearer ${token.value}`);
          if (!agent && server.server.startsWith('http:')) agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets });
          if (!agent) {
            const ca = readMaybeFile(server.caData, server.caFile);
            agent = new https.Agent({
              keepAlive: true,
              maxSockets: options.maxSockets,
              ...(ca && { ca }),
              ...(server.tlsServerName && { servername: server.tlsServerName }),
              ...(server.skipTLSVerify && { rejectUnauthorized: false }),
            });
          }
          ctx.setAgent(agent);
        },
      }
    : {
        getName: () => 'rekey kubeconfig',
        applySecurityAuthentication: async (ctx: RequestContext) => {
          if (fixedHeaders && agent) {
            for (const [k, v] of Object.entries(fixedHeaders)) ctx.setHeaderParam(k, v);
            ctx.setAgent(agent);
            return;
          }
          const before = { ...ctx.getHeaders() };
          await kc.applySecurityAuthentication(ctx);
          const a = keepAlive(ctx.getAgent());
          if (a) ctx.setAgent(a);
          if (a && a === agent && staticCredentials(kc))
            fixedHeaders = Object.fromEntries(Object.entries(ctx.getHeaders()).filter(([k, v]) => before[k] !== v));
        },
      };

  const logRequest = (ctx: RequestContext) =>
    log.debug('kube request', { cluster: clusterName, method: ctx.getHttpMethod(), path: new URL(ctx.getUrl()).pathname });
  const observe: Middleware = {
    pre: async (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(options.requestTimeoutMs));
      logRequest(ctx);
      return ctx;
    },
    post: async (r: ResponseContext) => r,
  };

  const configuration: Configuration = createConfiguration({
    baseServer: new ServerConfiguration<Record<string, string>>(server.server.replace(/\/+$/, ''), {}),
    authMethods: { default: auth },
    promiseMiddleware: [observe],
  });
  const json: JsonRequest = async (method, path, request = {}) => {
    const ctx = configuration.baseServer.makeRequestContext(path, HttpMethod[method]);
    for (const [k, v] of Object.entries(request.query ?? {})) ctx.setQueryParam(k, v);
    ctx.setHeaderParam('Accept', 'application/json');
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    if (body !== undefined) ctx.setHeaderParam('Content-Type', request.contentType ?? 'application/json');
    await auth.applySecurityAuthentication(ctx);
    logRequest(ctx);
    return sendJson(ctx, body, options.requestTimeoutMs);
  };
  return {
    cluster: clusterName,
    context: options.context,
    core: new CoreV1Api(configuration),
    apps: new AppsV1Api(configuration),
    objects: new RawObjectApi(configuration),
    json,
  };
}

export { KubeConfig };
