import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { ConflictError, InvalidInventoryError, NotFoundError, RotationLockedError, UsageError, isRekeyError } from '../../domain/errors.js';
import { requireScope, type Principal, type TokenVerifier } from './auth.js';
import type { ApiBackend } from './backend.js';
import { DEFAULT_BODY_LIMIT, type ApiRequest, type ApiResponse } from './http.js';
import { ApiProblem, PROBLEM_CONTENT_TYPE, ProblemKind } from './problem.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import type { SharedRateLimit } from '../../ports/shared-rate-limit.js';
import type { Reply, Route } from './route.js';
import { ROUTES } from './routes.js';
import { defined } from '../../domain/defined.js';

export interface RouterOptions {
  readonly backend: ApiBackend;
  readonly verifier: TokenVerifier;
  readonly routes?: readonly Route[];
  /** Largest accepted body in bytes (default 64 KiB); larger is 413 before anything else happens. */
  readonly bodyLimit?: number;
  /** Per client (token subject, or peer address on open routes). Default 50/s, bursts of 100. `false`: off. */
  readonly rateLimit?: RateLimitOptions | false;
  /**
   * The per-client limit every process shares (Lambda: a DynamoDB window counter), checked once per request after
   * the in-process one: by subject on authenticated routes (after the token and scope), by peer on open ones. When
   * it cannot be reached the request goes ahead (logged): API Gateway's throttling is the outer limit.
   */
  readonly sharedRateLimit?: SharedRateLimit;
  /** A handler that takes longer is answered 504 (its work may go on; rotations are idempotent). Default 30 s. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export type Router = (request: ApiRequest) => Promise<ApiResponse>;

interface Compiled {
  readonly route: Route;
  readonly segments: readonly string[];
}

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' } as const;

function compile(routes: readonly Route[]): Compiled[] {
  return routes.map((route) => ({ route, segments: route.path.split('/').slice(1) }));
}

/** Path segments decoded; a malformed escape is a 400 (not a 500 from decodeURIComponent). */
function segmentsOf(path: string): string[] {
  try {
    return path
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new ApiProblem(ProblemKind.BadRequest, 'the path has a malformed percent-escape');
  }
}

function match(c: Compiled, segments: readonly string[]): Record<string, string> | undefined {
  if (c.segments.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const want = defined(c.segments[i]);
    const got = defined(segments[i]);
    if (want.startsWith('{')) params[want.slice(1, -1)] = got;
    else if (want !== got) return undefined;
  }
  return params;
}

const issuesOf = (error: z.ZodError): string[] => error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);

function problemResponse(p: ApiProblem, instance: string, extra: Record<string, string> = {}): ApiResponse {
  return {
    status: p.status,
    headers: { ...SECURITY_HEADERS, 'content-type': PROBLEM_CONTENT_TYPE, ...p.headers, ...extra },
    body: JSON.stringify(p.document(instance)),
  };
}

function replyResponse(reply: Reply): ApiResponse {
  if (reply.bytes)
    return {
      status: reply.status,
      headers: { ...SECURITY_HEADERS, 'content-type': reply.contentType ?? 'application/octet-stream', ...reply.headers },
      body: '',
      bodyBytes: reply.bytes,
    };
  const text = reply.text ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
  const contentType = reply.contentType ?? (reply.text === undefined ? 'application/json' : 'text/plain; charset=utf-8');
  return { status: reply.status, headers: { ...SECURITY_HEADERS, 'content-type': contentType, ...reply.headers }, body: text };
}

/** Errors of the use cases, as the client should see them; anything unexpected is a 500 with only a correlation id. */
function asProblem(e: unknown): ApiProblem | undefined {
  if (e instanceof ApiProblem) return e;
  if (e instanceof NotFoundError) return new ApiProblem(ProblemKind.NotFound, e.message);
  if (e instanceof RotationLockedError || e instanceof ConflictError || (isRekeyError(e) && e.name === 'RollbackRefusedError'))
    return new ApiProblem(ProblemKind.Conflict, e.message);
  if (e instanceof UsageError || e instanceof InvalidInventoryError) return new ApiProblem(ProblemKind.BadRequest, e.message);
  if (isRekeyError(e) && !e.retryable && e.message.includes('not available in this version'))
    return new ApiProblem(ProblemKind.NotImplemented, e.message);
  return undefined;
}

/**
 * The one request pipeline of both runtimes, in this order: route match (404/405), body size (413), rate limit
 * per peer (429), authentication (401), scope (403), rate limit per subject, in process and then shared (429;
 * open routes: the shared one per peer), path parameters (400:
 * names are checked before any lookup), media type (415), JSON (400), body schema (422), handler with a timeout
 * (504). Every refusal is an RFC 9457 problem, and none reaches a use case.
 */
export function createRouter(options: RouterOptions): Router {
  const compiled = compile(options.routes ?? ROUTES);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const limiter = options.rateLimit === false ? undefined : new RateLimiter(options.rateLimit ?? { perSecond: 50, burst: 100 });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const now = options.now ?? Date.now;
  const { backend } = options;
  const log = backend.deps.log;

  const tooMany = (wait: number): ApiProblem =>
    new ApiProblem(ProblemKind.TooManyRequests, `too many requests from this client; retry in ${wait} s`, {
      headers: { 'retry-after': String(wait) },
    });
  const limit = (client: string): void => {
    const wait = limiter?.take(client, now()) ?? 0;
    if (wait > 0) throw tooMany(wait);
  };
  const { sharedRateLimit } = options;
  const limitShared = async (client: string): Promise<void> => {
    if (!sharedRateLimit) return;
    let wait: number;
    try {
      wait = await sharedRateLimit.take(client, now());
    } catch (e) {
      log.warn('shared rate limit not reachable; request let through', { error: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (wait > 0) throw tooMany(wait);
  };

  async function run(request: ApiRequest): Promise<ApiResponse> {
    const segments = segmentsOf(request.path);
    const candidates = compiled.map((c) => ({ c, params: match(c, segments) })).filter((x) => x.params);
    if (!candidates.length) throw new ApiProblem(ProblemKind.NotFound, 'no such route');
    const hit = candidates.find((x) => x.c.route.method === request.method.toUpperCase());
    if (!hit) {
      const allow = [...new Set(candidates.map((x) => x.c.route.method))].join(', ');
      throw new ApiProblem(ProblemKind.MethodNotAllowed, `${request.method} is not allowed here`, { headers: { allow } });
    }
    const { route } = hit.c;
    if (request.bodyTooLarge || (request.body?.length ?? 0) > bodyLimit)
      throw new ApiProblem(ProblemKind.PayloadTooLarge, `the body is larger than ${bodyLimit} bytes`);

    let principal: Principal | undefined;
    if (route.scope || route.authenticate) {
      limit(`peer:${request.client}`);
      principal = await options.verifier.verify(request.headers.authorization);
      if (route.scope) requireScope(principal, route.scope);
      limit(`sub:${principal.subject}`);
      await limitShared(`sub:${principal.subject}`);
    } else {
      limit(`peer:${request.client}`);
      await limitShared(`peer:${request.client}`);
    }

    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(defined(hit.params))) {
      const schema = route.params?.[name];
      const parsed = schema?.safeParse(value);
      if (!parsed?.success)
        throw new ApiProblem(ProblemKind.InvalidName, `path parameter "${name}" is not valid`, {
          errors: parsed ? issuesOf(parsed.error) : [],
        });
      params[name] = parsed.data;
    }

    let body: unknown;
    if (route.body) {
      const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
      const text = request.body?.toString('utf8') ?? '';
      if (text.length && type !== 'application/json')
        throw new ApiProblem(ProblemKind.UnsupportedMediaType, 'send the body as application/json');
      let data: unknown = {};
      if (text.length) {
        try {
          data = JSON.parse(text);
        } catch {
          throw new ApiProblem(ProblemKind.BadRequest, 'the body is not valid JSON');
        }
      }
      const parsed = route.body.safeParse(data);
      if (!parsed.success)
        throw new ApiProblem(ProblemKind.Unprocessable, 'the body does not match the schema', { errors: issuesOf(parsed.error) });
      body = parsed.data;
    }

    // A timer per request that is cleared when the handler answers: AbortSignal.timeout's timers would stay armed
    // for the whole timeout, tens of thousands of them at a thousand requests a second.
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort(new ApiProblem(ProblemKind.Timeout, `the request took longer than ${timeoutMs} ms`));
        reject(controller.signal.reason as Error);
      }, timeoutMs);
      timer.unref();
    });
    let reply: Reply;
    try {
      reply = await Promise.race([
        route.handle({
          params,
          body,
          query: request.query,
          headers: request.headers,
          signal: controller.signal,
          backend,
          ...(principal && { principal }),
          ...(request.clientCertificate && { clientCertificate: request.clientCertificate }),
        }),
        timedOut,
      ]);
    } finally {
      clearTimeout(timer);
    }
    return replyResponse(reply);
  }

  return async (request) => {
    const instance = request.path.length > 200 ? request.path.slice(0, 200) : request.path;
    try {
      return await run(request);
    } catch (e) {
      const p = asProblem(e);
      if (p) {
        if (p.status === 401 || p.status === 403)
          log.info('request refused', { method: request.method, path: instance, status: p.status, reason: p.message });
        return problemResponse(p, instance);
      }
      const correlationId = randomUUID();
      log.error('request failed', {
        method: request.method,
        path: instance,
        correlationId,
        error: e instanceof Error ? e.message : String(e),
      });
      const internal = new ApiProblem(ProblemKind.Internal, `unexpected error; the server log has correlation id ${correlationId}`);
      const res = problemResponse(internal, instance);
      return { ...res, body: JSON.stringify({ ...internal.document(instance), correlationId }) };
    }
  };
}
