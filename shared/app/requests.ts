import { ConflictError, isRekeyError, RotationLockedError } from '../domain/errors.js';
import type { Inventory } from '../domain/inventory/model.js';
import {
  isTerminal,
  RequestPhase,
  RequestReason,
  statusChanged,
  statusOf,
  type RequestStatus,
  type RotationRequest,
} from '../domain/requests/rotation-request.js';
import { Trigger, type RotationRecord } from '../domain/rotation/record.js';
import type { RotationRequestControl } from '../ports/cluster.js';
import type { Deps } from './deps.js';
import { isRunnable } from './rotation/machines.js';
import { rotationKindOf, startRotation } from './rotation/start.js';

/** What the scan did with one RotationRequest. */
export interface RequestOutcome {
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  readonly item: string;
  readonly phase: RequestPhase;
  readonly rotationId?: string;
  /** This pass started its rotation. */
  readonly started: boolean;
  /** This pass wrote its status. */
  readonly written: boolean;
}

/**
 * Where rekey looks for RotationRequests in a cluster: the namespaces the inventory writes Secrets to there (rekey's
 * RoleBindings are there already; nothing cluster-wide is needed).
 */
export function requestNamespaces(inventory: Inventory, cluster: string): string[] {
  const namespaces = new Set<string>();
  for (const item of inventory.items.values()) if (item.secret?.clusters.includes(cluster)) namespaces.add(item.secret.namespace);
  return [...namespaces].sort();
}

/**
 * Picks up RotationRequests in every connected cluster: a new one starts its rotation, once (the rotation id is the
 * object's uid, so a request seen again, by this or another scan, finds its rotation in the journal instead of
 * starting another); every open one gets the status of its rotation written back (Pending, Progressing, Succeeded,
 * Failed). Requests that name another inventory are left alone; finished ones are not touched again.
 */
export async function pickUpRequests(deps: Deps, inventory: Inventory): Promise<RequestOutcome[]> {
  const outcomes: RequestOutcome[] = [];
  for (const [cluster, c] of deps.clusters) {
    if (!c.rotationRequests) continue;
    for (const namespace of requestNamespaces(inventory, cluster)) {
      let requests: RotationRequest[];
      try {
        requests = await c.rotationRequests.list(namespace);
      } catch (e) {
        // Not allowed to read them there (deploy/rbac.yaml's rekey-requests role not bound): the rest of the scan goes on.
        if (!isRekeyError(e) || e.retryable) throw e;
        deps.log.warn('RotationRequests not read', { cluster, namespace, error: e.message });
        continue;
      }
      for (const request of requests) {
        if (request.inventory !== undefined && request.inventory !== inventory.name) continue;
        if (isTerminal(request.status?.phase)) continue;
        outcomes.push(await handle(deps, inventory, c.rotationRequests, request));
      }
    }
  }
  return outcomes;
}

async function handle(
  deps: Deps,
  inventory: Inventory,
  control: RotationRequestControl,
  request: RotationRequest,
): Promise<RequestOutcome> {
  const now = deps.clock.now();
  let current = request;
  let written = false;
  const write = async (status: RequestStatus) => {
    if (!statusChanged(current.status, status)) return;
    current = await control.writeStatus(current, status);
    written = true;
  };
  const result = (status: RequestStatus, started: boolean): RequestOutcome => ({
    cluster: request.cluster,
    namespace: request.namespace,
    name: request.name,
    item: request.item,
    phase: status.phase,
    ...(status.rotationId && { rotationId: status.rotationId }),
    started,
    written,
  });

  const existing = await deps.journal.get(request.uid);
  if (existing) {
    const status = statusOf(current, { rotation: existing }, now);
    await write(status);
    return result(status, false);
  }
  const item = inventory.items.get(request.item);
  if (!item || !isRunnable(rotationKindOf(item))) {
    const refused = !item
      ? {
          refused: RequestReason.UnknownItem,
          message: `no authority, certificate or credential named "${request.item}" in inventory ${inventory.name}`,
        }
      : { refused: RequestReason.NotRotatable, message: `rotating a ${rotationKindOf(item)} item is not available in this version` };
    const status = statusOf(current, refused, now);
    await write(status);
    return result(status, false);
  }
  // Seen for the first time: Pending until its rotation starts.
  if (!current.status)
    await write({ phase: RequestPhase.Pending, startTime: now.toISOString(), conditions: [], message: 'picked up by rekey' });
  let rotation: RotationRecord | undefined;
  try {
    rotation = await startRotation(deps, inventory, request.item, {
      trigger: Trigger.Request,
      reason: request.reason ?? `RotationRequest ${request.namespace}/${request.name} in ${request.cluster}`,
      rotationId: request.uid,
      request: { cluster: request.cluster, namespace: request.namespace, name: request.name },
    });
  } catch (e) {
    // Another scan started it meanwhile (the journal refuses a second record with this id): report that one.
    if (e instanceof ConflictError) rotation = await deps.journal.get(request.uid);
    else if (e instanceof RotationLockedError || (isRekeyError(e) && e.retryable)) {
      const status = statusOf(current, { waiting: RequestReason.ItemBusy, message: `waiting: ${e.message}` }, now);
      await write(status);
      return result(status, false);
    } else throw e;
  }
  if (!rotation) throw new ConflictError(`RotationRequest ${request.namespace}/${request.name}: rotation ${request.uid} vanished`);
  const status = statusOf(current, { rotation }, now);
  await write(status);
  return result(status, true);
}

/**
 * Writes back the status of the RotationRequest that started `record` (if one did) as the rotation progresses: the
 * step workers call it each time they record a step or a failure (`Deps.rotationRecorded`), so a request goes
 * Progressing (naming the step), then Succeeded or Failed, without waiting for the next scan. Reads the object (one
 * GET), writes only when the status changes (update on rotationrequests/status; a conflict with a scan writing at
 * the same time is read again once). Never throws: the scan writes it anyway on its next pass.
 */
export async function reportRequestProgress(deps: Deps, record: RotationRecord): Promise<void> {
  const ref = record.request;
  if (record.trigger !== Trigger.Request || !ref) return;
  const control = deps.clusters.get(ref.cluster)?.rotationRequests;
  if (!control) return;
  const fields = { rotationId: record.id, cluster: ref.cluster, namespace: ref.namespace, request: ref.name };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const request = await control.get(ref.namespace, ref.name);
      // Deleted, replaced by another object of the same name, or already final: nothing to tell it.
      if (request?.uid !== record.id || isTerminal(request.status?.phase)) return;
      const status = statusOf(request, { rotation: record }, deps.clock.now());
      if (statusChanged(request.status, status)) await control.writeStatus(request, status);
      return;
    } catch (e) {
      if (e instanceof ConflictError && attempt === 0) continue;
      deps.log.warn('RotationRequest status not written (the next scan writes it)', {
        ...fields,
        error: e instanceof Error ? e.message : String(e),
      });
      return;
    }
  }
}
