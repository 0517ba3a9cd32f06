import { EventType, makeEvent, type RekeyEvent } from '../domain/events/types.js';
import { UnmanagedObjectError } from '../domain/errors.js';
import type { Inventory } from '../domain/inventory/model.js';
import { decideSync, desiredSecret, SyncReason } from '../domain/sync/desired.js';
import type { Unit } from '../domain/units.js';
import type { DesiredSecret, ObservedSecret } from '../ports/cluster.js';
import { mapLimit } from './concurrency.js';
import type { Deps } from './deps.js';
import type { MaterialReader } from './materials.js';

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

export interface FileOutcome {
  readonly unit: string;
  readonly dir: string;
  readonly written: readonly string[];
  readonly reloaded: boolean;
}

export interface SyncReport {
  readonly secrets: readonly SyncOutcome[];
  readonly files: readonly FileOutcome[];
}

interface Target {
  readonly unit: Unit;
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
}

const WRITE_CONCURRENCY = 16;

function targetsOf(units: readonly Unit[]): Target[] {
  return units.flatMap((unit) => {
    const placement = unit.item.secret;
    if (!placement || !unit.secretName) return [];
    return placement.clusters.map((cluster) => ({ unit, cluster, namespace: placement.namespace, name: unit.secretName! }));
  });
}

/**
 * Brings the Secrets (and host files) of `units` to their current versions. Lists each namespace once per
 * cluster, writes only what differs, and reports every target. With `dryRun` it only reports.
 */
export async function syncUnits(
  deps: Deps,
  inventory: Inventory,
  units: readonly Unit[],
  reader: MaterialReader,
  options: { rotationId?: string; dryRun?: boolean } = {},
): Promise<SyncReport> {
  const targets = targetsOf(units);
  const observed = new Map<string, Promise<Map<string, ObservedSecret> | undefined>>();
  const observedIn = (cluster: string, namespace: string) => {
    const key = `${cluster}/${namespace}`;
    let hit = observed.get(key);
    if (!hit) {
      const sink = deps.clusters.get(cluster)?.secrets;
      hit = sink ? sink.listSecrets(namespace).then((list) => new Map(list.map((s) => [s.name, s]))) : Promise.resolve(undefined);
      observed.set(key, hit);
    }
    return hit;
  };

  const events: RekeyEvent[] = [];
  const secrets = await mapLimit(targets, WRITE_CONCURRENCY, async (t): Promise<SyncOutcome> => {
    const base = { cluster: t.cluster, namespace: t.namespace, secret: t.name, unit: t.unit.key, item: t.unit.item.name };
    const existing = await observedIn(t.cluster, t.namespace);
    if (!existing) return { ...base, change: SyncChange.Unreachable, reason: `cluster "${t.cluster}" is not connected` };
    const current = await reader.current(t.unit.storeName);
    if (!current) return { ...base, change: SyncChange.NotIssued };
    const desired: DesiredSecret = desiredSecret({
      inventory: inventory.name,
      item: t.unit.item,
      unitKey: t.unit.key,
      name: t.name,
      namespace: t.namespace,
      versionId: current.versionId,
      material: current.material,
    });
    const seen = existing.get(t.name);
    const decision = decideSync(desired, seen, t.unit.item.adopt);
    if (!decision.write) {
      return decision.reason === SyncReason.SecretUnmanaged
        ? { ...base, change: SyncChange.Unmanaged, reason: `Secret exists and is not managed by rekey (set adopt: true to take it over)` }
        : { ...base, change: SyncChange.Unchanged, versionId: current.versionId };
    }
    const change = seen ? SyncChange.Updated : SyncChange.Created;
    if (options.dryRun) return { ...base, change, reason: decision.reason, versionId: current.versionId };
    try {
      await deps.clusters.get(t.cluster)!.secrets.writeSecret(desired, { adopt: t.unit.item.adopt, ...(seen && { expected: seen }) });
    } catch (e) {
      if (e instanceof UnmanagedObjectError) return { ...base, change: SyncChange.Unmanaged, reason: e.message };
      throw e;
    }
    const detail = { inventory: inventory.name, item: t.unit.key, ...(options.rotationId && { rotationId: options.rotationId }) };
    const fields = { cluster: t.cluster, namespace: t.namespace, secret: t.name, versionId: current.versionId, change, reason: decision.reason };
    events.push(makeEvent(EventType.SecretSynced, detail, fields));
    if (decision.reason === SyncReason.SecretDrifted) events.push(makeEvent(EventType.DriftDetected, detail, { ...fields, repaired: true }));
    return { ...base, change, reason: decision.reason, versionId: current.versionId };
  });

  const files = options.dryRun ? [] : await syncFiles(deps, units, reader);
  await deps.events.publish(events);
  return { secrets, files };
}

/**
 * Writes host files that differ, then runs each reload command once, after every file it serves is in place:
 * a CA bundle and a server certificate that change together reload Apache once, with both.
 */
async function syncFiles(deps: Deps, units: readonly Unit[], reader: MaterialReader): Promise<FileOutcome[]> {
  const written: { unit: string; dir: string; written: string[]; reload?: string }[] = [];
  if (!deps.hostFiles) return [];
  for (const unit of units) {
    const placement = unit.item.files;
    if (!placement) continue;
    const current = await reader.current(unit.storeName);
    if (!current) continue;
    const m = current.material;
    const files: Record<string, string> = {};
    if (m.type === 'certificate') {
      files[placement.cert] = m.cert + m.chain;
      if (placement.key && unit.item.kind !== 'authority') files[placement.key] = m.key;
      if (placement.ca) files[placement.ca] = m.ca;
    } else if (m.type === 'password') {
      files[placement.cert] = m.password;
    } else {
      files[placement.cert] = JSON.stringify({ keys: m.keySet });
      if (placement.key) files[placement.key] = JSON.stringify(m.jwk);
    }
    written.push({ unit: unit.key, dir: placement.dir, written: await deps.hostFiles.write(placement, files), ...(placement.reload && { reload: placement.reload }) });
  }
  const reloads = new Set(written.filter((w) => w.written.length && w.reload).map((w) => w.reload!));
  for (const command of reloads) await deps.hostFiles.reload(command);
  return written.map((w) => ({ unit: w.unit, dir: w.dir, written: w.written, reloaded: Boolean(w.reload && reloads.has(w.reload)) }));
}
