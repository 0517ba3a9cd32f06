import { randomUUID } from 'node:crypto';
import { IntegrityError } from '../domain/errors.js';
import type { Inventory } from '../domain/inventory/model.js';
import { checkCertificateMaterial } from '../domain/pki/check.js';
import { encodeMaterial } from '../domain/store/material.js';
import { allUnits, type Unit } from '../domain/units.js';
import type { Deps } from './deps.js';
import { issueCurrent, issuePending, promoteVersion, storeTags } from './issuance.js';
import { Stage } from '../ports/secret-store.js';
import { IssueAction, walkIssuance, type IssuanceDecision } from './issuance-walk.js';
import { checkExternalChains } from './issuers/chain-watch.js';
import { MaterialReader } from './materials.js';
import { recover, type RecoverOptions, type RecoveryEntry } from './recover.js';
import { isUnderAny } from '../domain/rotation/authority-scope.js';
import { RotationKind, Trigger } from '../domain/rotation/record.js';
import { isSigningKey, mintedFromAny, rotatingAuthorities, rotatingSigningKeys } from './rotation/rotating.js';
import { rotationKindOf, startRotation } from './rotation/start.js';
import { ReloadResult, SyncChange, SyncPipeline, type SyncReport } from './sync.js';

export interface AppliedDecision {
  readonly unit: string;
  readonly kind: string;
  readonly action: IssuanceDecision['action'];
  readonly reason: string;
}

/**
 * Units an apply decides and issues at once: each commit of the vault is shared by the writes waiting for it, so
 * more in flight means fewer, larger group commits. Measured for 10,000 leaves on 2 cores (ext4, file writer
 * thread, alternating): 128 left the cores a third idle, 10.0-11.1 s; 256 8.8-9.0 s (10.4-10.8 s right after a mass
 * deletion on the same disk); 512 8.4-9.5 s (10.8-11.7 s) with 50-60 MB more memory than 256. On a faster VM
 * (2026-12-02, four alternating sets of 4-6 runs each): 512 against 256, median wall 1-6% less in every set (the
 * vault's commits about 80 instead of 125, its index appends 0.5 s instead of 0.7-1.0 s); 1,024 no better than 512.
 */
const APPLY_CONCURRENCY = 512;

export interface ApplyResult {
  readonly inventory: string;
  readonly decisions: readonly AppliedDecision[];
  readonly sync: SyncReport;
  /** Targets that could not be written (unmanaged Secrets, unreachable clusters): apply did not finish its job. */
  readonly problems: readonly string[];
  /** What a killed earlier run had left and this run put right first (see `recover`). */
  readonly recovered: readonly RecoveryEntry[];
  /** Authority, password and signing-key rotations this run started (queued; the caller drives them). */
  readonly rotations: readonly string[];
  /** External authorities whose CA now serves another chain: each rotates with trust overlap (one of `rotations`). */
  readonly chainChanges: readonly { readonly authority: string; readonly reason: string; readonly rotationId: string }[];
  /** External CAs whose chain could not be read (apply went on; the next run or scan looks again). */
  readonly warnings: readonly string[];
}

/**
 * Issues what is missing or due (parents before children, each tested before promotion) and writes every Secret
 * that differs from its current version as soon as its unit is done (while later units are still issued), then
 * every host file. With `recover`, it first puts right what a killed run left (rotations to resume, pending
 * versions that would lock their item), so a plain re-run succeeds.
 */
export async function apply(
  deps: Deps,
  inventory: Inventory,
  options: { onProgress?: (done: number, message: string) => void; recover?: RecoverOptions } = {},
): Promise<ApplyResult> {
  const recovered = options.recover ? (await recover(deps, inventory, options.recover)).entries : [];
  const reader = new MaterialReader(deps.store, inventory);
  let done = 0;
  const rotating = await rotatingAuthorities(deps, inventory);
  const keysRotating = await rotatingSigningKeys(deps, inventory);
  const rotations: string[] = [];
  // An external CA that serves another chain than the stored one (a re-issued CA certificate, a new root) is a change
  // of trust anchor: its authority rotates with trust overlap, like a due CA of rekey's own, and what it signs moves
  // with that rotation. Checked before the walk, so its children are left to the rotation.
  const chainChanges: { authority: string; reason: string; rotationId: string }[] = [];
  const warnings: string[] = [];
  for (const c of await checkExternalChains(deps, inventory, reader, rotating)) {
    if (c.changed) {
      const rotationId = (await startRotation(deps, inventory, c.authority, { trigger: Trigger.Apply, reason: c.reason })).id;
      chainChanges.push({ authority: c.authority, reason: c.reason, rotationId });
      rotations.push(rotationId);
      rotating.add(c.authority);
    } else if (c.error) warnings.push(`${c.authority}: the CA's chain could not be read: ${c.error}`);
  }
  // Secrets are written as soon as their unit is settled, while later units are still being issued (its version is
  // durable by then: carryOut returns once stored).
  const pipeline = new SyncPipeline(deps, inventory, allUnits(inventory), reader, { releaseSynced: true });
  const act = async (d: IssuanceDecision): Promise<void> => {
    if (d.action === IssueAction.Skip || isUnderAny(inventory, d.unit.item, rotating) || mintedFromAny(d.unit.item, keysRotating)) return;
    if (d.unit.item.kind === 'authority' && d.action !== IssueAction.Issue && d.action !== IssueAction.Adopt) {
      // Never a hard cut: a CA that exists rotates with trust overlap, and what it signs moves with it.
      if (!rotating.has(d.unit.item.name))
        rotations.push((await startRotation(deps, inventory, d.unit.item.name, { trigger: Trigger.Apply, reason: d.reason })).id);
      rotating.add(d.unit.item.name);
      return;
    }
    if (isSigningKey(d.unit.item) && d.action !== IssueAction.Issue && d.action !== IssueAction.Adopt) {
      // Nor for a signing key: its successor is published before it signs, its tokens are minted again after.
      if (!keysRotating.has(d.unit.item.name))
        rotations.push((await startRotation(deps, inventory, d.unit.item.name, { trigger: Trigger.Apply, reason: d.reason })).id);
      keysRotating.add(d.unit.item.name);
      return;
    }
    if (d.action !== IssueAction.Adopt && rotationKindOf(d.unit.item) === RotationKind.Password) {
      // A password set in a database (or behind a paused owner) changes only through its machine, first version too.
      rotations.push((await startRotation(deps, inventory, d.unit.item.name, { trigger: Trigger.Apply, reason: d.reason })).id);
      return;
    }
    await carryOut(deps, inventory, reader, d);
    options.onProgress?.(++done, `${d.action} ${d.unit.key}`);
  };
  const walk = { onSettled: (unit: Unit) => pipeline.add(unit), concurrency: APPLY_CONCURRENCY };
  const decisions = await walkIssuance(deps, inventory, reader, act, walk).catch(async (e: unknown) => {
    await pipeline.abandon();
    throw e;
  });
  const sync = await pipeline.finish();
  const problems = sync.secrets
    .filter((s) => s.change === SyncChange.Unmanaged || s.change === SyncChange.Unreachable)
    .map((s) => `${s.cluster}/${s.namespace}/${s.secret} (${s.unit}): ${s.reason ?? s.change}`)
    .concat(
      sync.reloads
        .filter((r) => r.result === ReloadResult.Failed)
        .map((r) => `reload owed for ${r.units.join(', ')} (files written, not served yet): ${r.error ?? 'reload failed'}`),
    );
  return {
    inventory: inventory.name,
    decisions: decisions.map((d) => ({ unit: d.unit.key, kind: d.unit.item.kind, action: d.action, reason: d.reason })),
    sync,
    problems,
    recovered,
    rotations,
    chainChanges,
    warnings,
  };
}

/**
 * Gives a unit its new current version outside a rotation: adopts what was found in the cluster, or issues,
 * checks (a failed check discards the pending version) and promotes.
 */
export async function carryOut(deps: Deps, inventory: Inventory, reader: MaterialReader, d: IssuanceDecision): Promise<void> {
  const versionId = d.adopted
    ? `adopted-${d.adopted.type === 'certificate' ? d.adopted.fingerprint.slice(0, 32) : randomUUID()}`
    : randomUUID();
  if (d.adopted) {
    await deps.store.putPending(d.unit.storeName, versionId, encodeMaterial(d.adopted), { tags: storeTags(inventory, d.unit) });
  } else if (!(await deps.store.getVersion(d.unit.storeName, { stage: Stage.Pending }))) {
    // One store write: checked in memory, then stored as current (a crash before it leaves nothing to clean up).
    await issueCurrent(deps, inventory, d.unit, versionId, reader, (material) => {
      const problems = material.type === 'certificate' ? checkCertificateMaterial(d.unit, material, deps.clock.now()) : [];
      if (problems.length)
        throw new IntegrityError(`issued ${d.unit.key} failed its checks: ${problems.join('; ')}`, { context: { item: d.unit.key } });
    });
    return;
  } else {
    // A version is pending (a rotation holds the unit): putPending refuses it, as it always did.
    const material = await issuePending(deps, inventory, d.unit, versionId, reader);
    const problems = material.type === 'certificate' ? checkCertificateMaterial(d.unit, material, deps.clock.now()) : [];
    if (problems.length) {
      await deps.store.discardPending(d.unit.storeName, versionId);
      throw new IntegrityError(`issued ${d.unit.key} failed its checks: ${problems.join('; ')}`, { context: { item: d.unit.key } });
    }
  }
  await promoteVersion(deps, inventory, d.unit, versionId, reader);
}
