import type { Api } from '../shared/app/api/index.js';
import type { ApiRequest, ApiResponse } from '../shared/app/api/http.js';
import type { RouterOptions } from '../shared/app/api/router.js';
import { leveledJsonLogger, type LeveledLogger } from '../shared/app/api/json-logger.js';
import { withInvocation } from './lib/invocation.js';
import type { LambdaContext } from './lib/lambda.js';
import type { LambdaRuntime } from './lib/runtime.js';
import { FunctionEnv, onFirstUse } from './lib/runtime-source.js';

/** API Gateway HTTP API, payload format 2.0 (the fields this handler reads). */
export interface HttpApiEvent {
  readonly version?: string;
  readonly rawPath: string;
  readonly rawQueryString?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext: {
    readonly http: { readonly method: string; readonly sourceIp?: string };
    readonly requestId?: string;
    /** With mutual TLS on the API's custom domain, API Gateway passes the client certificate it verified against its truststore. */
    readonly authentication?: { readonly clientCert?: { readonly clientCertPem?: string } };
  };
}

export interface HttpApiResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly isBase64Encoded?: boolean;
}

/** What the API functions run on: the shared runtime and the leveled logger PUT /v1/log/level changes. */
export interface ApiRuntime {
  readonly rt: LambdaRuntime;
  readonly logger: LeveledLogger;
}

/** The API runtime: built on the first invocation that asks, or given ready-made (tests). */
export type ApiRuntimeSource = () => ApiRuntime | Promise<ApiRuntime>;

/** True for an API Gateway HTTP API (payload 2.0) event; anything else is another source's event. */
export function isHttpApiEvent(event: unknown): event is HttpApiEvent {
  const e = event as { rawPath?: unknown; requestContext?: { http?: { method?: unknown } } } | null;
  return typeof e === 'object' && e !== null && typeof e.rawPath === 'string' && typeof e.requestContext?.http?.method === 'string';
}

/** The event as the shared router sees it. Header names are already lower case in payload 2.0. */
export function requestOf(event: HttpApiEvent): ApiRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  const clientCertPem = event.requestContext.authentication?.clientCert?.clientCertPem;
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: new URLSearchParams(event.rawQueryString ?? ''),
    headers,
    ...(event.body !== undefined && event.body !== '' && { body: Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') }),
    client: event.requestContext.http.sourceIp ?? 'unknown',
    ...(clientCertPem && { clientCertificate: clientCertPem }),
  };
}

const resultOf = (r: ApiResponse): HttpApiResult =>
  r.bodyBytes
    ? { statusCode: r.status, headers: r.headers, body: r.bodyBytes.toString('base64'), isBase64Encoded: true }
    : { statusCode: r.status, headers: r.headers, body: r.body };

/**
 * The API on Lambda: the same router as `rekey serve`, each invocation set up by `withInvocation`. Rotations are
 * recorded and queued here; the step function runs them. The log level set with PUT /v1/log/level holds for this
 * warm container. Alert routes use the runtime's remediation store (DynamoDB) when it has one.
 */
export function apiHandler(
  runtime: ApiRuntimeSource,
  options: {
    write?: (line: string) => void;
    rateLimit?: RouterOptions['rateLimit'];
    /** How long GET /v1/items may answer a summary when this container wrote nothing (default 5 s). */
    itemsMaxAgeSeconds?: number;
  } = {},
) {
  let api: Api | undefined;
  const write = options.write ?? ((line: string) => void process.stdout.write(line + '\n'));
  const handle = withInvocation(
    async () => (await runtime()).rt,
    async (event: { http: HttpApiEvent; timeoutMs: number }, inv): Promise<HttpApiResult> => {
      const { rt, logger } = await runtime();
      // The router, its routes and schemas, and the alert service are loaded by the first request (cold start).
      api ??= await (await import('./lib/api-build.js')).buildLambdaApi({ rt, logger, inv, write, timeoutMs: event.timeoutMs, options });
      return resultOf(await api.router(requestOf(event.http)));
    },
  );
  return (event: HttpApiEvent, context?: LambdaContext): Promise<HttpApiResult> =>
    handle({ http: event, timeoutMs: Math.max(1000, (context?.getRemainingTimeInMillis() ?? 29_000) - 1000) }, context);
}

/** The runtime of an API function, built on the first invocation with the leveled logger as its log. */
export function lazyApiRuntime(): () => Promise<ApiRuntime> {
  return onFirstUse(async () => {
    const logger = leveledJsonLogger({
      level: process.env[FunctionEnv.logLevel] ?? 'info',
      write: (l) => process.stdout.write(l + '\n'),
    });
    const { buildRuntime } = await import('./lib/runtime.js');
    return { rt: await buildRuntime({ log: logger }), logger };
  });
}

export const handler = apiHandler(lazyApiRuntime());
