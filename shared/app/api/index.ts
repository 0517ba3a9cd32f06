import type { Inventory } from '../../domain/inventory/model.js';
import type { RotationRecord } from '../../domain/rotation/record.js';
import type { AlertService } from '../alerts/service.js';
import type { Deps } from '../deps.js';
import { rollbackItem } from '../rollback.js';
import { status } from '../status.js';
import { TokenVerifier } from './auth.js';
import type { ApiBackend, ReadinessCheck } from './backend.js';
import { ItemSummaries } from './item-summaries.js';
import type { LeveledLogger } from './json-logger.js';
import { storeKeySet } from './key-set.js';
import { createRouter, type Router, type RouterOptions } from './router.js';
import { TOKEN_AUDIENCE, tokenIssuer } from './signing-key.js';
import { REKEY_VERSION } from './version.js';

export interface ApiOptions {
  readonly inventory: Inventory;
  readonly deps: Deps;
  readonly runtime: 'serve' | 'lambda';
  readonly logger: LeveledLogger;
  readonly metrics?: () => Promise<{ contentType: string; text: string }>;
  readonly rotationStarted?: (record: RotationRecord) => void;
  readonly readiness?: readonly ReadinessCheck[];
  readonly rollback?: ApiBackend['rollback'];
  readonly alerts?: AlertService;
  readonly router?: Omit<RouterOptions, 'backend' | 'verifier'>;
  /** Seconds the verifier keeps the key set before re-reading it from the store (default 30). */
  readonly keySetTtlSeconds?: number;
  /**
   * A marker of this process's writes to the store and journal (`ChangeCounter.value`): the item summaries and the
   * key set are read again as soon as it changes. Absent: only their age bounds them.
   */
  readonly storeVersion?: () => number | string;
  /**
   * The longest `GET /v1/items` answers a summary computed earlier (default 5 s): the bound on seeing writes this
   * process did not make. 0: computed on every request.
   */
  readonly itemsMaxAgeSeconds?: number;
}

/** Seconds a summary of every unit is answered when nothing this process wrote changed it (the Lambda default). */
export const DEFAULT_ITEMS_MAX_AGE_SECONDS = 5;

export interface Api {
  readonly router: Router;
  readonly backend: ApiBackend;
  readonly verifier: TokenVerifier;
}

/** The API of one runtime: backend, token verifier over the store's key set, and the router. */
export function createApi(options: ApiOptions): Api {
  const { inventory, deps, logger } = options;
  const backend: ApiBackend = {
    inventory,
    deps,
    version: REKEY_VERSION,
    runtime: options.runtime,
    logLevel: { get: () => logger.level(), set: (l) => logger.setLevel(l) },
    ...(options.metrics && { metrics: options.metrics }),
    ...(options.rotationStarted && { rotationStarted: options.rotationStarted }),
    ...(options.readiness && { readiness: options.readiness }),
    rollback: options.rollback ?? ((item, reason) => rollbackItem(deps, inventory, item, { reason })),
    ...(options.alerts && { alerts: options.alerts }),
    itemSummaries: new ItemSummaries(inventory.name, () => status(deps, inventory), {
      maxAgeMs: (options.itemsMaxAgeSeconds ?? DEFAULT_ITEMS_MAX_AGE_SECONDS) * 1000,
      ...(options.storeVersion && { version: options.storeVersion }),
    }),
  };
  const verifier = new TokenVerifier({
    issuer: tokenIssuer(inventory.name),
    audience: TOKEN_AUDIENCE,
    keySet: storeKeySet(deps.store, inventory.name, {
      ttlMs: (options.keySetTtlSeconds ?? 30) * 1000,
      ...(options.storeVersion && { version: options.storeVersion }),
    }),
  });
  return { router: createRouter({ backend, verifier, ...options.router }), backend, verifier };
}

export { ApiProblem, ProblemKind } from './problem.js';
export { Scope, ALL_SCOPES } from './scopes.js';
export type { ApiRequest, ApiResponse } from './http.js';
export type { Router } from './router.js';
