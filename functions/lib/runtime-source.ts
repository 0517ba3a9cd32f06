import type { LambdaRuntime } from './runtime.js';
import { onFirstUse } from './on-first-use.js';

export { onFirstUse } from './on-first-use.js';

/** Environment variables of the functions beyond the adapters' own (see AwsEnv). */
export const FunctionEnv = {
  inventoryFile: 'REKEY_INVENTORY_FILE',
  kubeconfigSecret: 'REKEY_KUBECONFIG_SECRET',
  kubeconfigFile: 'KUBECONFIG',
  eksClusters: 'REKEY_EKS_CLUSTERS',
  maxAttempts: 'REKEY_STEP_MAX_ATTEMPTS',
  eventsDeadLetterQueueUrl: 'REKEY_EVENTS_DLQ_URL',
  repairDrift: 'REKEY_REPAIR_DRIFT',
  logLevel: 'LOG_LEVEL',
  /** Requests per client per window across every container of the API (and alert) function; default 500. */
  apiRateLimit: 'REKEY_API_RATE_LIMIT',
  /** That window, in seconds; default 10. */
  apiRateWindowSeconds: 'REKEY_API_RATE_WINDOW_SECONDS',
} as const;

/** A function's runtime: built for the first invocation that asks, or given ready-made (tests). */
export type RuntimeSource = () => LambdaRuntime | Promise<LambdaRuntime>;

/**
 * One runtime per process, built on the first invocation (so importing a handler stays cheap and never throws).
 * The runtime's module (the AWS SDK and its adapters, the issuers, the probe) is loaded then too: a handler's import
 * (Lambda's init) parses none of it (cold start, issue 14 target 5).
 */
export function lazyRuntime(
  build: () => LambdaRuntime | Promise<LambdaRuntime> = async () => (await import('./runtime.js')).buildRuntime(),
): () => Promise<LambdaRuntime> {
  return onFirstUse(build);
}
