import { EventType, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import type { Deps } from '../deps.js';
import { coordinationOf, holdTrust } from './coordination.js';
import { planForSecretSynced } from './planner.js';
import { runRestartRequest } from './worker.js';
import { phaseOf, RestartPhase } from '../../domain/restart/plan.js';
import { defined } from '../../domain/defined.js';

/**
 * The restart side of the event flow, for any event bus: `SecretSynced` (outside rotations, change `updated`) ->
 * restart planner -> `RestartRequested` per cluster; `RestartRequested` -> restart worker -> `RestartCompleted` or
 * `RestartFailed`. Other events are ignored. In the CLI the in-process bus delivers the events of one publish call
 * together, so trust consumers (of authorities and client certificates) are registered before any server restart of the same cluster can
 * start, and servers wait for them.
 */
export function handleRestartEvent(deps: Deps, inventory: Inventory, event: RekeyEvent): Promise<void> {
  switch (event.type) {
    case EventType.SecretSynced: {
      const run = planForSecretSynced(deps, inventory, event.detail);
      const item = inventory.items.get(defined(event.detail.item.split('/')[0]));
      if (item && phaseOf(item) === RestartPhase.Trust) {
        holdTrust(coordinationOf(deps), event.detail.cluster, run);
      }
      return run;
    }
    case EventType.RestartRequested:
      return runRestartRequest(deps, inventory, event.detail);
    default:
      return Promise.resolve();
  }
}

export { requestRestarts, planRotationRestarts, resolveWorkloads, currentVersions, type RestartRequests } from './planner.js';
export { findUnlistedConsumers, unlistedConsumerEvents, type UnlistedConsumer } from './unlisted.js';
export { WorkloadResult, runRestartCheck } from './worker.js';
