import { alertService } from '../../shared/app/alerts/service.js';
import { ChangeCounter, countWrites, JOURNAL_READS, STORE_READS } from '../../shared/app/change-counter.js';
import { createApi, type Api } from '../../shared/app/api/index.js';
import type { LeveledLogger } from '../../shared/app/api/json-logger.js';
import type { RouterOptions } from '../../shared/app/api/router.js';
import { ensureApiSigningKey } from '../../shared/app/api/signing-key.js';
import type { Cluster } from '../../shared/ports/cluster.js';
import type { Invocation } from './invocation.js';
import { depsFor, type LambdaRuntime } from './runtime.js';

/**
 * Lambda's answer to GET /metrics: the same Prometheus text as `rekey serve` (expiry and renewal instants read from
 * the store now), and the same figures written to the log as CloudWatch embedded metric format lines, so CloudWatch
 * keeps them as metrics (namespace `rekey`). Counters live in one warm container only; they are not reported here.
 */
function lambdaMetrics(source: Parameters<typeof createApi>[0], write: (line: string) => void) {
  return async () => {
    const [{ RekeyMetrics }, { emfLines }] = await Promise.all([
      import('../../shared/app/metrics/registry.js'),
      import('../../shared/app/metrics/emf.js'),
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

export interface LambdaApiSetup {
  readonly rt: LambdaRuntime;
  readonly logger: LeveledLogger;
  readonly inv: Invocation;
  readonly write: (line: string) => void;
  /** The first request's time budget: the router's timeout in this warm container. */
  readonly timeoutMs: number;
  readonly options: { rateLimit?: RouterOptions['rateLimit']; itemsMaxAgeSeconds?: number };
}

/**
 * The API of a warm container, built by its first request (functions/api.ts loads this module then): the signing
 * key made and saved if the store has none (seed 003), Deps without a per-invocation deadline (the API outlives
 * the invocation), writes counted so GET /v1/items sees this container's changes at once, and the alert service
 * on the remediation store when the runtime has one.
 */
export async function buildLambdaApi({ rt, logger, inv, write, timeoutMs, options }: LambdaApiSetup): Promise<Api> {
  const { material, generated } = await ensureApiSigningKey(rt.aws.store, rt.inventory.name, { now: rt.clock.now() });
  if (generated) logger.info('API signing key generated', { kid: material.kid });
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
  return createApi({
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
      timeoutMs,
      ...(options.rateLimit !== undefined && { rateLimit: options.rateLimit }),
      // The per-client limit across containers; the in-container bucket above stays the cheap first check.
      ...(rt.aws.rateLimit && { sharedRateLimit: rt.aws.rateLimit }),
    },
  });
}
