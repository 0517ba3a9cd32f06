import { IntegrityError, RekeyError } from '../../domain/errors.js';
import { EventType, makeEvent } from '../../domain/events/types.js';
import { consumersIn } from '../../domain/inventory/model.js';
import { LeafStep } from '../../domain/rotation/machines.js';
import { policyDeadline } from '../../domain/restart/plan.js';
import { checkCertificateMaterial } from '../../domain/pki/check.js';
import { Stage } from '../../ports/secret-store.js';
import { decodeMaterial, encodeMaterial, type Material } from '../../domain/store/material.js';
import { issuedEvent, labelsOf, newMaterial, promoteUnlessCurrent, storeTags } from '../issuance.js';
import { renewalEntryOf } from '../renewals.js';
import { planRotationRestarts, type RestartRequests } from '../restart/planner.js';
import { ReloadResult, SyncChange, syncUnits } from '../sync.js';
import { verifyServed } from '../verify/served.js';
import { restartProgress, secretsNotAt, writtenCount } from './step-outcomes.js';
import { VerificationError, RestartError } from './errors.js';
import type { Unit } from '../../domain/units.js';
import type { StepHandler, StepHandlers } from './step-context.js';
import { defined } from '../../domain/defined.js';

/** How often a waiting restart step looks again. */
const RESTART_POLL_SECONDS = 3;

/**
 * Makes the new material in memory; nothing is written yet (the `promote` step of the same run writes it once, after
 * `test`). A record from before this protocol may come here with its version already pending: `test` and `promote`
 * then read and promote that one.
 */
const issue: StepHandler = async ({ deps, record, units, reader, carry }) => {
  for (const unit of units) {
    if (!carry.fresh.has(unit.storeName)) carry.fresh.set(unit.storeName, await newMaterial(deps, unit, reader, record.id));
  }
  return { status: 'completed', message: `${units.length} version(s) made, not yet stored` };
};

/** What is wrong with new material for `unit` (nothing: empty). */
function problemsOf(unit: Unit, m: Material, now: Date): string[] {
  return m.type === 'certificate'
    ? checkCertificateMaterial(unit, m, now)
    : m.type === 'password' && m.password.length < 16
      ? ['password too short']
      : [];
}

const test: StepHandler = async ({ deps, record, units, reader, carry }) => {
  for (const unit of units) {
    const m = carry.fresh.get(unit.storeName) ?? (await reader.pending(unit, record.id));
    const problems = problemsOf(unit, m, deps.clock.now());
    if (problems.length)
      throw new IntegrityError(`${unit.key}: ${problems.join('; ')}`, { context: { item: unit.key, rotationId: record.id } });
  }
  return { status: 'completed', message: 'chain, key, usages and names check out' };
};

/**
 * One store write per unit: the tested material becomes current (`putCurrent`, the rotation id as version id and
 * idempotency token). A run that runs again (its worker died) made other material; the store keeps what the first
 * run wrote, which is read back and used. A version found pending under the rotation id (left by a rekey before
 * this protocol) is tested like new material, then promoted, or discarded.
 */
const promote: StepHandler = async ({ deps, inventory, record, units, reader, carry }) => {
  const previousVersions: Record<string, string> = {};
  for (const unit of units) {
    const made = carry.fresh.get(unit.storeName);
    if (!made) {
      // A record written before this protocol: its version was stored pending by an earlier `issue`.
      const current = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
      await promoteUnlessCurrent(deps, inventory, unit, record.id, reader, record.id, labelsOf(current));
      continue;
    }
    const base = { inventory: inventory.name, item: unit.key, rotationId: record.id };
    const put = await deps.store.putCurrent(unit.storeName, record.id, encodeMaterial(made), {
      tags: storeTags(inventory, unit),
      description: `rekey ${unit.item.kind} ${unit.key}`,
    });
    let material = made;
    if (put.created) {
      await deps.events.publish([
        issuedEvent(base, record.id, material),
        makeEvent(EventType.VersionPromoted, base, { versionId: record.id }),
      ]);
    } else {
      const stored = await deps.store.getVersion(unit.storeName, { versionId: record.id });
      if (!stored)
        throw new IntegrityError(`${unit.storeName}: version ${record.id} was reported to exist, but cannot be read`, {
          context: { item: unit.key, rotationId: record.id },
        });
      material = decodeMaterial(stored.value, unit.storeName);
      if (!stored.stages.includes(Stage.Current)) {
        const problems = problemsOf(unit, material, deps.clock.now());
        if (problems.length) {
          await deps.store.discardPending(unit.storeName, record.id);
          throw new IntegrityError(`${unit.key}: the version stored under ${record.id} is refused: ${problems.join('; ')}`, {
            context: { item: unit.key, rotationId: record.id },
          });
        }
        await deps.store.promote(unit.storeName, record.id);
        await deps.events.publish([makeEvent(EventType.VersionPromoted, base, { versionId: record.id })]);
      }
    }
    if (put.replaced) previousVersions[unit.storeName] = put.replaced;
    carry.fresh.set(unit.storeName, material);
    const entry = renewalEntryOf(unit, record.id, material);
    if (entry) carry.renewals?.set(unit.storeName, entry);
    reader.remember(unit.storeName, { versionId: record.id, material });
  }
  const patch = Object.keys(previousVersions).length
    ? { previousVersions: { ...record.previousVersions, ...previousVersions } }
    : undefined;
  return { status: 'completed', message: `${units.length} version(s) current`, ...(patch && { patch }) };
};

const sync: StepHandler = async ({ deps, inventory, record, units, reader }) => {
  const report = await syncUnits(deps, inventory, units, reader, { rotationId: record.id });
  const blocked = report.secrets.filter((s) => s.change === SyncChange.Unmanaged || s.change === SyncChange.Unreachable);
  if (blocked.length) {
    throw new RekeyError(
      `could not write: ${blocked.map((b) => `${b.cluster}/${b.namespace}/${b.secret}: ${b.reason ?? b.change}`).join('; ')}`,
      {
        context: { rotationId: record.id, item: record.item },
        retryable: blocked.every((b) => b.change === SyncChange.Unreachable),
      },
    );
  }
  // Files in place but not served: the rotation must not report completed. Not retried here (a hung reload would
  // hold the state lock for five timeouts); the reload stays owed and the next apply or rotation runs it again.
  const unreloaded = report.reloads.filter((r) => r.result === ReloadResult.Failed);
  if (unreloaded.length) {
    throw new RekeyError(
      `files written, but not reloaded (still owed, run again by the next apply): ${unreloaded.map((r) => r.error).join('; ')}`,
      {
        context: { rotationId: record.id, item: record.item },
      },
    );
  }
  return { status: 'completed', message: `${writtenCount(report)} Secret(s) written, ${report.files.length} file placement(s) checked` };
};

const restart: StepHandler = async ({ deps, inventory, record }) => {
  const item = defined(inventory.items.get(record.item));
  if (item.restart.policy === 'none') return { status: 'skipped', message: 'restart policy none' };
  if (item.consumers.length === 0) return { status: 'skipped', message: 'no consumers listed' };
  const clusters = item.secret?.clusters ?? [];
  const live = clusters.filter((c) => deps.clusters.get(c)?.workloads);
  if (live.length === 0 || !deps.restarts) {
    // Manifests on disk: nobody here can restart, so say what should be restarted where, for whoever applies them.
    const workloadsIn = (cluster: string) =>
      consumersIn(item, cluster).map((c) =>
        c.kind === 'workload'
          ? `${c.workloadKind}/${item.secret?.namespace ?? ''}/${c.name}`
          : `selector:${c.namespace ?? item.secret?.namespace ?? ''}/${c.selector}`,
      );
    const requested = clusters.filter((cluster) => workloadsIn(cluster).length > 0);
    await deps.events.publish(
      requested.map((cluster) =>
        makeEvent(
          EventType.RestartRequested,
          { inventory: inventory.name, item: record.item, rotationId: record.id },
          { cluster, workloads: workloadsIn(cluster), policy: item.restart.policy, delivery: 'none: no live cluster connected' },
        ),
      ),
    );
    return { status: 'skipped', message: 'no live cluster connected (manifests rendered): restarts requested in events only' };
  }

  let current = record;
  let requested: RestartRequests | undefined;
  if (Object.keys(record.restarts).length === 0) {
    // Past promotion every unit's current version is this rotation's: no store read to plan with.
    requested = await planRotationRestarts(deps, inventory, record, Object.fromEntries(record.units.map((u) => [u, record.id])));
    if (requested) {
      current = {
        ...record,
        restarts: { ...requested.restarts },
        ...(requested.restartDeadline && !record.restartDeadline && { restartDeadline: requested.restartDeadline }),
      };
      // Published after the run's journal write records the requests (the workers write their outcomes beside them).
      await deps.events.publish(requested.events);
    }
  }
  const deadline = current.restartDeadline ?? policyDeadline(item.restart, deps.clock.now())?.toISOString();
  const patch =
    deadline || requested
      ? { ...(deadline && { restartDeadline: deadline }), ...(requested && { restarts: current.restarts }) }
      : undefined;
  const { clusters: restarted, open } = restartProgress(record, current.restarts);
  if (open.length === 0) return { status: 'completed', message: `restarted in ${restarted.join(', ')}`, ...(patch && { patch }) };
  if (deadline && deps.clock.now() > new Date(deadline)) {
    throw new RestartError(
      `restarts not finished by ${deadline} (within ${defined(item.restart.withinMs) / 1000}s) in: ${open.join(', ')}`,
      { context: { rotationId: record.id, item: record.item } },
    );
  }
  return {
    status: 'waiting',
    delaySeconds: RESTART_POLL_SECONDS,
    wakeOnRestarts: true,
    message: `waiting for rollouts in ${open.join(', ')}`,
    ...(patch && { patch }),
  };
};

/**
 * Reads back what the clusters hold: every target must carry the new version, unedited. Then what is served: every
 * probe of the item must serve the new certificate (and accept its client certificate), else the rotation fails
 * and, being past promotion, rolls back.
 */
const verify: StepHandler = async ({ deps, inventory, record, units }) => {
  const wrong = await secretsNotAt(deps, units, record.id);
  if (wrong.length)
    throw new VerificationError(`new version not in place at ${wrong.join(', ')}`, {
      context: { rotationId: record.id, item: record.item },
    });
  const item = inventory.items.get(record.item);
  const probed = item && item.kind !== 'credential' && item.probes?.length ? await verifyServed(deps, inventory, item) : undefined;
  return {
    status: 'completed',
    message: `every target holds the new version${probed ? `; ${probed.outcomes.length} probe(s) passed` : ''}`,
  };
};

export const LEAF_STEPS: StepHandlers<LeafStep> = {
  [LeafStep.Issue]: issue,
  [LeafStep.Test]: test,
  [LeafStep.Promote]: promote,
  [LeafStep.Sync]: sync,
  [LeafStep.Restart]: restart,
  [LeafStep.Verify]: verify,
};
