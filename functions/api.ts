import { alertService } from '../shared/app/alerts/service.js';
import { ChangeCounter, countWrites, JOURNAL_READS, STORE_READS } from '../shared/app/change-counter.js';
import { createApi, type Api } from '../shared/app/api/index.js';
import { ensureApiSigningKey } from '../shared/app/api/signing-key.js';
import type { ApiRequest, ApiResponse } from '../shared/app/api/http.js';
import type { RouterOptions } from '../shared/app/api/router.js';
import { leveledJsonLogger, type LeveledLogger } from '../shared/app/api/json-logger.js';
import type { Cluster } from '../shared/ports/cluster.js';
import { withInvocation, type Invocation } from './lib/invocation.js';
import type { LambdaContext } from './lib/lambda.js';
import { buildRuntime, depsFor, FunctionEnv, onFirstUse, type LambdaRuntime } from './lib/runtime.js';

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
 * Lambda's answer to GET /metrics: the same Prometheus text as `rekey serve` (expiry and renewal instants read from
 * the store now), and the same figures written to the log as CloudWatch embedded metric format lines, so CloudWatch
 * keeps them as metrics (namespace `rekey`). Counters live in one warm container only; they are not reported here.
 */
function lambdaMetrics(source: Parameters<typeof createApi>[0], write: (line: string) => void) {
  return async () => {
    const [{ RekeyMetrics }, { emfLines }] = await Promise.all([
      import('../shared/app/metrics/registry.js'),
      import('../shared/app/metrics/emf.js'),
    ]);
    const metrics = new RekeyMetrics({ deps: source.deps, inventory: source.inventory });
    for (const line of await emfLines(metrics.registry)) write(line);
    return metrics.text();
  };
}

/** Clusters connected once per warm container; when they cannot be (no kubeconfig stored), routes that need none still answer. */
async function clustersOf(inv: Invocation, logger: LeveledLogger): Promise<ReadonlyMap<string, Cluster>> {
  return inv.rt.clusters().catch((e: unknown) => {
    logger.warn('clusters not connected; plan shows no Secret writes', { error: e instanceof Error ? e.message : String(e) });
    return new Map<string, Cluster>();
  });
}

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
      if (!api) {
        // Seed 003: the signing key is made and saved on first start if the store has none.
        const { material, generated } = await ensureApiSigningKey(rt.aws.store, rt.inventory.name, { now: rt.clock.now() });
        if (generated) logger.info('API signing key generated', { kid: material.kid });
        // No per-invocation deadline in these Deps: the API outlives this invocation in the warm container.
        // Writes through this container (rotations started, rollbacks, the alert routes) refresh GET /v1/items at
        // once; those of other containers and of the step function show within the summaries' age bound.
        const changes = new ChangeCounter();
        const plain = depsFor(rt, await clustersOf(inv, logger), { log: logger });
        const deps = {
          ...plain,
          store: countWrites(plain.store, STORE_READS, changes),
          journal: countWrites(plain.journal, JOURNAL_READS, changes),
        };
        const base = {
          inventory: rt.inventory,
          deps,
          runtime: 'lambda' as const,
          logger,
          storeVersion: () => changes.value,
          ...(options.itemsMaxAgeSeconds !== undefined && { itemsMaxAgeSeconds: options.itemsMaxAgeSeconds }),
        };
        api = createApi({
          ...base,
          metrics: lambdaMetrics(base, write),
          ...(rt.aws.remediations && { alerts: alertService({ deps, inventory: rt.inventory, store: rt.aws.remediations }) }),
          readiness: [
            {
              name: 'store',
              check: async () => {
                await rt.aws.store.describe(`rekey/${rt.inventory.name}/_api/jwt-signing-key`);
              },
            },
          ],
          router: {
            timeoutMs: event.timeoutMs,
            ...(options.rateLimit !== undefined && { rateLimit: options.rateLimit }),
            // The per-client limit across containers; the in-container bucket above stays the cheap first check.
            ...(rt.aws.rateLimit && { sharedRateLimit: rt.aws.rateLimit }),
          },
        });
      }
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
    return { rt: await buildRuntime({ log: logger }), logger };
  });
}

export const handler = apiHandler(lazyApiRuntime());
