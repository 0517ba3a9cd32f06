import type { Item } from '../../domain/inventory/model.js';
import { unitsOf } from '../../domain/units.js';
import { status } from '../status.js';
import type { ApiBackend } from './backend.js';
import { ApiProblem, ProblemKind } from './problem.js';

function consumerText(item: Item): string[] {
  return item.consumers.map((c) =>
    c.kind === 'workload' ? `${c.workloadKind}/${c.name}` : `selector:${c.selector}${c.namespace ? ` in ${c.namespace}` : ''}`,
  );
}

/** GET /v1/items/{name}: status per unit, store versions and stages, where it is written, who uses it. */
export async function itemDetail(backend: ApiBackend, name: string): Promise<unknown> {
  const { inventory, deps } = backend;
  const item = inventory.items.get(name);
  if (!item)
    throw new ApiProblem(ProblemKind.NotFound, `no authority, certificate or credential named "${name}" in inventory ${inventory.name}`);
  const rows = (await status(deps, { ...inventory, items: new Map([[name, item]]) })).filter(
    (r) => r.name === name || r.name.startsWith(`${name}/`),
  );
  const versions: Record<string, { versionId: string; stages: string[]; createdAt: string }[]> = {};
  for (const unit of unitsOf(inventory, item)) {
    const d = await deps.store.describe(unit.storeName);
    versions[unit.key] = (d?.versions ?? []).map((v) => ({ versionId: v.versionId, stages: [...v.stages], createdAt: v.createdAt }));
  }
  return {
    name,
    kind: item.kind,
    units: rows,
    versions,
    targets: {
      ...(item.secret && { secret: { name: item.secret.name, namespace: item.secret.namespace, clusters: [...item.secret.clusters] } }),
      ...(item.files && { files: { dir: item.files.dir, cert: item.files.cert } }),
    },
    consumers: consumerText(item),
    restart: { policy: item.restart.policy, ...(item.restart.withinMs !== undefined && { withinMs: item.restart.withinMs }) },
  };
}
