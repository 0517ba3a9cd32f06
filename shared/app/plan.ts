import { join } from 'node:path';
import { consumersIn, consumerText, type Inventory } from '../domain/inventory/model.js';
import { inventoryWarnings } from '../domain/inventory/warnings.js';
import { allUnits } from '../domain/units.js';
import type { Deps } from './deps.js';
import { IssueAction, walkIssuance } from './issuance-walk.js';
import { checkExternalChains } from './issuers/chain-watch.js';
import { rotatingAuthorities } from './rotation/rotating.js';
import { MaterialReader } from './materials.js';
import { findUnlistedConsumers } from './restart/index.js';
import { ReloadReason, ReloadResult, SyncChange, syncUnits } from './sync.js';
import { defined } from '../domain/defined.js';

/** One thing apply would do. `kind` is the item kind, or `secret` for a write into a cluster. */
export interface PlanAction {
  readonly action: string;
  readonly kind: string;
  readonly name: string;
  readonly reason: string;
  readonly cluster?: string;
  readonly namespace?: string;
  readonly secret?: string;
  /** A host file (`kind: file`). */
  readonly path?: string;
  /** A reload command (`kind: reload`). */
  readonly command?: string;
}

export interface PlanWarning {
  readonly name: string;
  readonly message: string;
  readonly cluster?: string;
}

/** The consumers of one item in one cluster: what a restart there would restart (selectors as written). */
export interface PlanConsumers {
  readonly item: string;
  readonly cluster: string;
  readonly consumers: readonly string[];
  /** Whether some consumer of the item is listed for some clusters only. */
  readonly perCluster: boolean;
}

export interface Plan {
  readonly inventory: string;
  readonly actions: readonly PlanAction[];
  readonly warnings: readonly PlanWarning[];
  /** Per item and cluster, who is restarted there (items with consumers only). */
  readonly consumers: readonly PlanConsumers[];
}

/** The per-cluster consumer map: each item with consumers, each cluster its Secret goes to. */
export function consumerMap(inventory: Inventory): PlanConsumers[] {
  const map: PlanConsumers[] = [];
  for (const item of inventory.items.values()) {
    if (!item.secret || item.consumers.length === 0) continue;
    const perCluster = item.consumers.some((c) => c.clusters !== undefined);
    for (const cluster of item.secret.clusters) {
      map.push({
        item: item.name,
        cluster,
        consumers: consumersIn(item, cluster).map((c) => consumerText({ ...c, clusters: undefined })),
        perCluster,
      });
    }
  }
  return map;
}

/** What apply would do, changing nothing: issuance decisions, then per-cluster Secret writes. */
export async function plan(deps: Deps, inventory: Inventory): Promise<Plan> {
  const reader = new MaterialReader(deps.store, inventory);
  const actions: PlanAction[] = [];
  const warnings: PlanWarning[] = inventoryWarnings(inventory).map((w) => ({ name: w.item, message: `${w.path}: ${w.message}` }));
  const decisions = await walkIssuance(deps, inventory, reader, async () => {});
  const renewed = new Set<string>();
  for (const d of decisions) {
    if (d.action === IssueAction.Skip) {
      warnings.push({ name: d.unit.key, message: d.reason });
      continue;
    }
    if (d.action !== IssueAction.Adopt) renewed.add(d.unit.key);
    actions.push({ action: d.action, kind: d.unit.item.kind, name: d.unit.key, reason: d.reason });
  }
  // External CAs serving another chain than the stored one: apply starts their trust-overlap rotation.
  const decided = new Set(decisions.map((d) => d.unit.item.name));
  const external = inventory.authorities.some((a) => a.external);
  for (const c of external ? await checkExternalChains(deps, inventory, reader, await rotatingAuthorities(deps, inventory)) : []) {
    if (c.changed) {
      if (!decided.has(c.authority)) actions.push({ action: 'rotate', kind: 'authority', name: c.authority, reason: c.reason });
    } else if (c.error) warnings.push({ name: c.authority, message: `the CA's chain could not be read: ${c.error}` });
  }

  const units = allUnits(inventory);
  const report = await syncUnits(
    deps,
    inventory,
    units.filter((u) => !renewed.has(u.key)),
    reader,
    { dryRun: true },
  );
  for (const o of report.secrets) {
    const where = { cluster: o.cluster, namespace: o.namespace, secret: o.secret };
    switch (o.change) {
      case SyncChange.Created:
      case SyncChange.Updated:
        actions.push({
          action: o.change === SyncChange.Created ? 'create' : 'update',
          kind: 'secret',
          name: o.unit,
          reason: o.reason ?? '',
          ...where,
        });
        break;
      case SyncChange.Unmanaged:
      case SyncChange.Unreachable:
        warnings.push({ name: o.unit, message: `${o.namespace}/${o.secret}: ${o.reason ?? o.change}`, cluster: o.cluster });
        break;
      case SyncChange.Unchanged:
      case SyncChange.NotIssued:
        break;
      default: {
        const never: never = o.change;
        throw new Error(`unknown change ${String(never)}`);
      }
    }
  }
  // Host files: content to write, modes that drifted, reloads owed from earlier runs or due to these writes.
  for (const f of report.files) {
    for (const name of f.written)
      actions.push({ action: 'write', kind: 'file', name: f.unit, reason: 'ContentChanged', path: join(f.dir, name) });
    for (const name of f.chmodded)
      actions.push({ action: 'chmod', kind: 'file', name: f.unit, reason: 'ModeDrifted', path: join(f.dir, name) });
  }
  const reloads = new Map(report.reloads.map((r) => [r.command, r]));
  // Units that get a new version will be written wherever they go.
  for (const u of units.filter((x) => renewed.has(x.key))) {
    for (const cluster of u.item.secret?.clusters ?? []) {
      actions.push({
        action: 'write',
        kind: 'secret',
        name: u.key,
        reason: 'NewVersion',
        cluster,
        namespace: defined(u.item.secret).namespace,
        secret: defined(u.secretName),
      });
    }
    const files = u.item.files;
    if (!files) continue;
    actions.push({ action: 'write', kind: 'file', name: u.key, reason: 'NewVersion', path: files.dir });
    if (files.reload && !reloads.has(files.reload))
      reloads.set(files.reload, { command: files.reload, units: [u.key], reason: ReloadReason.FilesChanged, result: ReloadResult.Owed });
  }
  for (const r of reloads.values()) {
    const attempts = r.attempts ? ` (${r.attempts} failed run(s) since ${r.since})` : '';
    actions.push({ action: 'reload', kind: 'reload', name: r.units.join(', '), reason: r.reason, command: r.command });
    if (r.reason === ReloadReason.ReloadOwed)
      warnings.push({ name: r.units.join(', '), message: `reload owed${attempts}: ${r.command}${r.error ? `; last: ${r.error}` : ''}` });
  }
  for (const u of await findUnlistedConsumers(deps, inventory)) {
    warnings.push({
      name: u.item,
      cluster: u.cluster,
      message: `${u.workload} uses Secret ${u.namespace}/${u.secret} (${u.via}) but is not a consumer: it will not be restarted`,
    });
  }
  return { inventory: inventory.name, actions, warnings, consumers: consumerMap(inventory) };
}
