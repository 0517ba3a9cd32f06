import { RekeyError } from '../../domain/errors.js';
import { isOpenRestart, RestartState, type RotationRecord } from '../../domain/rotation/record.js';
import { Annotation } from '../../domain/sync/desired.js';
import type { Unit } from '../../domain/units.js';
import { SyncChange, type SyncReport } from '../sync.js';
import type { Deps } from '../deps.js';
import { RestartError } from './errors.js';

/** A sync whose targets could not all be written fails the step (retryable when clusters were only unreachable). */
export function throwIfBlocked(report: SyncReport, record: RotationRecord): void {
  const blocked = report.secrets.filter((s) => s.change === SyncChange.Unmanaged || s.change === SyncChange.Unreachable);
  if (blocked.length === 0) return;
  throw new RekeyError(
    `could not write: ${blocked.map((b) => `${b.cluster}/${b.namespace}/${b.secret}: ${b.reason ?? b.change}`).join('; ')}`,
    {
      context: { rotationId: record.id, item: record.item },
      retryable: blocked.every((b) => b.change === SyncChange.Unreachable),
    },
  );
}

/** How many Secrets a sync created or changed. */
export const writtenCount = (report: SyncReport): number =>
  report.secrets.filter((s) => s.change === SyncChange.Created || s.change === SyncChange.Updated).length;

/** `cluster/namespace/secret` of each Secret of `units`, in a connected cluster, that does not carry `version`. */
export async function secretsNotAt(deps: Deps, units: readonly Unit[], version: string): Promise<string[]> {
  const wrong: string[] = [];
  for (const unit of units) {
    const placement = unit.item.secret;
    if (!placement || !unit.secretName) continue;
    for (const cluster of placement.clusters) {
      const sink = deps.clusters.get(cluster)?.secrets;
      if (!sink) continue;
      const seen = await sink.getSecret(placement.namespace, unit.secretName);
      if (seen?.annotations[Annotation.Version] !== version) wrong.push(`${cluster}/${placement.namespace}/${unit.secretName}`);
    }
  }
  return wrong;
}

/**
 * The clusters of a restart step's requests, and those still open; a restart that failed in any cluster fails the
 * step.
 */
export function restartProgress(
  record: RotationRecord,
  restarts: RotationRecord['restarts'] = record.restarts,
): { clusters: string[]; open: string[] } {
  const states = Object.entries(restarts);
  const failed = states.filter(([, r]) => r.state === RestartState.Failed);
  if (failed.length) {
    throw new RestartError(`restart failed in ${failed.map(([c, r]) => `${c}${r.message ? ` (${r.message})` : ''}`).join(', ')}`, {
      context: { rotationId: record.id, item: record.item },
    });
  }
  return { clusters: states.map(([c]) => c), open: states.filter(([, r]) => isOpenRestart(r)).map(([c]) => c) };
}
