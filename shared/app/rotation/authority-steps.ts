import { ConflictError, IntegrityError, RekeyError } from '../../domain/errors.js';
import { EventType, makeEvent } from '../../domain/events/types.js';
import { consumersIn, type Authority, type Certificate, type Inventory, type Item } from '../../domain/inventory/model.js';
import { checkCertificateMaterial } from '../../domain/pki/check.js';
import {
  authorityScope,
  intermediateDepthBelow,
  newAuthorityProblems,
  type AuthorityScope,
} from '../../domain/rotation/authority-scope.js';
import { AuthorityStep } from '../../domain/rotation/machines.js';
import { type AuthorityProgress, type RotationRecord } from '../../domain/rotation/record.js';
import { asCertificate, decodeMaterial, encodeMaterial, type CertificateMaterial } from '../../domain/store/material.js';
import { unitsOf, type Unit } from '../../domain/units.js';
import { Stage } from '../../ports/secret-store.js';
import { mapLimit } from '../concurrency.js';
import type { Deps } from '../deps.js';
import { issuePending, labelsOf, newMaterial, promoteUnlessCurrent, promoteVersion, storeTags } from '../issuance.js';
import type { MaterialReader } from '../materials.js';
import { syncUnits } from '../sync.js';
import { ExpectationKind, verifyServed } from '../verify/index.js';
import { restartProgress, secretsNotAt, throwIfBlocked, writtenCount } from './step-outcomes.js';
import { RestartError, VerificationError } from './errors.js';
import { updateRotation } from './record-update.js';
import type { StepContext, StepHandler, StepHandlers, StepResult } from './step-context.js';
import { defined } from '../../domain/defined.js';

/** How often a waiting restart step looks again. */
const RESTART_POLL_SECONDS = 3;
/** Children re-issued at once (each is a few store writes). */
const REISSUE_CONCURRENCY = 8;

/** The version id of the authority's last version, the one without the old CA: the rotation id, marked. */
export const dropVersionId = (rotationId: string): string => `${rotationId}-drop`;

function authorityOf(ctx: StepContext): { authority: Authority; unit: Unit; scope: AuthorityScope } {
  const item = ctx.inventory.items.get(ctx.record.item);
  if (item?.kind !== 'authority')
    throw new RekeyError(`rotation ${ctx.record.id}: ${ctx.record.item} is not an authority`, { context: { rotationId: ctx.record.id } });
  return { authority: item, unit: defined(ctx.units[0]), scope: authorityScope(ctx.inventory, item) };
}

const unitsOfAll = (inventory: Inventory, items: readonly Item[]): Unit[] => items.flatMap((i) => unitsOf(inventory, i));

async function currentCertificate(
  reader: MaterialReader,
  unit: Unit,
): Promise<{ versionId: string; material: CertificateMaterial; pending?: boolean } | undefined> {
  const current = await reader.current(unit.storeName);
  return current && { ...current, material: asCertificate(current.material, unit.storeName) };
}

/** Children on the new CA: those whose current version this rotation issued. */
async function onNewCa(reader: MaterialReader, record: RotationRecord, children: readonly Unit[]): Promise<number> {
  const versions = await Promise.all(children.map((u) => reader.current(u.storeName)));
  return versions.filter((v) => v?.versionId === record.id).length;
}

const progressPatch = (record: RotationRecord, change: Partial<AuthorityProgress>): { authority: AuthorityProgress } => ({
  authority: { children: [], onNewCa: 0, ...record.authority, ...change },
});

/** New CA, pending under the rotation id, remembering the old CA as still trusted (`trustAlso`) until the drop step. */
const issue: StepHandler = async ({ deps, inventory, record, units, reader }) => {
  const unit = defined(units[0]);
  const old = await currentCertificate(reader, unit);
  if (!old)
    throw new RekeyError(`${unit.key} has no current version to rotate: run apply first`, {
      context: { item: unit.key, rotationId: record.id },
    });
  let material: CertificateMaterial;
  const existing = await deps.store.getVersion(unit.storeName, { versionId: record.id });
  if (existing) material = asCertificate(decodeMaterial(existing.value, unit.storeName), unit.storeName);
  else {
    material = { ...asCertificate(await newMaterial(deps, unit, reader), unit.storeName), trustAlso: old.material.cert };
    const { created } = await deps.store.putPending(unit.storeName, record.id, encodeMaterial(material), {
      tags: storeTags(inventory, unit),
      description: `rekey authority ${unit.key}`,
    });
    if (created) {
      const fields = {
        versionId: record.id,
        serial: material.serial,
        fingerprint: material.fingerprint,
        notAfter: material.notAfter,
        keyType: material.keyType,
        ...(material.issuer && { issuer: material.issuer }),
      };
      await deps.events.publish([
        makeEvent(EventType.CertificateIssued, { inventory: inventory.name, item: unit.key, rotationId: record.id }, fields),
      ]);
    } else material = asCertificate(await reader.pending(unit, record.id), unit.storeName);
  }
  const { scope } = authorityOf({ deps, inventory, record, units, reader, carry: { fresh: new Map() } });
  const children = unitsOfAll(inventory, scope.children).map((u) => u.key);
  return {
    status: 'completed',
    message: `new CA ${material.fingerprint.slice(0, 16)} pending; ${children.length} child(ren) to move`,
    patch: progressPatch(record, { oldFingerprint: old.material.fingerprint, newFingerprint: material.fingerprint, children, onNewCa: 0 }),
  };
};

const test: StepHandler = async (ctx) => {
  const { deps, inventory, record, reader } = ctx;
  const { unit, scope } = authorityOf(ctx);
  const m = asCertificate(await reader.pending(unit, record.id), unit.storeName);
  const childNotAfter = (await Promise.all(unitsOfAll(inventory, scope.children).map((u) => reader.current(u.storeName)))).flatMap((c) =>
    c?.material.type === 'certificate' ? [new Date(c.material.notAfter)] : [],
  );
  const problems = [
    ...checkCertificateMaterial(unit, m, deps.clock.now()),
    ...newAuthorityProblems(m, childNotAfter, intermediateDepthBelow(inventory, scope.authority)),
  ];
  if (problems.length)
    throw new IntegrityError(`${unit.key}: ${problems.join('; ')}`, { context: { item: unit.key, rotationId: record.id } });
  return { status: 'completed', message: 'new CA: key matches, CA:TRUE, valid now, outlives its children' };
};

/** Every `ca.crt` (and host `ca` file) that trusts the old CA now holds old + new, byte-identical everywhere. */
const publishBundle: StepHandler = async (ctx) => {
  const { scope } = authorityOf(ctx);
  const report = await syncUnits(ctx.deps, ctx.inventory, unitsOfAll(ctx.inventory, scope.trustItems), ctx.reader, {
    rotationId: ctx.record.id,
  });
  throwIfBlocked(report, ctx.record);
  return {
    status: 'completed',
    message: `${writtenCount(report)} Secret(s) now trust the old and the new CA; ${report.files.length} file placement(s) checked`,
  };
};

const promote: StepHandler = async ({ deps, inventory, record, units, reader }) => {
  const unit = defined(units[0]);
  const current = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
  await promoteUnlessCurrent(deps, inventory, unit, record.id, reader, record.id, labelsOf(current));
  return { status: 'completed', message: 'the new CA signs from now on; the old one stays trusted' };
};

/** One child under the new CA: issued pending (the rotation id is the version id), tested, promoted. Idempotent. */
async function reissueChild(ctx: StepContext, unit: Unit): Promise<void> {
  const { deps, inventory, record, reader } = ctx;
  const old = await reader.current(unit.storeName);
  if (old?.versionId === record.id) {
    await promoteUnlessCurrent(deps, inventory, unit, record.id, reader, record.id, old);
    return;
  }
  // A cascaded intermediate keeps its old certificate trusted beside the new one (its own published ca.crt holds
  // both) until the root's drop step, like the root itself: whoever anchors trust at the intermediate keeps working.
  const keepOld = unit.item.kind === 'authority' && old?.material.type === 'certificate' ? old.material.cert : undefined;
  const m = await issuePending(deps, inventory, unit, record.id, reader, record.id, (fresh) =>
    keepOld && fresh.type === 'certificate' ? { ...fresh, trustAlso: keepOld } : fresh,
  );
  const problems = m.type === 'certificate' ? checkCertificateMaterial(unit, m, deps.clock.now()) : ['not a certificate'];
  if (problems.length)
    throw new IntegrityError(`${unit.key} re-issued under the new CA: ${problems.join('; ')}`, {
      context: { item: unit.key, rotationId: record.id },
    });
  await promoteVersion(deps, inventory, unit, record.id, reader, record.id);
}

/** Intermediates (parents first), then leaves, each re-issued under the new CA, then written everywhere. */
const reissue: StepHandler = async (ctx) => {
  const { deps, inventory, record, reader } = ctx;
  const { scope } = authorityOf(ctx);
  for (const unit of unitsOfAll(inventory, scope.descendants)) await reissueChild(ctx, unit);
  await mapLimit(unitsOfAll(inventory, scope.leaves), REISSUE_CONCURRENCY, (unit) => reissueChild(ctx, unit));
  const children = unitsOfAll(inventory, scope.children);
  const report = await syncUnits(deps, inventory, children, reader, { rotationId: record.id });
  throwIfBlocked(report, record);
  const moved = await onNewCa(reader, record, children);
  return {
    status: 'completed',
    message: `${moved} of ${children.length} child(ren) on the new CA, ${writtenCount(report)} Secret(s) written`,
    patch: progressPatch(record, { onNewCa: moved }),
  };
};

/**
 * Restarts the consumers of `items` and waits for them: the first run of the step records which items and clears
 * what the previous restart step left in `restarts`, then asks for the restarts; later runs (the step waiting, or a
 * worker that died) only look at what the restart workers recorded.
 */
async function restartConsumers(ctx: StepContext, items: readonly Item[]): Promise<StepResult> {
  const { deps, inventory } = ctx;
  let record = ctx.record;
  const names = items.map((i) => i.name);
  if (record.authority?.restartStep !== record.step) {
    const step = record.step;
    const attempt = record.attempt;
    const reset = await updateRotation(deps, record.id, (r) => {
      if (r.step !== step || r.attempt !== attempt) return undefined;
      const { restartDeadline: _dropped, ...rest } = r;
      return { ...rest, restarts: {}, authority: { children: [], onNewCa: 0, ...r.authority, restartStep: step, restartItems: names } };
    });
    if (!reset) throw new ConflictError(`rotation ${record.id} moved on while ${step} began`, { rotationId: record.id });
    record = reset;
  }
  const consumers = items.filter((i) => i.secret && i.consumers.length && i.restart.policy !== 'none');
  if (consumers.length === 0) return { status: 'skipped', message: 'no consumers to restart' };
  if (!deps.restarts) {
    // Manifests on disk: nobody here can restart; say what should be restarted where, for whoever applies them.
    const base = { inventory: inventory.name, item: record.item, rotationId: record.id };
    const events = consumers.flatMap((i) =>
      defined(i.secret)
        .clusters.filter((cluster) => consumersIn(i, cluster).length > 0)
        .map((cluster) =>
          makeEvent(EventType.RestartRequested, base, {
            cluster,
            workloads: consumersIn(i, cluster).map((c) =>
              c.kind === 'workload'
                ? `${c.workloadKind}/${defined(i.secret).namespace}/${c.name}`
                : `selector:${c.namespace ?? defined(i.secret).namespace}/${c.selector}`,
            ),
            policy: i.restart.policy,
            delivery: 'none: no live cluster connected',
          }),
        ),
    );
    await deps.events.publish(events);
    return { status: 'skipped', message: 'no live cluster connected (manifests rendered): restarts requested in events only' };
  }
  if (Object.keys(record.restarts).length === 0) {
    await deps.restarts.request(inventory, record);
    record = (await deps.journal.get(record.id)) ?? record;
  }
  const { clusters, open } = restartProgress(record);
  if (open.length === 0)
    return {
      status: 'completed',
      message: `consumers of ${names.length} item(s) restarted in ${clusters.join(', ') || 'no cluster'}`,
    };
  if (record.restartDeadline && deps.clock.now() > new Date(record.restartDeadline)) {
    throw new RestartError(`restarts not finished by ${record.restartDeadline} in: ${open.join(', ')}`, {
      context: { rotationId: record.id, item: record.item },
    });
  }
  return { status: 'waiting', delaySeconds: RESTART_POLL_SECONDS, message: `waiting for rollouts in ${open.join(', ')}` };
}

const restartTrust: StepHandler = (ctx) => restartConsumers(ctx, authorityOf(ctx).scope.trustItems);
const restartChildren: StepHandler = (ctx) => restartConsumers(ctx, authorityOf(ctx).scope.children);
const restartDropped: StepHandler = (ctx) => restartConsumers(ctx, authorityOf(ctx).scope.trustItems);

/**
 * Evidence that every child moved: each of its Secrets holds this rotation's version in every cluster, and every
 * probe of the authority and its children (servers) is served a chain that ends at the new CA.
 */
const verify: StepHandler = async (ctx) => {
  const { deps, inventory, record, reader } = ctx;
  const { authority, unit, scope } = authorityOf(ctx);
  const wrong = await secretsNotAt(deps, unitsOfAll(inventory, scope.children), record.id);
  if (wrong.length)
    throw new VerificationError(`not on the new CA yet: ${wrong.join(', ')}`, {
      context: { rotationId: record.id, item: record.item },
      retryable: true,
    });
  const newCa = defined(await currentCertificate(reader, unit)).material.cert;
  const probed = [authority, ...scope.children].filter(
    (i): i is Authority | Certificate => Boolean(i.probes?.length) && !(i.kind === 'certificate' && i.usage === 'client'),
  );
  for (const item of probed) await verifyServed(deps, inventory, item, { kind: ExpectationKind.Chain, authorities: [newCa] });
  const children = unitsOfAll(inventory, scope.children);
  return {
    status: 'completed',
    message: `${children.length} child(ren) on the new CA; ${probed.length} item(s) probed`,
    patch: progressPatch(record, { onNewCa: children.length }),
  };
};

/** Stores and promotes the rotation's drop version of an authority unit: its current material without `trustAlso`. */
async function storeWithoutOld(ctx: StepContext, unit: Unit, material: CertificateMaterial): Promise<void> {
  const { deps, inventory, record, reader } = ctx;
  const dropId = dropVersionId(record.id);
  const { trustAlso: _old, ...withoutOld } = material;
  await deps.store.putPending(unit.storeName, dropId, encodeMaterial(withoutOld), {
    tags: storeTags(inventory, unit),
    description: `rekey authority ${unit.key}`,
  });
  await promoteVersion(deps, inventory, unit, dropId, reader, record.id);
}

/** The authority's last version: the new CA without the old one beside it; then every bundle drops the old CA. */
const dropOld: StepHandler = async (ctx) => {
  const { deps, inventory, record, reader } = ctx;
  const { unit, scope } = authorityOf(ctx);
  const dropId = dropVersionId(record.id);
  const current = defined(await currentCertificate(reader, unit));
  if (current.versionId !== dropId) await storeWithoutOld(ctx, unit, current.material);
  else await promoteUnlessCurrent(deps, inventory, unit, dropId, reader, record.id, current);
  // Cascaded intermediates re-issued by this rotation drop their old certificate too.
  for (const child of unitsOfAll(inventory, scope.descendants)) {
    const c = await currentCertificate(reader, child);
    if (c?.versionId === record.id && c.material.trustAlso) await storeWithoutOld(ctx, child, c.material);
    else if (c?.versionId === dropId) await promoteUnlessCurrent(deps, inventory, child, dropId, reader, record.id, c);
  }
  const report = await syncUnits(deps, inventory, unitsOfAll(inventory, scope.trustItems), reader, { rotationId: record.id });
  throwIfBlocked(report, record);
  return { status: 'completed', message: `old CA dropped from ${writtenCount(report)} Secret(s)` };
};

export const AUTHORITY_STEPS: StepHandlers<AuthorityStep> = {
  [AuthorityStep.Issue]: issue,
  [AuthorityStep.Test]: test,
  [AuthorityStep.PublishBundle]: publishBundle,
  [AuthorityStep.RestartTrust]: restartTrust,
  [AuthorityStep.Promote]: promote,
  [AuthorityStep.Reissue]: reissue,
  [AuthorityStep.RestartChildren]: restartChildren,
  [AuthorityStep.Verify]: verify,
  [AuthorityStep.DropOld]: dropOld,
  [AuthorityStep.RestartDropped]: restartDropped,
};

/** Whether the rotation still holds the old CA in the bundles (rollback is possible until the drop step). */
export async function overlapHolds(deps: Deps, record: RotationRecord, unit: Unit): Promise<boolean> {
  const current = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
  return current !== undefined && current.versionId !== dropVersionId(record.id);
}
