import { readFileSync } from 'node:fs';
import type { AwsCredentialIdentity } from '@smithy/types';
import { isAbsolute, join } from 'node:path';
import {
  awsOptionsFromEnv,
  createAwsAdapters,
  eksTokenProvider,
  type AwsAdapterOptions,
  type SqsStepQueue,
} from '../../shared/adapters/aws/index.js';
import { DynamoDbRemediationStore } from '../../shared/adapters/aws/dynamodb-remediations.js';
import { DynamoDbRateLimit } from '../../shared/adapters/aws/dynamodb-rate-limit.js';
import type { SharedRateLimit } from '../../shared/ports/shared-rate-limit.js';
import type { RemediationStore } from '../../shared/app/alerts/store.js';
import { TlsProber } from '../../shared/adapters/probe/index.js';
import { PostgresDatabases } from '../../shared/adapters/postgres/index.js';
import type { Deps } from '../../shared/app/deps.js';
import { requestRestarts } from '../../shared/app/restart/index.js';
import { reportRequestProgress } from '../../shared/app/requests.js';
import { UsageError } from '../../shared/domain/errors.js';
import { acmeCaFromEnv, issuersFor } from '../../shared/adapters/issuers/registry.js';
import { StepRetry } from '../../shared/domain/rotation/retry.js';
import type { Inventory } from '../../shared/domain/inventory/model.js';
import type { Cluster } from '../../shared/ports/cluster.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import type { EventBus } from '../../shared/ports/event-bus.js';
import type { Journal } from '../../shared/ports/journal.js';
import type { Logger } from '../../shared/ports/logger.js';
import type { SecretStore } from '../../shared/ports/secret-store.js';
import type { StepQueue } from '../../shared/ports/step-queue.js';
import type { RestartCheckQueue } from '../../shared/ports/restart-checks.js';
import { jsonLogger } from './logger.js';
import { FunctionEnv } from './runtime-source.js';
import { packagedInventory, type PackagedInventory } from './packaged-inventory.js';
import { deserializeInventory, inventoryFileDigest } from '../../shared/domain/inventory/serialized.js';
import { hasRenewalIndex } from '../../shared/ports/renewal-index.js';
import { defined } from '../../shared/domain/defined.js';

export { FunctionEnv, lazyRuntime, onFirstUse, type RuntimeSource } from './runtime-source.js';

/** 500 requests per 10 s: `rekey serve`'s default of 50 per second per client, held across containers. */
export const DEFAULT_API_RATE_LIMIT = { limit: 500, windowSeconds: 10 } as const;

/** Attempts of one step before the step function gives up on it (fails the rotation, dead-letters the message). */
export const DEFAULT_STEP_ATTEMPTS = StepRetry.maxAttempts;

/** The step queue as the functions use it: the port, plus SQS's backoff and dead-lettering. */
export type FunctionQueue = StepQueue & Pick<SqsStepQueue, 'postpone' | 'deadLetter'>;

/** The adapters a function runs on (AWS in Lambda; tests plug in the embedded ones). */
export interface FunctionAdapters {
  readonly store: SecretStore;
  readonly journal: Journal;
  readonly events: EventBus;
  readonly queue: FunctionQueue;
  /** Alert remediation's memory (dedupe claims, approvals): DynamoDB on AWS; absent, the alert routes answer 501. */
  readonly remediations?: RemediationStore;
  /** The API's per-client limit shared by every container (DynamoDB on AWS); absent, each container limits alone. */
  readonly rateLimit?: SharedRateLimit;
}

/** What a function's cold start builds once and every invocation shares. */
export interface LambdaRuntime {
  readonly inventory: Inventory;
  readonly aws: FunctionAdapters;
  readonly log: Logger;
  readonly clock: Clock;
  readonly stepMaxAttempts: number;
  readonly eventsDeadLetterQueueUrl?: string;
  readonly repairDrift: boolean;
  /** The inventory's clusters, connected on first use (the kube client is slow to load; `delay` never needs it). */
  clusters(): Promise<ReadonlyMap<string, Cluster>>;
}

/**
 * The inventory packaged with the function: REKEY_INVENTORY_FILE, relative to the package root (LAMBDA_TASK_ROOT),
 * validated as the CLI validates it. `serverless package` validated it already and embedded it as JSON with the
 * digest of its text (packaged-inventory.ts): when the file is that one, the copy is used, and neither js-yaml nor
 * the inventory's zod schema is loaded (cold start, issue 14 target 5). Any other file (or no embedded copy: tests,
 * local runs) is validated here, on the first invocation.
 */
export async function readPackagedInventory(
  env: NodeJS.ProcessEnv = process.env,
  packaged: PackagedInventory | undefined = packagedInventory,
): Promise<Inventory> {
  const file = env[FunctionEnv.inventoryFile] || 'inventory.yaml';
  const path = isAbsolute(file) ? file : join(env.LAMBDA_TASK_ROOT ?? process.cwd(), file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(
      `cannot read the inventory ${path} (${FunctionEnv.inventoryFile}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (packaged && inventoryFileDigest(text) === packaged.sha256) return deserializeInventory(packaged.json);
  const { loadInventory } = await import('../../shared/domain/inventory/load.js');
  return loadInventory(text, file);
}

/** `dc1=prod-eu,dc2=prod-us`: inventory cluster -> EKS cluster name. */
function parseEksClusters(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [k, v] = pair.split('=');
    if (!k || !v) throw new UsageError(`${FunctionEnv.eksClusters}: "${pair}" is not inventoryCluster=eksCluster`);
    map[k] = v;
  }
  return map;
}

interface KubeModule {
  connectClusters(
    refs: Inventory['clusters'],
    options: { kubeconfig?: string; kubeconfigYaml?: string; tokenProvider?: (c: string) => Promise<string>; log: Logger },
  ): Promise<Map<string, Cluster>>;
}

/**
 * Connects the inventory's clusters with a kubeconfig kept in Secrets Manager (REKEY_KUBECONFIG_SECRET, default
 * `rekey/<inventory>/kubeconfig`), or the file KUBECONFIG names when no secret is configured and the file is set
 * (local runs). With REKEY_EKS_CLUSTERS, bearer tokens are presigned STS URLs (like `aws eks get-token`).
 */
async function connect(
  inventory: Inventory,
  aws: FunctionAdapters,
  log: Logger,
  env: NodeJS.ProcessEnv,
): Promise<ReadonlyMap<string, Cluster>> {
  const kube = (await import('../../shared/adapters/kube/index.js')) as KubeModule;
  const eks = env[FunctionEnv.eksClusters];
  // The function's own credentials (its role), as the Secrets Manager client resolved them.
  const credentials = (aws.store as { client?: { config: { credentials: () => Promise<AwsCredentialIdentity> } } }).client?.config
    .credentials;
  if (eks && !credentials) throw new UsageError(`${FunctionEnv.eksClusters} needs AWS credentials, and this runtime's store has none`);
  const tokenProvider =
    eks && credentials
      ? eksTokenProvider({ region: env.AWS_REGION ?? 'us-east-1', credentials, clusterNames: parseEksClusters(eks) })
      : undefined;
  const secretName =
    env[FunctionEnv.kubeconfigSecret] ?? (env[FunctionEnv.kubeconfigFile] ? undefined : `rekey/${inventory.name}/kubeconfig`);
  if (secretName) {
    const stored = await aws.store.getVersion(secretName);
    if (!stored)
      throw new UsageError(
        `no kubeconfig in Secrets Manager at ${secretName} (${FunctionEnv.kubeconfigSecret}); store one, or set ${FunctionEnv.kubeconfigFile} for a local run`,
      );
    return kube.connectClusters(inventory.clusters, { kubeconfigYaml: stored.value, ...(tokenProvider && { tokenProvider }), log });
  }
  return kube.connectClusters(inventory.clusters, {
    kubeconfig: defined(defined(env[FunctionEnv.kubeconfigFile]).split(':')[0]),
    ...(tokenProvider && { tokenProvider }),
    log,
  });
}

export interface ColdStartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly inventory: Inventory;
  readonly aws?: FunctionAdapters;
  readonly log?: Logger;
  readonly clock?: Clock;
  readonly clusters?: () => Promise<ReadonlyMap<string, Cluster>>;
}

/** A whole number ≥ 1 from the environment, or the default; anything else is a UsageError at cold start. */
function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[1-9][0-9]{0,8}$/.test(text)) throw new UsageError(`${name}=${text}: expected a whole number ≥ 1`);
  return Number(text);
}

/** The AWS adapters of a function, with the remediation store and the API's rate windows on the journal table (same client). */
function awsFunctionAdapters(options: AwsAdapterOptions, inventory: string, env: NodeJS.ProcessEnv): FunctionAdapters {
  const adapters = createAwsAdapters(options);
  const client = adapters.journal.client;
  return {
    ...adapters,
    remediations: new DynamoDbRemediationStore({ tableName: options.journalTable, inventory, client }),
    rateLimit: new DynamoDbRateLimit({
      tableName: options.journalTable,
      inventory,
      client,
      limit: positiveInt(env, FunctionEnv.apiRateLimit, DEFAULT_API_RATE_LIMIT.limit),
      windowSeconds: positiveInt(env, FunctionEnv.apiRateWindowSeconds, DEFAULT_API_RATE_LIMIT.windowSeconds),
    }),
  };
}

/** Builds the runtime of a function from the environment and its packaged inventory (read first). */
export async function buildRuntime(options: Omit<ColdStartOptions, 'inventory'> & { inventory?: Inventory } = {}): Promise<LambdaRuntime> {
  return coldStart({ ...options, inventory: options.inventory ?? (await readPackagedInventory(options.env ?? process.env)) });
}

/** Builds the runtime from the environment and an inventory; tests pass any part ready-made. */
export function coldStart(options: ColdStartOptions): LambdaRuntime {
  const env = options.env ?? process.env;
  const log = options.log ?? jsonLogger({ level: env[FunctionEnv.logLevel] });
  const inventory = options.inventory;
  const aws = options.aws ?? awsFunctionAdapters(awsOptionsFromEnv(env), inventory.name, env);
  const attempts = env[FunctionEnv.maxAttempts];
  if (attempts !== undefined && !/^[1-9][0-9]?$/.test(attempts))
    throw new UsageError(`${FunctionEnv.maxAttempts}=${attempts}: expected a whole number from 1 to 99`);
  let connected: Promise<ReadonlyMap<string, Cluster>> | undefined;
  const clusters =
    options.clusters ??
    (() => {
      connected ??= connect(inventory, aws, log, env).catch((e: unknown) => {
        connected = undefined; // try again on the next invocation
        throw e;
      });
      return connected;
    });
  const dlq = env[FunctionEnv.eventsDeadLetterQueueUrl];
  return {
    inventory,
    aws,
    log,
    clock: options.clock ?? systemClock,
    stepMaxAttempts: attempts ? Number(attempts) : DEFAULT_STEP_ATTEMPTS,
    ...(dlq && { eventsDeadLetterQueueUrl: dlq }),
    repairDrift: env[FunctionEnv.repairDrift] === 'true',
    clusters,
  };
}

/** The Deps of one invocation: the runtime's adapters, the clusters, restarts through EventBridge, the deadline. */
export function depsFor(
  rt: LambdaRuntime,
  clusters: ReadonlyMap<string, Cluster>,
  options: { signal?: AbortSignal; log?: Logger } = {},
): Deps {
  const live = [...clusters.values()].some((c) => c.workloads);
  const base = {
    store: rt.aws.store,
    journal: rt.aws.journal,
    // The renewal index lives in the journal table: the scheduled scan reads what is due, not every secret.
    ...(hasRenewalIndex(rt.aws.journal) && { renewals: rt.aws.journal }),
    queue: rt.aws.queue,
    events: rt.aws.events,
    clock: rt.clock,
    log: options.log ?? rt.log,
    clusters,
    prober: new TlsProber(),
    // urlFrom: the function's environment, a packaged file, or a secret in the stack's Secrets Manager.
    databases: new PostgresDatabases({ env: process.env, readSecret: async (name) => (await rt.aws.store.getVersion(name))?.value }),
    // Restart workers queue the waiting restart step again when they are done: no poll every few seconds.
    restartOutcomesWake: true,
    // Rollouts are checked later from the delay queue, not waited for: a restart holds no execution while pods roll.
    ...(hasRestartCheckQueue(rt.aws.queue) && { restartChecks: rt.aws.queue }),
    ...(options.signal && { signal: options.signal }),
    ...issuersFor(rt.inventory, { store: rt.aws.store, ...acmeCaFromEnv() }),
  };
  if (!live) return base;
  const deps: Deps = {
    ...base,
    restarts: { request: (inventory, record) => requestRestarts(deps, inventory, record) },
    // A rotation started by a RotationRequest: its status follows the steps, not only the next scheduled scan.
    rotationRecorded: (record) => reportRequestProgress(deps, record),
  };
  return deps;
}

/** A queue that can bring restart checks back (SQS with a delay queue; the tests' recording queues cannot). */
function hasRestartCheckQueue(queue: FunctionQueue): queue is FunctionQueue & RestartCheckQueue {
  const q = queue as Partial<RestartCheckQueue> & { hasDelayQueue?: boolean };
  return typeof q.scheduleRestartCheck === 'function' && q.hasDelayQueue === true;
}
