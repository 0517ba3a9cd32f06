import { createHash } from 'node:crypto';
import { pemBlocks } from '../../domain/pki/pem.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { Annotation, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../domain/sync/desired.js';
import type { Unit } from '../../domain/units.js';
import type { ObservedSecret } from '../../ports/cluster.js';
import type { Deps } from '../deps.js';

/** How a cluster's copy of a unit's Secret compares with the store. */
export const PlacementState = {
  Current: 'current',
  Stale: 'stale',
  Missing: 'missing',
  Unmanaged: 'unmanaged',
  Unreachable: 'unreachable',
  NotChecked: 'not-checked',
} as const;
export type PlacementState = (typeof PlacementState)[keyof typeof PlacementState];

/** The store's current version of a unit, and its certificate's fingerprint. */
export interface CurrentRef {
  readonly versionId: string;
  readonly fingerprint?: string;
}

export interface Placement {
  readonly unit: string;
  readonly item: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly secret: string;
  readonly state: PlacementState;
  /** The store version the Secret's `rekey/version` annotation names. */
  readonly version?: string;
  readonly error?: string;
}

/** A Secret's metadata and the SHA-256 of its leaf certificate; its data is not kept. */
interface Seen {
  readonly secret: ObservedSecret;
  readonly leafFingerprint?: string;
}

function seenOf(s: ObservedSecret): Seen {
  const der = s.data['tls.crt'] ? pemBlocks(s.data['tls.crt'])[0] : undefined;
  return { secret: { ...s, data: {} }, ...(der && { leafFingerprint: createHash('sha256').update(der).digest('hex') }) };
}

function stateOf(seen: Seen | undefined, current: CurrentRef | undefined): { state: PlacementState; version?: string } {
  if (!seen) return { state: PlacementState.Missing };
  const observed = seen.secret;
  const version = observed.annotations[Annotation.Version];
  if (observed.labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
    // Adopted in place: rekey stored what the Secret holds and left the Secret as it was.
    if (current?.fingerprint && seen.leafFingerprint === current.fingerprint)
      return { state: PlacementState.Current, version: current.versionId };
    return { state: PlacementState.Unmanaged, ...(version && { version }) };
  }
  const currentVersion = current?.versionId;
  return { state: version && version === currentVersion ? PlacementState.Current : PlacementState.Stale, ...(version && { version }) };
}

/**
 * Where each unit is written and which version each copy holds, read from the Secrets' annotations (one list per
 * namespace per cluster). Clusters this runtime cannot reach are `not-checked`; a failed read is `unreachable`.
 * Only metadata is kept: Secret data is dropped as soon as it is read.
 */
export async function observePlacements(
  deps: Deps,
  _inventory: Inventory,
  units: readonly Unit[],
  currentVersions: ReadonlyMap<string, CurrentRef>,
): Promise<Placement[]> {
  const lists = new Map<string, Promise<Map<string, Seen> | Error | undefined>>();
  const listOf = (cluster: string, namespace: string) => {
    const key = `${cluster}\0${namespace}`;
    let hit = lists.get(key);
    if (!hit) {
      const sink = deps.clusters.get(cluster)?.secrets;
      hit = sink
        ? sink.listSecrets(namespace).then(
            (all) => new Map(all.map((s) => [s.name, seenOf(s)])),
            (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
          )
        : Promise.resolve(undefined);
      lists.set(key, hit);
    }
    return hit;
  };
  const out: Placement[] = [];
  for (const unit of units) {
    const placement = unit.item.secret;
    if (!placement || !unit.secretName) continue;
    for (const cluster of placement.clusters) {
      const base = { unit: unit.key, item: unit.item.name, cluster, namespace: placement.namespace, secret: unit.secretName };
      const list = await listOf(cluster, placement.namespace);
      if (list === undefined) out.push({ ...base, state: PlacementState.NotChecked });
      else if (list instanceof Error) out.push({ ...base, state: PlacementState.Unreachable, error: list.message });
      else out.push({ ...base, ...stateOf(list.get(unit.secretName), currentVersions.get(unit.storeName)) });
    }
  }
  return out;
}
