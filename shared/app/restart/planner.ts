import type { EventDetail } from '../../../events/details.js';
import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory, Item } from '../../domain/inventory/model.js';
import { mergeByCluster, planRestarts, type ClusterRestartRequest, type RestartPlan } from '../../domain/restart/plan.js';
import { workloadId } from '../../domain/restart/workload.js';
import { RestartState, RotationKind, type ClusterRestart, type RotationRecord } from '../../domain/rotation/record.js';
import { SigningKeyStep } from '../../domain/rotation/machines.js';
import { unitsOf } from '../../domain/units.js';
import type { WorkloadControl } from '../../ports/cluster.js';
import { Stage } from '../../ports/secret-store.js';
import type { Deps } from '../deps.js';
import { updateRotation as updateRecord } from '../rotation/record-update.js';
import { defined } from '../../domain/defined.js';

/** The current version of every unit of the item, from the store (descriptions only: no secret value is read). */
export async function currentVersions(deps: Deps, inventory: Inventory, item: Item): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  await Promise.all(
    unitsOf(inventory, item).map(async (unit) => {
      const d = await deps.store.describe(unit.storeName);
      const current = d?.versions.find((v) => v.stages.includes(Stage.Current));
      if (current) versions[unit.storeName] = current.versionId;
    }),
  );
  return versions;
}

/** Named consumers as they are; selectors resolved in the cluster now. Ids in a stable order, without repeats. */
export async function resolveWorkloads(control: WorkloadControl, request: ClusterRestartRequest): Promise<string[]> {
  const ids = new Set<string>();
  for (const t of request.targets) {
    if (t.kind === 'workload') ids.add(workloadId(t.ref));
    else for (const ref of await control.selectWorkloads(t.namespace, t.selector)) ids.add(workloadId(ref));
  }
  return [...ids];
}

/** The RestartRequested events of `requests` (selectors resolved per cluster); clusters not connected are returned apart. */
async function requestEvents(
  deps: Deps,
  inventory: Inventory,
  plan: RestartPlan,
  requests: readonly ClusterRestartRequest[],
  rotationId: string | undefined,
): Promise<{ events: RekeyEvent[]; unreachable: string[]; workloads: Map<string, string[]> }> {
  const events: RekeyEvent[] = [];
  const unreachable: string[] = [];
  const workloads = new Map<string, string[]>();
  const at = deps.clock.now().toISOString();
  for (const r of requests) {
    const control = deps.clusters.get(r.cluster)?.workloads;
    if (!control) {
      unreachable.push(r.cluster);
      continue;
    }
    const ids = await resolveWorkloads(control, r);
    workloads.set(r.cluster, ids);
    const base = { inventory: inventory.name, item: r.items.join('+'), at, ...(rotationId && { rotationId }) };
    events.push(
      makeEvent(EventType.RestartRequested, base, {
        cluster: r.cluster,
        workloads: ids,
        versionsHash: r.versionsHash,
        ...(r.deadline && { deadline: r.deadline }),
        policy: r.policy,
        phase: r.phase,
        ...(plan.budget !== undefined && { budget: plan.budget }),
        after: r.after,
      }),
    );
  }
  return { events, unreachable, workloads };
}

/**
 * The restart planner's answer to `SecretSynced` outside rotations (apply re-issued an item, or repaired drift):
 * only a Secret that changed (`updated`) restarts anything; a created one has no pods using it yet. One request,
 * for the cluster of the event, with the versions hash of the whole item (so the three SecretSynced events of a
 * three-replica item restart its StatefulSet once).
 */
export async function planForSecretSynced(deps: Deps, inventory: Inventory, d: EventDetail<typeof EventType.SecretSynced>): Promise<void> {
  if (d.change !== 'updated' || d.rotationId) return;
  const item = inventory.items.get(defined(d.item.split('/')[0]));
  if (!item) return;
  const versions = await currentVersions(deps, inventory, item);
  const plan = planRestarts({ changes: [{ item, versions, clusters: [d.cluster] }], syncedAt: new Date(d.at) });
  const { events, unreachable } = await requestEvents(deps, inventory, plan, plan.requests, undefined);
  for (const c of unreachable) deps.log.warn('cannot restart consumers: cluster not connected', { item: item.name, cluster: c });
  await deps.events.publish(events);
}

/**
 * When the rotation's Secrets were written (the step before the restart step: a leaf's sync, an authority's publish
 * or re-issue), else now: `together`'s `within` counts from there.
 */
function syncedAt(deps: Deps, record: RotationRecord): Date {
  const written = [...record.history].reverse().find((h) => h.status === 'completed');
  return written ? new Date(written.at) : deps.clock.now();
}

/** The items whose consumers the rotation's current restart step restarts: an authority rotation names them. */
const restartItemsOf = (inventory: Inventory, record: RotationRecord): Item[] =>
  (record.authority?.restartItems ?? [record.item]).flatMap((name) => {
    const item = inventory.items.get(name);
    return item ? [item] : [];
  });

async function planOfRecord(
  deps: Deps,
  inventory: Inventory,
  record: RotationRecord,
  known?: Readonly<Record<string, string>>,
): Promise<RestartPlan | undefined> {
  const items = restartItemsOf(inventory, record);
  if (items.length === 0) return undefined;
  if (record.kind === RotationKind.SigningKey) {
    // Verifiers before the new key signs, its consumers (signers) after; the step is part of the hash so both restart.
    // After activation the tokens minted from the key were minted again: their consumers restart with the signers,
    // each under its own item's restart policy.
    const item = defined(items[0]);
    const view =
      record.step === SigningKeyStep.AwaitVerifiers && item.kind === 'credential' ? { ...item, consumers: item.verifiers } : item;
    const tokens =
      record.step === SigningKeyStep.RestartSigners ? inventory.credentials.filter((c) => c.token?.signingKey === item.name) : [];
    const changes = await Promise.all(
      [view, ...tokens].map(async (i) => ({
        item: i,
        versions: { ...(await currentVersions(deps, inventory, i)), [record.id]: record.step },
      })),
    );
    return planRestarts({ changes, syncedAt: syncedAt(deps, record) });
  }
  if (!record.authority) {
    const item = defined(items[0]);
    return planRestarts({
      changes: [{ item, versions: known ?? (await currentVersions(deps, inventory, item)) }],
      syncedAt: syncedAt(deps, record),
    });
  }
  // Each restart step of an authority rotation restarts for a new reason (bundle published, children re-issued,
  // old CA dropped): the step is part of the hash, so a workload restarted by the previous step restarts again.
  const changes = await Promise.all(
    items.map(async (item) => ({ item, versions: { ...(await currentVersions(deps, inventory, item)), [record.id]: record.step } })),
  );
  return mergeByCluster(planRestarts({ changes, syncedAt: syncedAt(deps, record) }), record.item);
}

/** What a rotation's restart step asks for: the journal's restart entries, the deadline, and the events to publish. */
export interface RestartRequests {
  readonly restarts: Readonly<Record<string, ClusterRestart>>;
  readonly restartDeadline?: string;
  /** RestartRequested for the clusters that may start now (not for clusters the record already had). */
  readonly events: readonly RekeyEvent[];
}

/**
 * Plans the restarts of a rotation's consumers without writing anything: the caller records `restarts` (merged
 * under what the record already holds) and then publishes `events`. `versions` are the units' current versions when
 * the caller knows them (a leaf rotation that has just promoted its own), else they are read from the store.
 * Undefined when the rotation restarts nothing.
 */
export async function planRotationRestarts(
  deps: Deps,
  inventory: Inventory,
  record: RotationRecord,
  versions?: Readonly<Record<string, string>>,
): Promise<RestartRequests | undefined> {
  const plan = await planOfRecord(deps, inventory, record, versions);
  if (!plan) return undefined;
  const at = deps.clock.now().toISOString();
  const items = restartItemsOf(inventory, record);
  const first = plan.requests.filter((r) => r.after.length === 0);
  const { events, unreachable, workloads } = await requestEvents(deps, inventory, plan, first, record.id);

  const restarts: Record<string, ClusterRestart> = {};
  if (plan.requests.length === 0) {
    const reason = plan.skipped.map((s) => s.reason).join('; ') || 'nothing to restart';
    for (const c of new Set(items.flatMap((i) => i.secret?.clusters ?? [])))
      restarts[c] = { state: RestartState.Skipped, at, message: reason };
  }
  for (const r of plan.requests) {
    if (unreachable.includes(r.cluster))
      restarts[r.cluster] = { state: RestartState.Failed, at, message: `cluster ${r.cluster} is not connected: cannot restart` };
    else if (r.after.length)
      restarts[r.cluster] = { state: RestartState.Waiting, at, message: `waits for ${r.after.join(', ')}`, after: r.after };
    else restarts[r.cluster] = { state: RestartState.Requested, at, workloads: workloads.get(r.cluster) ?? [] };
  }
  const deadline = plan.requests.flatMap((r) => (r.deadline ? [r.deadline] : [])).sort()[0];
  return {
    restarts,
    ...(deadline && { restartDeadline: deadline }),
    events: events.filter((e) => !record.restarts[e.detail.cluster as string]),
  };
}

/**
 * The rotation's `restart` step: plans the restarts of the item's consumers, records them in the journal
 * (`restarts[cluster] = requested`, `restartDeadline`), then publishes RestartRequested for the clusters that may
 * start now: all of them for `together`, the first for `rolling` (the worker of each cluster starts the next).
 * Clusters that are not connected are recorded as failed. Idempotent: clusters already in the record are kept.
 */
export async function requestRestarts(deps: Deps, inventory: Inventory, record: RotationRecord): Promise<void> {
  const planned = await planRotationRestarts(deps, inventory, record);
  if (!planned) return;
  await updateRecord(deps, record.id, (r) => ({
    ...r,
    restarts: { ...planned.restarts, ...r.restarts },
    ...(planned.restartDeadline && !r.restartDeadline && { restartDeadline: planned.restartDeadline }),
  }));
  await deps.events.publish(planned.events);
}

/**
 * Rolling restarts of a rotation: after `finished` is done, starts the clusters whose turn has come (every cluster
 * before them completed); when it failed, the clusters still waiting are skipped (rolling stops at a failure).
 */
export async function continueRolling(
  deps: Deps,
  inventory: Inventory,
  record: RotationRecord,
  finished: string,
  failed: boolean,
): Promise<void> {
  const waiting = Object.entries(record.restarts).filter(([c, r]) => c !== finished && r.state === RestartState.Waiting);
  if (waiting.length === 0) return;
  const at = deps.clock.now().toISOString();
  if (failed) {
    await updateRecord(deps, record.id, (r) => {
      const restarts = { ...r.restarts };
      for (const [c] of waiting) {
        if (restarts[c]?.state === RestartState.Waiting)
          restarts[c] = {
            state: RestartState.Skipped,
            at,
            message: `not started: restart failed in ${finished} (rolling stops at a failure)`,
          };
      }
      return { ...r, restarts };
    });
    return;
  }
  const plan = await planOfRecord(deps, inventory, record);
  if (!plan) return;
  const ready = plan.requests.filter(
    (q) => waiting.some(([c]) => c === q.cluster) && q.after.every((a) => record.restarts[a]?.state === RestartState.Completed),
  );
  if (ready.length === 0) return;
  const { events, unreachable, workloads } = await requestEvents(deps, inventory, plan, ready, record.id);
  await updateRecord(deps, record.id, (r) => {
    const restarts = { ...r.restarts };
    for (const q of ready) {
      if (restarts[q.cluster]?.state !== RestartState.Waiting) continue;
      restarts[q.cluster] = unreachable.includes(q.cluster)
        ? { state: RestartState.Failed, at, message: `cluster ${q.cluster} is not connected: cannot restart` }
        : { state: RestartState.Requested, at, workloads: workloads.get(q.cluster) ?? [] };
    }
    return { ...r, restarts };
  });
  await deps.events.publish(events);
}

/**
 * Restarts an item's consumers now, without rotating (the alert action `restart`): one RestartRequested per cluster
 * of the item, like a changed Secret outside a rotation, with `marker` (the remediation id) folded into the versions
 * hash so workloads already at the current versions restart again (restart policy `none` counts as `rolling` here). Returns the clusters asked, those not connected
 * and why nothing was planned (policy `none`, no consumers).
 */
export async function requestConsumerRestarts(
  deps: Deps,
  inventory: Inventory,
  item: Item,
  marker: string,
): Promise<{ requested: { cluster: string; workloads: string[] }[]; unreachable: string[]; skipped: string[] }> {
  const versions = { ...(await currentVersions(deps, inventory, item)), [`restart#${marker}`]: marker };
  // `none` means "pods reload by themselves" after a rotation; a rule that asks for a restart is explicit, so it
  // restarts them one cluster at a time.
  const asked: Item = item.restart.policy === 'none' ? { ...item, restart: { ...item.restart, policy: 'rolling' } } : item;
  const plan = planRestarts({ changes: [{ item: asked, versions }], syncedAt: deps.clock.now() });
  const { events, unreachable, workloads } = await requestEvents(deps, inventory, plan, plan.requests, undefined);
  await deps.events.publish(events);
  return {
    requested: [...workloads].map(([cluster, ids]) => ({ cluster, workloads: ids })),
    unreachable,
    skipped: plan.skipped.map((s) => s.reason),
  };
}
