import { consumersIn, consumerText, type Inventory, type Item } from '../../domain/inventory/model.js';
import { targetOf } from '../../domain/restart/plan.js';
import { workloadId } from '../../domain/restart/workload.js';
import { unitsOf } from '../../domain/units.js';
import type { SecretUse, WorkloadControl } from '../../ports/cluster.js';
import type { Deps } from '../deps.js';
import { defined } from '../../domain/defined.js';

/** A workload that reads a Secret of the inventory, as found in a cluster, and whether the item lists it. */
export interface FoundConsumer {
  readonly cluster: string;
  readonly namespace: string;
  readonly secret: string;
  readonly item: string;
  /** `Kind/namespace/name`. */
  readonly workload: string;
  readonly via: SecretUse['via'];
  readonly listed: boolean;
}

/** How the inventory names a consumer: `Deployment/apim` or `selector app=x`. */
export function consumerLabel(item: Item): string[] {
  return item.consumers.map(consumerText);
}

async function listedIds(
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
    if (!hit) cache.set(key, (hit = control.selectWorkloads(t.namespace, t.selector).then((refs) => refs.map(workloadId))));
    for (const id of await hit) ids.add(id);
  }
  return ids;
}

/**
 * Every workload, in every connected cluster, whose pods use a Secret of `items` (volume, projected volume, env,
 * envFrom), marked listed or not. One pod scan per namespace per cluster; clusters without workload access
 * (manifests on disk) are skipped.
 */
export async function findConsumers(deps: Deps, inventory: Inventory, items: readonly Item[]): Promise<FoundConsumer[]> {
  const found: FoundConsumer[] = [];
  for (const [cluster, conn] of deps.clusters) {
    const control = conn.workloads;
    if (!control) continue;
    const secrets = new Map<string, Map<string, Item>>();
    for (const item of items) {
      if (!item.secret || !item.secret.clusters.includes(cluster)) continue;
      let names = secrets.get(item.secret.namespace);
      if (!names) secrets.set(item.secret.namespace, (names = new Map<string, Item>()));
      for (const unit of unitsOf(inventory, item)) if (unit.secretName) names.set(unit.secretName, item);
    }
    const selectors = new Map<string, Promise<string[]>>();
    const seen = new Set<string>();
    for (const [namespace, names] of secrets) {
      for (const use of await control.findSecretUses(namespace)) {
        const item = names.get(use.secret);
        const id = workloadId(use.workload);
        if (!item || seen.has(`${use.secret}\0${id}`)) continue;
        seen.add(`${use.secret}\0${id}`);
        found.push({
          cluster,
          namespace,
          secret: use.secret,
          item: item.name,
          workload: id,
          via: use.via,
          listed: (await listedIds(control, item, cluster, selectors)).has(id),
        });
      }
    }
  }
  return found;
}
