import { createApi, type Api } from '../shared/app/api/index.js';
import { ensureApiSigningKey } from '../shared/app/api/signing-key.js';
import type { ApiRequest, ApiResponse } from '../shared/app/api/http.js';
import { leveledJsonLogger, type LeveledLogger } from '../shared/app/api/json-logger.js';
import type { Cluster } from '../shared/ports/cluster.js';
import type { LambdaContext } from './lib/lambda.js';
import { coldStart, depsFor, FunctionEnv, lazyRuntime, type LambdaRuntime } from './lib/runtime.js';

/** API Gateway HTTP API, payload format 2.0 (the fields this handler reads). */
export interface HttpApiEvent {
  readonly version?: string;
  readonly rawPath: string;
  readonly rawQueryString?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext: { readonly http: { readonly method: string; readonly sourceIp?: string }; readonly requestId?: string };
}

export interface HttpApiResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The event as the shared router sees it. Header names are already lower case in payload 2.0. */
export function requestOf(event: HttpApiEvent): ApiRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: new URLSearchParams(event.rawQueryString ?? ''),
    headers,
    ...(event.body !== undefined && event.body !== '' && { body: Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') }),
    client: event.requestContext.http.sourceIp ?? 'unknown',
  };
}

const resultOf = (r: ApiResponse): HttpApiResult => ({ statusCode: r.status, headers: r.headers, body: r.body });

/**
 * The API on Lambda: the same router as `rekey serve`. Rotations are recorded and queued here; the step function
 * runs them. The log level set with PUT /v1/log/level holds for this warm container. Clusters are connected on
 * first use; when they cannot be (no kubeconfig stored), routes that need none still answer.
 */
export function apiHandler(runtime: () => { rt: LambdaRuntime; logger: LeveledLogger }) {
  let api: Api | undefined;
  let clusters: ReadonlyMap<string, Cluster> | undefined;
  return async (event: HttpApiEvent, context?: LambdaContext): Promise<HttpApiResult> => {
    const { rt, logger } = runtime();
    if (!clusters) {
      clusters = await rt.clusters().catch((e: unknown) => {
        logger.warn('clusters not connected; plan shows no Secret writes', { error: e instanceof Error ? e.message : String(e) });
        return new Map<string, Cluster>();
      });
    }
    if (!api) {
      // Seed 003: the signing key is made and saved on first start if the store has none.
      const { material, generated } = await ensureApiSigningKey(rt.aws.store, rt.inventory.name, { now: rt.clock.now() });
      if (generated) logger.info('API signing key generated', { kid: material.kid });
    }
    api ??= createApi({
      inventory: rt.inventory,
      deps: depsFor(rt, clusters, { log: logger }),
      runtime: 'lambda',
      logger,
      readiness: [{ name: 'store', check: async () => void (await rt.aws.store.describe(`rekey/${rt.inventory.name}/_api/jwt-signing-key`)) }],
      router: { timeoutMs: Math.max(1000, (context?.getRemainingTimeInMillis() ?? 29_000) - 1000) },
    });
    return resultOf(await api.router(requestOf(event)));
  };
}

export const handler = apiHandler(
  (() => {
    let built: { rt: LambdaRuntime; logger: LeveledLogger } | undefined;
    return () => {
      if (!built) {
        const logger = leveledJsonLogger({ level: process.env[FunctionEnv.logLevel] ?? 'info', write: (l) => process.stdout.write(l + '\n') });
        built = { rt: lazyRuntime(() => coldStart({ log: logger }))(), logger };
      }
      return built;
    };
  })(),
);
