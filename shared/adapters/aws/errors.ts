import { ConflictError, NotFoundError, RekeyError, TransientError, type ErrorContext } from '../../domain/errors.js';

/** What an SDK v3 error looks like, without importing a client: a name, maybe a status, maybe retry hints. */
interface SdkErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $fault?: 'client' | 'server';
  readonly $retryable?: { throttling?: boolean };
  readonly $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** Errors that say a quota is saturated (nothing was done; the call may simply come back later). */
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'KMSThrottlingException',
]);

/** Errors that are worth another try later (the SDK has already retried them with adaptive backoff). */
const TRANSIENT = new Set([
  ...THROTTLING,
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServiceError',
  'InternalServiceErrorException',
  'InternalFailure',
  'InternalServerError',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'TransactionInProgressException',
  'AbortError',
]);

const NOT_FOUND = new Set([
  'ResourceNotFoundException',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'NonExistentQueue',
  'ResourceNotFound',
]);

const ACCESS = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'KMSAccessDeniedException',
]);

/** Node network failures below the SDK (moto or an endpoint not reachable). */
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

export interface AwsCall {
  /** e.g. "Secrets Manager PutSecretValue". */
  readonly operation: string;
  /** What the call was about, e.g. the secret name or queue. */
  readonly target?: string;
  readonly context?: ErrorContext;
}

/** The SDK error's name (its exception shape), or undefined for something that is not an SDK error. */
export function awsErrorName(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const shape = e as SdkErrorShape;
  return shape.name ?? shape.code;
}

/**
 * Turns an SDK error into a rekey error that says which call failed on what, keeps the SDK error as `cause`,
 * and says whether trying again later may help. A RekeyError passes through unchanged.
 */
export function translateAwsError(e: unknown, call: AwsCall): RekeyError {
  if (e instanceof RekeyError) return e;
  const shape = (e && typeof e === 'object' ? e : {}) as SdkErrorShape;
  const name = shape.name ?? shape.code ?? 'Error';
  const status = shape.$metadata?.httpStatusCode;
  const what = `${call.operation}${call.target ? ` (${call.target})` : ''}`;
  const detail = shape.message ? `: ${shape.message}` : '';
  const options = { cause: e, context: { ...call.context, awsError: name, ...(status !== undefined && { httpStatus: status }) } };
  const code = (e as NodeJS.ErrnoException | undefined)?.code;

  if (NOT_FOUND.has(name)) return new NotFoundError(`${what}: not found${detail}`, options);
  if (name === 'ConditionalCheckFailedException') return new ConflictError(`${what}: condition failed${detail}`, options.context);
  if (ACCESS.has(name))
    return new RekeyError(
      `${what}: access denied (${name})${detail}; check the IAM policy of this function and the KMS key policy`,
      options,
    );
  if (
    TRANSIENT.has(name) ||
    shape.$retryable?.throttling ||
    (code !== undefined && NETWORK.has(code)) ||
    (status !== undefined && status >= 500) ||
    shape.$fault === 'server'
  ) {
    const throttled = THROTTLING.has(name) || shape.$retryable?.throttling === true;
    return new TransientError(
      `${what}: ${name}${detail} (the SDK retried ${shape.$metadata?.attempts ?? 1} time(s); try again later)`,
      throttled ? { ...options, context: { ...options.context, throttled: true } } : options,
    );
  }
  if (name === 'LimitExceededException') return new RekeyError(`${what}: a service quota would be exceeded${detail}`, options);
  if (name === 'EncryptionFailure' || name === 'DecryptionFailure' || name.startsWith('KMS')) {
    return new RekeyError(`${what}: KMS refused (${name})${detail}; check REKEY_KMS_KEY_ID and the key policy`, options);
  }
  return new RekeyError(`${what}: ${name}${detail}`, options);
}

/** Runs an SDK call and translates what it throws. */
export async function awsCall<T>(call: AwsCall, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw translateAwsError(e, call);
  }
}
