import { EventType, makeEvent, type RekeyEvent } from '../domain/events/types.js';
import { UnmanagedObjectError } from '../domain/errors.js';
import type { Inventory } from '../domain/inventory/model.js';
import { decideSync, desiredSecret, SyncReason } from '../domain/sync/desired.js';
import type { Unit } from '../domain/units.js';
import type { DesiredSecret, ObservedSecret } from '../ports/cluster.js';
import { limiter } from './concurrency.js';
import type { Deps } from './deps.js';
import type { MaterialReader } from './materials.js';
import { publishedKeySet } from './rotation/key-set.js';
import { defined } from '../domain/defined.js';

export const SyncChange = {
  Created: 'created',
  Updated: 'updated',
  Unchanged: 'unchanged',
  Unmanaged: 'unmanaged',
  Unreachable: 'unreachable',
  NotIssued: 'not-issued',
} as const;
export type SyncChange = (typeof SyncChange)[keyof typeof SyncChange];

export interface SyncOutcome {
  readonly cluster: string;
  readonly namespace: string;
  readonly secret: string;
  readonly unit: string;
  readonly item: string;
  readonly change: SyncChange;
  readonly reason?: string;
  readonly versionId?: string;
}

interface Target {
  readonly unit: Unit;
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  /** A signing key's second Secret: only the public key set (`jwksSecret`). */
  readonly publicKeySet?: true;
  /** Position in the report (the order of the units given, then placement order). */
  readonly index: number;
}

/** Secret writes in flight per cluster (the kube adapter keeps as many sockets busy). */
const WRITE_CONCURRENCY = 64;

function targetsOf(units: readonly Unit[]): Target[] {
  let index = 0;
  return units.flatMap((unit) => {
    const placement = unit.item.secret;
    if (!placement || !unit.secretName) return [];
    const jwks = unit.item.kind === 'credential' ? unit.item.jwksSecret : undefined;
    return placement.clusters.flatMap((cluster): Target[] => [
      { unit, cluster, namespace: placement.namespace, name: defined(unit.secretName), index: index++ },
      ...(jwks !== undefined
        ? [{ unit, cluster, namespace: placement.namespace, name: jwks, publicKeySet: true as const, index: index++ }]
        : []),
    ]);
  });
}

export interface SecretSyncOptions {
  readonly rotationId?: string;
  readonly dryRun?: boolean;
  /** A unit's ca.crt during a CA overlap (see `trustOverride`), shared with the host files' sync. */
  readonly trustOf: (unit: Unit) => Promise<string | undefined>;
  /** The reader forgets a leaf once its Secrets are written (apply: nothing reads it again). */
  readonly releaseSynced?: boolean;
}

/**
 * Brings the Secrets of units to their current versions as each unit is handed over (`add`), so writes start while
 * later units are still being issued. Each namespace is listed once per cluster, as soon as the sync is created;
 * only what differs is written, at most WRITE_CONCURRENCY at once per cluster. A unit must be added only once its
 * current version is final for this run (stored durably): its Secret is written from what the reader holds then.
 */
export class SecretSync {
  private readonly targets = new Map<string, Target[]>();
  private readonly observed = new Map<string, Promise<Map<string, ObservedSecret> | undefined>>();
  private readonly slots = new Map<string, <T>(task: () => Promise<T>) => Promise<T>>();
  private readonly added = new Set<string>();
  private readonly running: Promise<void>[] = [];
  private readonly outcomes: { index: number; outcome: SyncOutcome }[] = [];
  private readonly events: RekeyEvent[] = [];
  private error: { readonly cause: unknown } | undefined;

  constructor(
    private readonly deps: Deps,
    private readonly inventory: Inventory,
    private readonly units: readonly Unit[],
    private readonly reader: MaterialReader,
    private readonly options: SecretSyncOptions,
  ) {
    for (const t of targetsOf(units)) {
      const list = this.targets.get(t.unit.key) ?? [];
      list.push(t);
      this.targets.set(t.unit.key, list);
      // Listed now, while the caller is still issuing: the first write then waits for nothing else.
      void this.observedIn(t.cluster, t.namespace);
    }
  }

  /** Queues the Secrets of a unit whose current version is final for this run (a second add does nothing). */
  add(unit: Unit): void {
    if (this.added.has(unit.key)) return;
    this.added.add(unit.key);
    const writes = (this.targets.get(unit.key) ?? []).map((t) => this.slotOf(t.cluster)(() => this.syncTarget(t)));
    this.running.push(...writes);
    // syncTarget never rejects: its failure is kept in this.error.
    if (this.options.releaseSynced && readOnlyForItsSecrets(unit)) void Promise.all(writes).then(() => this.reader.release(unit.storeName));
  }

  /**
   * Adds every unit not added yet, waits for all writes, publishes their events, and reports every target in the
   * order of the units given. The first write that failed (other than an unmanaged Secret) is thrown after the events
   * of the writes that did happen are published; targets not started by then are not written.
   */
  async finish(): Promise<SyncOutcome[]> {
    for (const unit of this.units) this.add(unit);
    await this.settle();
    if (this.error) throw this.error.cause;
    return this.outcomes.sort((a, b) => a.index - b.index).map((o) => o.outcome);
  }

  /** Writes nothing more: waits for the writes under way and publishes their events (the caller failed). */
  async abandon(): Promise<void> {
    this.error ??= { cause: new Error('sync abandoned') };
    await this.settle();
  }

  private async settle(): Promise<void> {
    while (this.running.length) await Promise.all(this.running.splice(0));
    // Events before any reload or error: what was written into the clusters must not be lost.
    await this.deps.events.publish(this.events.splice(0));
  }

  private slotOf(cluster: string) {
    let slot = this.slots.get(cluster);
    if (!slot) {
      slot = limiter(WRITE_CONCURRENCY);
      this.slots.set(cluster, slot);
    }
    return slot;
  }

  private observedIn(cluster: string, namespace: string): Promise<Map<string, ObservedSecret> | undefined> {
    const key = `${cluster}/${namespace}`;
    let hit = this.observed.get(key);
    if (!hit) {
      const sink = this.deps.clusters.get(cluster)?.secrets;
      hit = sink ? sink.listSecrets(namespace).then((list) => new Map(list.map((s) => [s.name, s]))) : Promise.resolve(undefined);
      // Awaited by the first target of the namespace; a failure is reported there, not as an unhandled rejection.
      hit.catch(() => undefined);
      this.observed.set(key, hit);
    }
    return hit;
  }

  private async syncTarget(t: Target): Promise<void> {
    if (this.error) return;
    try {
      this.outcomes.push({ index: t.index, outcome: await this.write(t) });
    } catch (e) {
      this.error ??= { cause: e };
    }
  }

  private async write(t: Target): Promise<SyncOutcome> {
    const { deps, inventory, reader, options } = this;
    const base = { cluster: t.cluster, namespace: t.namespace, secret: t.name, unit: t.unit.key, item: t.unit.item.name };
    const existing = await this.observedIn(t.cluster, t.namespace);
    if (!existing) return { ...base, change: SyncChange.Unreachable, reason: `cluster "${t.cluster}" is not connected` };
    const current = await reader.current(t.unit.storeName);
    if (!current) return { ...base, change: SyncChange.NotIssued };
    const trust = await options.trustOf(t.unit);
    const keySet = await publishedKeySet(reader, t.unit);
    const desired: DesiredSecret = desiredSecret({
      inventory: inventory.name,
      item: t.unit.item,
      unitKey: t.unit.key,
      name: t.name,
      namespace: t.namespace,
      versionId: current.versionId,
      material: current.material,
      ...(trust !== undefined && { trust }),
      ...(keySet !== undefined && { keySet }),
      ...(t.publicKeySet && { publicKeySet: true }),
    });
    const seen = existing.get(t.name);
    const adopt = t.unit.item.adopt || fillsEmptySecret(t.unit, seen);
    const decision = decideSync(desired, seen, adopt);
    if (!decision.write) {
      return decision.reason === SyncReason.SecretUnmanaged
        ? { ...base, change: SyncChange.Unmanaged, reason: `Secret exists and is not managed by rekey (set adopt: true to take it over)` }
        : { ...base, change: SyncChange.Unchanged, versionId: current.versionId };
    }
    const change = seen ? SyncChange.Updated : SyncChange.Created;
    if (options.dryRun) return { ...base, change, reason: decision.reason, versionId: current.versionId };
    try {
      await defined(deps.clusters.get(t.cluster)).secrets.writeSecret(desired, { adopt, ...(seen && { expected: seen }) });
    } catch (e) {
      if (e instanceof UnmanagedObjectError) return { ...base, change: SyncChange.Unmanaged, reason: e.message };
      throw e;
    }
    const detail = { inventory: inventory.name, item: t.unit.key, ...(options.rotationId && { rotationId: options.rotationId }) };
    const fields = {
      cluster: t.cluster,
      namespace: t.namespace,
      secret: t.name,
      versionId: current.versionId,
      change,
      reason: decision.reason,
    };
    this.events.push(makeEvent(EventType.SecretSynced, detail, fields));
    if (decision.reason === SyncReason.SecretDrifted)
      this.events.push(makeEvent(EventType.DriftDetected, detail, { ...fields, repaired: true }));
    return { ...base, change, reason: decision.reason, versionId: current.versionId };
  }
}

/**
 * A certificate the run reads only to write its Secrets: no child signs under it, no token is minted from it, and it
 * has no host files (written after every Secret, from the same reader).
 */
function readOnlyForItsSecrets(unit: Unit): boolean {
  return unit.item.kind === 'certificate' && !unit.item.files;
}

/**
 * Seed 003: a signing key's (or token's) Secret that someone created empty, for rekey to fill, is filled even
 * without rekey's label or `adopt: true`. A Secret with any data stays someone else's.
 */
function fillsEmptySecret(unit: Unit, seen: ObservedSecret | undefined): boolean {
  const jwt = unit.item.kind === 'credential' && (unit.item.type === 'jwt-signing-key' || unit.item.type === 'jwt-token');
  return jwt && seen !== undefined && Object.values(seen.data).every((v) => v === '');
}
