import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import type { Deps } from '../deps.js';
import { findConsumers, type FoundConsumer } from '../report/consumers.js';

/** A workload that reads a Secret rekey manages but is not among the item's consumers: it would miss restarts. */
export type UnlistedConsumer = Omit<FoundConsumer, 'listed'>;

/**
 * Workloads, in every connected cluster, that use a managed Secret (volume, projected volume, env, envFrom) without
 * being listed as a consumer of its item: the consumer scan of every item, those it found unlisted.
 */
export async function findUnlistedConsumers(deps: Deps, inventory: Inventory): Promise<UnlistedConsumer[]> {
  const found = await findConsumers(deps, inventory, [...inventory.items.values()]);
  return found.filter((c) => !c.listed).map(({ listed: _listed, ...unlisted }) => unlisted);
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
