import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import { consumersIn, type Inventory, type Item } from '../../domain/inventory/model.js';
import { targetOf } from '../../domain/restart/plan.js';
import { workloadId } from '../../domain/restart/workload.js';
import { unitsOf } from '../../domain/units.js';
import type { SecretUse, WorkloadControl } from '../../ports/cluster.js';
import type { Deps } from '../deps.js';
import { defined } from '../../domain/defined.js';

/** A workload that reads a Secret rekey manages but is not among the item's consumers: it would miss restarts. */
export interface UnlistedConsumer {
  readonly cluster: string;
  readonly namespace: string;
  readonly secret: string;
  readonly item: string;
  /** `Kind/namespace/name`. */
  readonly workload: string;
  readonly via: SecretUse['via'];
}

/** Workload ids the item lists in this cluster (selectors resolved once per scan). */
async function listedIn(
  control: WorkloadControl,
  item: Item,
  cluster: string,
  cache: Map<string, Promise<string[]>>,
): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const consumer of consumersIn(item, cluster)) {
    const t = targetOf(consumer, defined(item.secret).namespace);
    if (t.kind === 'workload') {
      ids.add(workloadId(t.ref));
      continue;
    }
    const key = `${t.namespace}\0${t.selector}`;
    let hit = cache.get(key);
    if (!hit) {
      hit = control.selectWorkloads(t.namespace, t.selector).then((refs) => refs.map(workloadId));
      cache.set(key, hit);
    }
    for (const id of await hit) ids.add(id);
  }
  return ids;
}

/**
 * Scans the pods (and controllers' templates) of every namespace the inventory writes Secrets to, in every connected
 * cluster, and reports workloads that use a managed Secret (volume, projected volume, env, envFrom) without being
 * listed as a consumer of its item. One scan per namespace per cluster.
 */
export async function findUnlistedConsumers(deps: Deps, inventory: Inventory): Promise<UnlistedConsumer[]> {
  const found: UnlistedConsumer[] = [];
  for (const [cluster, conn] of deps.clusters) {
    const control = conn.workloads;
    if (!control) continue;
    // namespace -> secret name -> item
    const secrets = new Map<string, Map<string, Item>>();
    for (const item of inventory.items.values()) {
      if (!item.secret || !item.secret.clusters.includes(cluster)) continue;
      let names = secrets.get(item.secret.namespace);
      if (!names) secrets.set(item.secret.namespace, (names = new Map<string, Item>()));
      for (const unit of unitsOf(inventory, item)) if (unit.secretName) names.set(unit.secretName, item);
    }
    const selectorCache = new Map<string, Promise<string[]>>();
    const seen = new Set<string>();
    for (const [namespace, names] of secrets) {
      const uses = await control.findSecretUses(namespace);
      for (const use of uses) {
        const item = names.get(use.secret);
        if (!item) continue;
        const id = workloadId(use.workload);
        if ((await listedIn(control, item, cluster, selectorCache)).has(id) || seen.has(`${use.secret}\0${id}`)) continue;
        seen.add(`${use.secret}\0${id}`);
        found.push({ cluster, namespace, secret: use.secret, item: item.name, workload: id, via: use.via });
      }
    }
  }
  return found;
}

/** DriftDetected events for unlisted consumers, for callers that report them (plan). */
export function unlistedConsumerEvents(inventory: Inventory, unlisted: readonly UnlistedConsumer[], at: Date): RekeyEvent[] {
  return unlisted.map((u) =>
    makeEvent(
      EventType.DriftDetected,
      { inventory: inventory.name, item: u.item, at: at.toISOString() },
      {
        kind: 'UnlistedConsumer',
        cluster: u.cluster,
        namespace: u.namespace,
        secret: u.secret,
        workload: u.workload,
        via: u.via,
      },
    ),
  );
}
