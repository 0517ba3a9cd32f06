import { RekeyError } from '../../domain/errors.js';
import type { Credential, Inventory, Item } from '../../domain/inventory/model.js';
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

/**
 * The credentials whose owners a rotation of `item` pauses: the item itself when it has `pause`, and for a signing key
 * also every jwt-token minted from it that has one (the key's rotation mints them again, so their owners must not
 * reconcile meanwhile either). Inventory order, without repeats.
 */
export function pausedBy(inventory: Inventory, item: Item): Credential[] {
  if (item.kind !== 'credential') return [];
  const tokens = item.type === 'jwt-signing-key' ? inventory.credentials.filter((c) => c.token?.signingKey === item.name) : [];
  return [item, ...tokens].filter((c) => c.pause !== undefined);
}

/** Where an owner object lives, for messages (`Postgres db/pg`). */
export function ownerLabel(credential: Credential): string {
  const pause = credential.pause;
  if (!pause) return '';
  const namespace = pause.object.namespace ?? credential.secret?.namespace;
  return `${pause.object.kind} ${namespace ? `${namespace}/` : ''}${pause.object.name}`;
}

/** Pauses (or resumes) every owner of `credentials`, in order; the first failure throws (every patch is idempotent). */
export async function patchOwners(
  deps: Deps,
  inventory: Inventory,
  credentials: readonly Credential[],
  which: 'pause' | 'resume',
): Promise<{ done: string[]; unreachable: string[] }> {
  const done: string[] = [];
  const unreachable = new Set<string>();
  for (const c of credentials) {
    const result = which === 'pause' ? await pauseOwner(deps, inventory, c) : await resumeOwner(deps, inventory, c);
    if (result.patched.length) done.push(`${ownerLabel(c)} in ${result.patched.join(', ')}`);
    for (const u of result.unreachable) unreachable.add(u);
  }
  return { done, unreachable: [...unreachable] };
}

/**
 * After a failed rotation of `item`: resumes every owner it may have paused (a resume patch on an owner that was not
 * paused changes nothing). Never throws; says what it did, and what it could not do, for RotationFailed.
 */
export async function resumeAfterFailure(deps: Deps, inventory: Inventory, item: Item | undefined): Promise<string[]> {
  const notes: string[] = [];
  for (const c of item ? pausedBy(inventory, item) : []) {
    try {
      const { patched } = await resumeOwner(deps, inventory, c);
      if (patched.length) notes.push(`${ownerLabel(c)} resumed in ${patched.join(', ')}`);
    } catch (e) {
      notes.push(`could not resume ${ownerLabel(c)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return notes;
}
