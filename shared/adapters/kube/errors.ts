import { ConflictError, NotFoundError, RekeyError, TransientError } from '../../domain/errors.js';

/** What a request was doing, for messages: "rekey's service account may not patch secrets in apic on cluster dc1". */
export interface Operation {
  readonly cluster: string;
  readonly verb: 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete' | 'evict';
  /** Plural resource as RBAC names it: secrets, deployments, pods/eviction, postgreses.kubedb.com... */
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
}

/** The API server refused: RBAC does not allow the request. Not retryable: the Role must change. */
export class ForbiddenError extends RekeyError {}

/** The API server rejected the object (422 Invalid, 400 BadRequest): retrying the same request cannot help. */
export class RejectedError extends RekeyError {}

/** The eviction would violate a PodDisruptionBudget (429): wait and try again later; never delete around it. */
export class EvictionBlockedError extends TransientError {}

interface ApiErrorShape {
  readonly code?: number;
  readonly body?: unknown;
  readonly name?: string;
  readonly type?: string;
  readonly message?: string;
}

/** The Status message the API server sent, if any (bodies may be JSON text or already parsed). */
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 300) || undefined;
    }
  }
  if (!parsed || typeof parsed !== 'object' || !('message' in parsed) || typeof parsed.message !== 'string') return undefined;
  // The causes say what the message does not: a refused eviction names the PodDisruptionBudget only there.
  const details = 'details' in parsed ? (parsed.details as { causes?: { message?: unknown }[] } | undefined) : undefined;
  const causes = (details?.causes ?? []).flatMap((c) => (typeof c.message === 'string' ? [c.message] : []));
  return [parsed.message, ...causes].join(' ');
}

const where = (op: Operation) => `${op.namespace ? ` in ${op.namespace}` : ''} on cluster ${op.cluster}`;
const target = (op: Operation) => `${op.resource}${op.name ? ` ${op.namespace ? `${op.namespace}/` : ''}${op.name}` : ''}`;

/**
 * Turns what @kubernetes/client-node throws (ApiException with an HTTP code, node-fetch FetchError/AbortError)
 * into rekey's errors: 403 ForbiddenError, 404 NotFoundError, 409 ConflictError, 429 on eviction
 * EvictionBlockedError, 408/429/5xx and network failures TransientError, 400/422 RejectedError.
 */
export function translateKubeError(e: unknown, op: Operation): RekeyError {
  if (e instanceof RekeyError) return e;
  const err = (e ?? {}) as ApiErrorShape;
  const context = {
    cluster: op.cluster,
    ...(op.namespace && { namespace: op.namespace }),
    ...(op.name && { name: op.name }),
    verb: op.verb,
    resource: op.resource,
  };
  const detail = statusMessage(err.body);
  const suffix = detail ? `: ${detail}` : '';
  const code = typeof err.code === 'number' && err.code >= 100 ? err.code : undefined;
  if (code === undefined) {
    // node-fetch: FetchError (connection refused, reset, DNS, TLS) or AbortError (our request timeout).
    const why = err.name === 'AbortError' ? 'timed out' : `failed (${err.message ?? String(e)})`;
    return new TransientError(`${op.verb} ${target(op)}${where(op)} ${why}`, { cause: e, context });
  }
  switch (true) {
    case code === 401:
      return new ForbiddenError(`cluster ${op.cluster} did not accept rekey's credentials (401 Unauthorized)${suffix}`, {
        cause: e,
        context,
      });
    case code === 403:
      return new ForbiddenError(`rekey's service account may not ${op.verb} ${op.resource}${where(op)}${suffix ? ` (${detail})` : ''}`, {
        cause: e,
        context,
      });
    case code === 404:
      return new NotFoundError(`${target(op)} not found${where(op)}${suffix}`, { cause: e, context });
    case code === 409:
      return new ConflictError(`${target(op)}${where(op)} changed concurrently or already exists${suffix}`, context);
    case code === 429 && op.verb === 'evict':
      return new EvictionBlockedError(
        `eviction of pod ${op.namespace}/${op.name} on cluster ${op.cluster} would violate a PodDisruptionBudget${suffix}`,
        { cause: e, context },
      );
    case code === 408 || code === 429 || code >= 500:
      return new TransientError(`${op.verb} ${target(op)}${where(op)} failed with HTTP ${code}${suffix}`, { cause: e, context });
    case code === 400 || code === 422:
      return new RejectedError(
        `cluster ${op.cluster} rejected ${op.verb} of ${target(op)}${op.namespace ? ` in ${op.namespace}` : ''}${suffix}`,
        { cause: e, context },
      );
    default:
      return new RekeyError(`${op.verb} ${target(op)}${where(op)} failed with HTTP ${code}${suffix}`, { cause: e, context });
  }
}

/** Runs a request and translates its failure. */
export async function call<T>(op: Operation, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (e) {
    throw translateKubeError(e, op);
  }
}
