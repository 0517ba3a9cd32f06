import { join } from 'node:path';
import { JsonJournal } from '../../../../shared/adapters/local/json-journal.js';
import { LocalEventBus } from '../../../../shared/adapters/local/local-event-bus.js';
import type { Deps } from '../../../../shared/app/deps.js';
import { handleRestartEvent, requestRestarts } from '../../../../shared/app/restart/index.js';
import { NotFoundError } from '../../../../shared/domain/errors.js';
import type { Inventory } from '../../../../shared/domain/inventory/model.js';
import { RotationKind, RotationStatus, Trigger, type RotationRecord } from '../../../../shared/domain/rotation/record.js';
import { unitsOf } from '../../../../shared/domain/units.js';
import {
  RestartOutcome,
  type Cluster,
  type RolloutStatus,
  type SecretSink,
  type SecretUse,
  type WorkloadControl,
  type WorkloadRef,
} from '../../../../shared/ports/cluster.js';
import { systemClock } from '../../../../shared/ports/clock.js';
import { silentLogger } from '../../../../shared/ports/logger.js';
import type { SecretStore } from '../../../../shared/ports/secret-store.js';
import { issuerRegistry } from '../../../../shared/adapters/issuers/registry.js';

const id = (r: WorkloadRef) => `${r.kind}/${r.namespace}/${r.name}`;

/** A cluster's workloads in memory: records every call, rolls out after `pollsToRollOut` status checks. */
export class FakeWorkloads implements WorkloadControl {
  readonly calls: string[] = [];
  readonly hashes = new Map<string, string>();
  readonly patches: { object: unknown; patch: unknown }[] = [];
  /** Workloads that exist; restarting anything else is a NotFoundError. */
  readonly existing = new Set<string>();
  readonly selectors = new Map<string, WorkloadRef[]>();
  readonly uses: SecretUse[] = [];
  /** Workloads that never finish rolling out (a paused Deployment). */
  readonly held = new Set<string>();
  /** Evictions refused (429) this many more times, per pod. */
  readonly pdbRefusals = new Map<string, number>();
  pollsToRollOut = 1;
  /** Batched rollout readings, when a test gives the fake one (the kube adapter's list per namespace and kind). */
  rolloutStatuses?: WorkloadControl['rolloutStatuses'];
  inFlight = 0;
  maxInFlight = 0;
  private readonly polls = new Map<string, number>();
  private readonly rolling = new Set<string>();

  constructor(
    readonly cluster: string,
    private readonly log: string[],
  ) {}

  async selectWorkloads(namespace: string, selector: string): Promise<WorkloadRef[]> {
    return this.selectors.get(`${namespace}/${selector}`) ?? [];
  }

  async restart(ref: WorkloadRef, versionsHash: string): Promise<RestartOutcome> {
    const key = id(ref);
    this.calls.push(`restart ${key}`);
    if (!this.existing.has(key)) throw new NotFoundError(`${key} not found`);
    const refusals = this.pdbRefusals.get(key) ?? 0;
    if (refusals > 0) {
      this.pdbRefusals.set(key, refusals - 1);
      const { EvictionBlockedError } = await import('../../../../shared/adapters/kube/errors.js');
      throw new EvictionBlockedError(`eviction of pod ${key} would violate a PodDisruptionBudget`);
    }
    if (this.hashes.get(key) === versionsHash) return RestartOutcome.NotUpdated;
    this.hashes.set(key, versionsHash);
    this.polls.set(key, 0);
    this.rolling.add(key);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.log.push(`${this.cluster} restart ${key}`);
    return RestartOutcome.Updated;
  }

  async rolloutStatus(ref: WorkloadRef): Promise<RolloutStatus> {
    const key = id(ref);
    if (this.held.has(key)) return { done: false, message: '0 of 1 new replicas have been updated (held: the deployment is paused)' };
    const n = (this.polls.get(key) ?? Infinity) + 1;
    this.polls.set(key, n);
    const done = n >= this.pollsToRollOut;
    if (done && this.rolling.delete(key)) {
      this.inFlight--;
      this.log.push(`${this.cluster} rolled out ${key}`);
    }
    return { done, message: done ? 'rolled out' : 'rolling' };
  }

  async findSecretUses(): Promise<SecretUse[]> {
    return this.uses;
  }

  async mergePatch(object: unknown, patch: Readonly<Record<string, unknown>>): Promise<void> {
    this.patches.push({ object, patch });
  }
}

const noSink: SecretSink = {
  listSecrets: async () => [],
  getSecret: async () => undefined,
  writeSecret: async () => 'unchanged',
};

/** The current version of every store name (describe only). */
export function fakeStore(versions: () => Record<string, string>): SecretStore {
  return {
    describe: async (name) => {
      const v = versions()[name];
      return v ? { name, tags: {}, versions: [{ versionId: v, stages: ['AWSCURRENT'], createdAt: '2026-01-01T00:00:00Z' }] } : undefined;
    },
  } as SecretStore;
}

export interface Harness {
  readonly deps: Deps;
  readonly bus: LocalEventBus;
  readonly journal: JsonJournal;
  readonly workloads: ReadonlyMap<string, FakeWorkloads>;
  /** Global order of restarts and rollouts across clusters. */
  readonly log: string[];
}

export function harness(
  inventory: Inventory,
  dir: string,
  options: { clusters?: readonly string[]; versions?: Record<string, string>; signal?: AbortSignal } = {},
): Harness {
  const log: string[] = [];
  const workloads = new Map<string, FakeWorkloads>();
  const clusters = new Map<string, Cluster>();
  for (const name of options.clusters ?? inventory.clusters.map((c) => c.name)) {
    const w = new FakeWorkloads(name, log);
    workloads.set(name, w);
    clusters.set(name, { name, secrets: noSink, workloads: w });
  }
  const journal = new JsonJournal(join(dir, 'journal'));
  const bus = new LocalEventBus(undefined);
  const versions = options.versions ?? {};
  const store = fakeStore(() => versions);
  const deps: Deps = {
    store,
    issuers: issuerRegistry({ store, inventory: inventory.name }),
    journal,
    queue: { enqueue: async () => {} },
    events: bus,
    clock: systemClock,
    log: silentLogger,
    clusters,
    ...(options.signal && { signal: options.signal }),
  };
  bus.subscribe((e) => handleRestartEvent(deps, inventory, e));
  return { deps, bus, journal, workloads, log };
}

/** A rotation of `item` sitting at its restart step, synced at `syncedAt`. */
export async function rotationAtRestart(h: Harness, inventory: Inventory, item: string, syncedAt = new Date()): Promise<RotationRecord> {
  const units = unitsOf(inventory, inventory.items.get(item)!).map((u) => u.storeName);
  const record: RotationRecord = {
    id: `rot-${item}`,
    inventory: inventory.name,
    item,
    kind: RotationKind.Leaf,
    status: RotationStatus.Running,
    step: 'restart',
    attempt: 0,
    revision: 1,
    trigger: Trigger.Manual,
    reason: 'test',
    startedAt: syncedAt.toISOString(),
    updatedAt: syncedAt.toISOString(),
    units,
    previousVersions: {},
    restarts: {},
    history: [{ step: 'sync', status: 'completed', at: syncedAt.toISOString(), attempt: 0 }],
  };
  await h.journal.create(record);
  return record;
}

export { requestRestarts };
