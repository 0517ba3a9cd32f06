/**
 * Settings every rekey AWS client shares. The endpoint is left to the SDK, which reads `AWS_ENDPOINT_URL` (and the
 * per-service `AWS_ENDPOINT_URL_<SERVICE>`) itself, so pointing rekey at moto needs no code path of its own.
 */
export interface AwsClientSettings {
  /** Default: AWS_REGION from the environment (Lambda sets it). */
  readonly region?: string;
  /** Attempts per call, first included (default 5). Throttling is retried with the adaptive (client-side rate limiting) mode. */
  readonly maxAttempts?: number;
}

export const DEFAULT_MAX_ATTEMPTS = 5;

export function clientConfig(settings: AwsClientSettings = {}): { region?: string; maxAttempts: number; retryMode: 'adaptive' } {
  return {
    ...(settings.region && { region: settings.region }),
    maxAttempts: settings.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: 'adaptive',
  };
}
