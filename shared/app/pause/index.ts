import { RekeyError } from '../../domain/errors.js';
import type { Credential, Inventory } from '../../domain/inventory/model.js';
import type { Deps } from '../deps.js';

export interface PauseResult {
  /** Clusters where the owner object was patched. */
  readonly patched: readonly string[];
  /** Clusters of the item not connected from this runtime (manifests only): nothing could be patched there. */
  readonly unreachable: readonly string[];
}

/** The clusters a credential's owner lives in: those of its Secret, else every cluster of the inventory. */
const clustersOf = (inventory: Inventory, credential: Credential): readonly string[] =>
  credential.secret?.clusters ?? inventory.clusters.map((c) => c.name);

async function patchOwner(deps: Deps, inventory: Inventory, credential: Credential, which: 'patch' | 'resume'): Promise<PauseResult> {
  const pause = credential.pause;
  if (!pause) return { patched: [], unreachable: [] };
  // A namespaced owner without a namespace lives beside the credential's Secret (cluster-scoped kinds ignore it).
  const namespace = pause.object.namespace ?? credential.secret?.namespace;
  const object = { ...pause.object, ...(namespace && { namespace }) };
  const patched: string[] = [];
  const unreachable: string[] = [];
  for (const cluster of clustersOf(inventory, credential)) {
    const control = deps.clusters.get(cluster)?.workloads;
    if (!control) {
      unreachable.push(cluster);
      continue;
    }
    try {
      await control.mergePatch(object, pause[which]);
    } catch (e) {
      const verb = which === 'patch' ? 'pause' : 'resume';
      const target = `${object.kind} ${namespace ? `${namespace}/` : ''}${object.name}`;
      throw new RekeyError(
        `could not ${verb} ${target} on cluster ${cluster} for ${credential.name}: ${e instanceof Error ? e.message : String(e)}`,
        {
          cause: e,
          context: { item: credential.name, cluster },
          retryable: e instanceof RekeyError && e.retryable,
        },
      );
    }
    patched.push(cluster);
    deps.log.info(`${which === 'patch' ? 'paused' : 'resumed'} owner`, {
      item: credential.name,
      cluster,
      kind: object.kind,
      name: object.name,
    });
  }
  return { patched, unreachable };
}

/**
 * Applies the credential's `pause.patch` (a JSON merge patch) to `pause.object` on every cluster of the item, before
 * its password changes (seed 001: the operator must not reconcile meanwhile). Idempotent: a merge patch applied
 * twice leaves the object as once.
 */
export function pauseOwner(deps: Deps, inventory: Inventory, credential: Credential): Promise<PauseResult> {
  return patchOwner(deps, inventory, credential, 'patch');
}

/** Applies `pause.resume` after the change (e.g. `{metadata: {annotations: {rekey/paused: null}}}` removes the mark). */
export function resumeOwner(deps: Deps, inventory: Inventory, credential: Credential): Promise<PauseResult> {
  return patchOwner(deps, inventory, credential, 'resume');
}
