import { isRekeyError, NotFoundError } from '../../domain/errors.js';
import { CLUSTER_REQUEST_CONCURRENCY } from '../../domain/restart/pace.js';
import { workloadId } from '../../domain/restart/workload.js';
import type { RolloutReading, WorkloadControl, WorkloadRef } from '../../ports/cluster.js';
import { mapLimit } from '../concurrency.js';

/** How one workload's rollout stands after a reading: ended, or still rolling (with what the reading said). */
export type RolloutEnd =
  | { readonly kind: 'done'; readonly message: string }
  | { readonly kind: 'gone' }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'rolling'; readonly last: string };

/**
 * Reads the rollouts of one restart request together (the adapter's `rolloutStatuses`: one list per namespace and
 * kind), instead of once per workload. A retryable error keeps the workload rolling with the error as its last word;
 * a workload the reading does not mention keeps its last word (`last`).
 */
export async function readRollouts(
  control: WorkloadControl,
  refs: readonly WorkloadRef[],
  last: (id: string) => string,
): Promise<Map<string, RolloutEnd>> {
  const readings = await read(control, refs);
  const ends = new Map<string, RolloutEnd>();
  for (const ref of refs) {
    const id = workloadId(ref);
    const r = readings.get(id);
    if (!r) ends.set(id, { kind: 'rolling', last: last(id) });
    else if ('status' in r)
      ends.set(id, r.status.done ? { kind: 'done', message: r.status.message } : { kind: 'rolling', last: r.status.message });
    else if (r.error instanceof NotFoundError) ends.set(id, { kind: 'gone' });
    else if (isRekeyError(r.error) && r.error.retryable) ends.set(id, { kind: 'rolling', last: r.error.message });
    else ends.set(id, { kind: 'failed', message: r.error instanceof Error ? r.error.message : String(r.error) });
  }
  return ends;
}

async function read(control: WorkloadControl, refs: readonly WorkloadRef[]): Promise<ReadonlyMap<string, RolloutReading>> {
  if (refs.length === 0) return new Map();
  if (control.rolloutStatuses) return control.rolloutStatuses(refs);
  const readings = await mapLimit(refs, CLUSTER_REQUEST_CONCURRENCY, async (ref): Promise<[string, RolloutReading]> => {
    try {
      return [workloadId(ref), { status: await control.rolloutStatus(ref) }];
    } catch (error) {
      return [workloadId(ref), { error }];
    }
  });
  return new Map(readings);
}
