import type { JWK } from 'jose';
import { ConflictError, IntegrityError, RekeyError } from '../../domain/errors.js';
import { EventType, makeEvent } from '../../domain/events/types.js';
import type { Consumer, Credential, Inventory } from '../../domain/inventory/model.js';
import { SigningKeyStep } from '../../domain/rotation/machines.js';
import { type RotationRecord, type SigningKeyProgress } from '../../domain/rotation/record.js';
import { decodeMaterial, encodeMaterial, type SigningKeyMaterial } from '../../domain/store/material.js';
import { unitsOf, type Unit } from '../../domain/units.js';
import { Stage } from '../../ports/secret-store.js';
import { issuePending, labelsOf, promoteUnlessCurrent, promoteVersion, storeTags } from '../issuance.js';
import { syncUnits } from '../sync.js';
import { patchOwners, pausedBy } from '../pause/index.js';
import { restartProgress, throwIfBlocked, writtenCount } from './step-outcomes.js';
import { RestartError } from './errors.js';
import { updateRotation } from './record-update.js';
import type { StepContext, StepHandler, StepHandlers, StepResult } from './step-context.js';
import { defined } from '../../domain/defined.js';

/** How often a waiting restart step looks again. */
const RESTART_POLL_SECONDS = 3;
/** A long wait (the old key's overlap) is taken in hops of at most this, so the step re-reads the clock and the record. */
export const MAX_WAIT_SECONDS = 3600;

/** The version id of the key's last version, the one whose key set no longer holds the old key. */
export const cleanVersionId = (rotationId: string): string => `${rotationId}-clean`;

function signingKeyOf(ctx: StepContext): { item: Credential; unit: Unit } {
  const item = ctx.inventory.items.get(ctx.record.item);
  const unit = ctx.units[0];
  if (item?.kind !== 'credential' || item.type !== 'jwt-signing-key' || !unit) {
    throw new RekeyError(`rotation ${ctx.record.id}: ${ctx.record.item} is not a jwt-signing-key`, {
      context: { rotationId: ctx.record.id },
    });
  }
  return { item, unit };
}

/** The jwt-token credentials minted from signing key `name`. */
export const tokensOf = (inventory: Inventory, name: string): Credential[] =>
  inventory.credentials.filter((c) => c.token?.signingKey === name);

const asSigningKey = (m: { type: string }, name: string): SigningKeyMaterial => {
  if (m.type !== 'signing-key') throw new IntegrityError(`${name} holds a ${m.type}, not a signing key`, { context: { item: name } });
  return m as SigningKeyMaterial;
};

const progress = (record: RotationRecord, change: Partial<SigningKeyProgress>): { signingKey: SigningKeyProgress } => ({
  signingKey: { ...record.signingKey, ...change },
});

/** Signs a probe with the new private key and verifies it against the new public key in its key set (jose). */
async function keyPairProblem(m: SigningKeyMaterial): Promise<string | undefined> {
  // Loaded here, not at import: only signing-key rotations need jose (cold start of the functions).
  const { createLocalJWKSet, flattenedVerify, FlattenedSign, importJWK } = await import('../../domain/credentials/jose-lazy.js');
  try {
    const jws = await new FlattenedSign(new TextEncoder().encode('rekey key check'))
      .setProtectedHeader({ alg: m.alg, kid: m.kid })
      .sign(await importJWK(m.jwk as JWK, m.alg));
    await flattenedVerify(jws, createLocalJWKSet({ keys: m.keySet as JWK[] }));
    return undefined;
  } catch (e) {
    // jose's messages name the algorithm or the check that failed, never the key.
    return `the new key does not verify against its public key (${(e as Error).name})`;
  }
}

/** New key pending under the rotation id; its key set holds the new public key and the old active one. */
const issue: StepHandler = async ({ deps, inventory, record, units, reader }) => {
  const unit = defined(units[0]);
  const current = await reader.current(unit.storeName);
  if (!current)
    throw new RekeyError(`${unit.key} has no current version to rotate: run apply first`, {
      context: { item: unit.key, rotationId: record.id },
    });
  const old = asSigningKey(current.material, unit.key);
  const m = asSigningKey(await issuePending(deps, inventory, unit, record.id, reader, record.id), unit.key);
  const problem = await keyPairProblem(m);
  if (problem) throw new IntegrityError(`${unit.key}: ${problem}`, { context: { item: unit.key, rotationId: record.id } });
  return {
    status: 'completed',
    message: `new key ${m.kid} (${m.alg}) pending; ${old.kid} signs`,
    patch: progress(record, { oldKid: old.kid, newKid: m.kid }),
  };
};

/** Every Secret of the key: `jwks.json` holds the old and the new public key; the old key still signs. */
const publishKeySet: StepHandler = async ({ deps, inventory, record, units, reader }) => {
  const report = await syncUnits(deps, inventory, units, reader, { rotationId: record.id });
  throwIfBlocked(report, record);
  const publishedAt = record.signingKey?.publishedAt ?? deps.clock.now().toISOString();
  return {
    status: 'completed',
    message: `key set with both keys in ${report.secrets.length} Secret(s) (${writtenCount(report)} written)`,
    patch: progress(record, { publishedAt }),
  };
};

/** Workloads to restart for one item: the key's verifiers or signers, or a token's consumers. */
interface RestartGroup {
  readonly item: Credential;
  readonly consumers: readonly Consumer[];
}

/**
 * Restarts the workloads of `groups` and waits for them. The first run of the step records it and clears what an
 * earlier restart step left in `restarts`; later runs (the step waiting, or a worker that died) only look at what
 * the restart workers recorded.
 */
async function restartWorkloads(ctx: StepContext, groups: readonly RestartGroup[]): Promise<StepResult | undefined> {
  const { deps, inventory } = ctx;
  let record = ctx.record;
  // Each item under its own restart policy (the planner skips `none` the same way).
  const due = groups.filter((g) => g.consumers.length > 0 && g.item.secret && g.item.restart.policy !== 'none');
  if (due.length === 0) return undefined;
  if (!deps.restarts) {
    // Manifests on disk: nobody here can restart; say what should be restarted where, for whoever applies them.
    const base = { inventory: inventory.name, item: record.item, rotationId: record.id };
    await deps.events.publish(
      due.flatMap(({ item, consumers }) => {
        const namespace = defined(item.secret).namespace;
        const workloads = consumers.map((c) =>
          c.kind === 'workload' ? `${c.workloadKind}/${namespace}/${c.name}` : `selector:${c.namespace ?? namespace}/${c.selector}`,
        );
        return defined(item.secret).clusters.map((cluster) =>
          makeEvent(EventType.RestartRequested, base, {
            cluster,
            workloads,
            policy: item.restart.policy,
            delivery: 'none: no live cluster connected',
          }),
        );
      }),
    );
    return { status: 'skipped', message: 'no live cluster connected (manifests rendered): restarts requested in events only' };
  }
  if (record.signingKey?.restartStep !== record.step) {
    const { step, attempt } = record;
    const reset = await updateRotation(deps, record.id, (r) => {
      if (r.step !== step || r.attempt !== attempt) return undefined;
      const { restartDeadline: _dropped, ...rest } = r;
      return { ...rest, restarts: {}, signingKey: { ...r.signingKey, restartStep: step } };
    });
    if (!reset) throw new ConflictError(`rotation ${record.id} moved on while ${step} began`, { rotationId: record.id });
    record = reset;
  }
  if (Object.keys(record.restarts).length === 0) {
    await deps.restarts.request(inventory, record);
    record = (await deps.journal.get(record.id)) ?? record;
  }
  const { clusters, open } = restartProgress(record);
  if (open.length === 0) return { status: 'completed', message: `restarted in ${clusters.join(', ') || 'no cluster'}` };
  if (record.restartDeadline && deps.clock.now() > new Date(record.restartDeadline)) {
    throw new RestartError(`restarts not finished by ${record.restartDeadline} in: ${open.join(', ')}`, {
      context: { rotationId: record.id, item: record.item },
    });
  }
  return { status: 'waiting', delaySeconds: RESTART_POLL_SECONDS, message: `waiting for rollouts in ${open.join(', ')}` };
}

/** Verifiers restart (and the propagation time passes) so they accept the new key before it signs anything. */
const awaitVerifiers: StepHandler = async (ctx) => {
  const { deps, record } = ctx;
  const { item } = signingKeyOf(ctx);
  const restarted = await restartWorkloads(ctx, [{ item, consumers: item.verifiers }]);
  if (restarted?.status === 'waiting') return restarted;
  const notes = [restarted?.message ?? (item.verifiers.length ? 'verifiers not restarted' : 'no verifiers listed')];
  if (item.propagationMs !== undefined) {
    const publishedAt = Date.parse(record.signingKey?.publishedAt ?? record.updatedAt);
    const left = publishedAt + item.propagationMs - deps.clock.now().getTime();
    if (left > 0)
      return {
        status: 'waiting',
        delaySeconds: Math.min(Math.ceil(left / 1000), MAX_WAIT_SECONDS),
        message: `key set propagating until ${new Date(publishedAt + item.propagationMs).toISOString()}`,
      };
    notes.push(`propagation of ${item.propagationMs / 1000}s passed`);
  }
  return { status: 'completed', message: notes.join('; ') };
};

/** The new key signs: promoted, written everywhere (`kid` and the private key change; the key set keeps both). */
const activate: StepHandler = async (ctx) => {
  const { deps, inventory, record, units, reader } = ctx;
  const { item, unit } = signingKeyOf(ctx);
  const current = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
  await promoteUnlessCurrent(deps, inventory, unit, record.id, reader, record.id, labelsOf(current));
  const report = await syncUnits(deps, inventory, units, reader, { rotationId: record.id });
  throwIfBlocked(report, record);
  // A retried activation keeps the first instant: the overlap only ever gets longer.
  const activatedAt = record.signingKey?.activatedAt ?? deps.clock.now().toISOString();
  const retireAfter = new Date(Date.parse(activatedAt) + item.tokenLifetimeMs).toISOString();
  return {
    status: 'completed',
    message: `${record.signingKey?.newKid ?? 'the new key'} signs from now on; the old key stays published until ${retireAfter}`,
    patch: progress(record, { activatedAt, retireAfter }),
  };
};

/** Every jwt-token of the key minted again with the new key (version id = rotation id), then written. */
const remintTokens: StepHandler = async ({ deps, inventory, record, reader }) => {
  const tokens = tokensOf(inventory, record.item).flatMap((t) => unitsOf(inventory, t));
  if (tokens.length === 0) return { status: 'skipped', message: 'no jwt-token minted from this key' };
  for (const unit of tokens) {
    const minted = await reader.current(unit.storeName);
    if (minted?.versionId === record.id) {
      await promoteUnlessCurrent(deps, inventory, unit, record.id, reader, record.id, minted);
      continue;
    }
    const m = await issuePending(deps, inventory, unit, record.id, reader, record.id);
    if (m.type !== 'token' || m.kid !== record.signingKey?.newKid) {
      // Minted before the key was active (cannot happen in order; a hand-made version could): start over.
      await deps.store.discardPending(unit.storeName, record.id);
      throw new IntegrityError(`${unit.key}: token pending under this rotation is not signed by the new key`, {
        context: { item: unit.key, rotationId: record.id },
      });
    }
    await promoteVersion(deps, inventory, unit, record.id, reader, record.id);
  }
  const report = await syncUnits(deps, inventory, tokens, reader, { rotationId: record.id });
  throwIfBlocked(report, record);
  return { status: 'completed', message: `${tokens.length} token(s) minted with the new key, ${writtenCount(report)} Secret(s) written` };
};

/**
 * Workloads that sign with the key (its consumers) restart to pick up the new one, and the consumers of every token
 * minted again with it, to pick up the new token (each item under its own restart policy, one restart per workload).
 */
const restartSigners: StepHandler = async (ctx) => {
  const { item } = signingKeyOf(ctx);
  const groups = [item, ...tokensOf(ctx.inventory, item.name)].map((i) => ({ item: i, consumers: i.consumers }));
  return (await restartWorkloads(ctx, groups)) ?? { status: 'skipped', message: 'no signers or token consumers to restart' };
};

/** The owners of the key and of its tokens (`pause`) are paused before anything changes (seed 001's pattern). */
const pause: StepHandler = async (ctx) => {
  const { item } = signingKeyOf(ctx);
  const owners = pausedBy(ctx.inventory, item);
  if (owners.length === 0) return { status: 'skipped', message: 'no owner object to pause' };
  const { done, unreachable } = await patchOwners(ctx.deps, ctx.inventory, owners, 'pause');
  const missed = unreachable.length ? `; not connected: ${unreachable.join(', ')}` : '';
  return { status: done.length ? 'completed' : 'skipped', message: `paused ${done.join('; ') || 'nothing'}${missed}` };
};

/**
 * The owners resume once the new key signs and its tokens are out; the overlap that follows changes only the public
 * key set. A rotation that failed resumes them in failRotation; a resumed one (its worker died) reaches this step.
 */
const resume: StepHandler = async (ctx) => {
  const { item } = signingKeyOf(ctx);
  const owners = pausedBy(ctx.inventory, item);
  if (owners.length === 0) return { status: 'skipped', message: 'no owner object to resume' };
  const { done } = await patchOwners(ctx.deps, ctx.inventory, owners, 'resume');
  return { status: done.length ? 'completed' : 'skipped', message: `resumed ${done.join('; ') || 'nothing'}` };
};

/** Tokens the old key signed stay verifiable until the longest of them has expired. */
const keepOld: StepHandler = async ({ deps, record }) => {
  const retireAfter = record.signingKey?.retireAfter;
  if (!retireAfter)
    throw new IntegrityError(`rotation ${record.id} has no activation time`, { context: { rotationId: record.id, item: record.item } });
  const left = Date.parse(retireAfter) - deps.clock.now().getTime();
  if (left > 0)
    return {
      status: 'waiting',
      delaySeconds: Math.min(Math.ceil(left / 1000), MAX_WAIT_SECONDS),
      message: `old key ${record.signingKey.oldKid ?? ''} stays published until ${retireAfter}`,
    };
  return { status: 'completed', message: `tokenLifetime passed since activation (${record.signingKey.activatedAt ?? '?'})` };
};

/** The key's last version: the same key with only its own public key in the set; written everywhere. */
const removeOld: StepHandler = async (ctx) => {
  const { deps, inventory, record, units, reader } = ctx;
  const { unit } = signingKeyOf(ctx);
  const cleanId = cleanVersionId(record.id);
  const current = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
  if (!current) throw new IntegrityError(`${unit.key} has no current version`, { context: { item: unit.key, rotationId: record.id } });
  if (current.versionId !== cleanId) {
    const m = asSigningKey(decodeMaterial(current.value, unit.storeName), unit.key);
    const clean: SigningKeyMaterial = { ...m, keySet: m.keySet.filter((k) => k.kid === m.kid) };
    await deps.store.putPending(unit.storeName, cleanId, encodeMaterial(clean), {
      tags: storeTags(inventory, unit),
      description: `rekey credential ${unit.key}`,
    });
    await promoteVersion(deps, inventory, unit, cleanId, reader, record.id);
  } else await promoteUnlessCurrent(deps, inventory, unit, cleanId, reader, record.id, labelsOf(current));
  const report = await syncUnits(deps, inventory, units, reader, { rotationId: record.id });
  throwIfBlocked(report, record);
  return {
    status: 'completed',
    message: `old key ${record.signingKey?.oldKid ?? ''} removed from the key set in ${writtenCount(report)} Secret(s)`,
  };
};

export const SIGNING_KEY_STEPS: StepHandlers<SigningKeyStep> = {
  [SigningKeyStep.Pause]: pause,
  [SigningKeyStep.Issue]: issue,
  [SigningKeyStep.PublishKeySet]: publishKeySet,
  [SigningKeyStep.AwaitVerifiers]: awaitVerifiers,
  [SigningKeyStep.Activate]: activate,
  [SigningKeyStep.RemintTokens]: remintTokens,
  [SigningKeyStep.RestartSigners]: restartSigners,
  [SigningKeyStep.Resume]: resume,
  [SigningKeyStep.KeepOld]: keepOld,
  [SigningKeyStep.RemoveOld]: removeOld,
};
