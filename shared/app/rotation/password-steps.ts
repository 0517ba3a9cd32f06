import { targetLogin } from '../../domain/credentials/logins.js';
import { newPasswordMaterial } from '../../domain/credentials/generate.js';
import { scramSha256Verifier } from '../../domain/credentials/scram.js';
import { IntegrityError, RekeyError } from '../../domain/errors.js';
import { EventType, makeEvent } from '../../domain/events/types.js';
import type { Credential, DatabaseLogin, Inventory } from '../../domain/inventory/model.js';
import { beforePromotion, LeafStep, PasswordStep } from '../../domain/rotation/machines.js';
import type { RotationRecord } from '../../domain/rotation/record.js';
import { decodeMaterial, encodeMaterial, type PasswordMaterial } from '../../domain/store/material.js';
import { Annotation } from '../../domain/sync/desired.js';
import { specHashOf, type Unit } from '../../domain/units.js';
import { LoginOutcome, type DatabaseSession } from '../../ports/database.js';
import { Stage } from '../../ports/secret-store.js';
import type { Deps } from '../deps.js';
import { issuePending, storeTags } from '../issuance.js';
import { pauseOwner, resumeOwner } from '../pause/index.js';
import { VerificationError } from './errors.js';
import { LEAF_STEPS } from './leaf-steps.js';
import type { StepContext, StepHandler, StepHandlers } from './step-context.js';

/** The machine also re-mints a jwt-token that has an owner to pause (no database: only pause, issue, ..., resume). */
const isPausable = (item: Credential): boolean => item.type === 'password' || (item.type === 'jwt-token' && item.pause !== undefined);

function credentialOf(ctx: Pick<StepContext, 'inventory' | 'record' | 'units'>): { credential: Credential; unit: Unit } {
  const item = ctx.inventory.items.get(ctx.record.item);
  const unit = ctx.units[0];
  if (item?.kind !== 'credential' || !isPausable(item) || !unit) {
    throw new RekeyError(`rotation ${ctx.record.id}: ${ctx.record.item} is not a password credential (nor a token with pause)`, {
      context: { rotationId: ctx.record.id },
    });
  }
  return { credential: item, unit };
}

function asPassword(value: string, name: string): PasswordMaterial {
  const m = decodeMaterial(value, name);
  if (m.type !== 'password') throw new IntegrityError(`${name} holds a ${m.type}, not a password`, { context: { item: name } });
  return m;
}

/** Runs `work` on one admin session of the credential's database, closed afterwards whatever happens. */
export async function withDatabase<T>(deps: Deps, database: DatabaseLogin, work: (session: DatabaseSession) => Promise<T>): Promise<T> {
  if (!deps.databases) throw new RekeyError(`no database access in this runtime: cannot reach the database of role ${database.role}`);
  const session = await deps.databases.open(database, deps.signal ? { signal: deps.signal } : undefined);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

/** The pending password of this rotation (the rotation id is its version id). */
async function pendingPassword(deps: Deps, unit: Unit, record: RotationRecord): Promise<PasswordMaterial> {
  const v = await deps.store.getVersion(unit.storeName, { versionId: record.id });
  if (!v)
    throw new IntegrityError(`version ${record.id} of ${unit.storeName} is missing`, {
      context: { item: unit.key, rotationId: record.id },
    });
  return asPassword(v.value, unit.storeName);
}

async function currentPassword(deps: Deps, unit: Unit): Promise<PasswordMaterial | undefined> {
  const v = await deps.store.getVersion(unit.storeName, { stage: Stage.Current });
  return v && asPassword(v.value, unit.storeName);
}

/** Where the owner object lives, for messages. */
const ownerName = (c: Credential): string => (c.pause ? `${c.pause.object.kind} ${c.pause.object.name}` : '');

const pause: StepHandler = async (ctx) => {
  const { credential } = credentialOf(ctx);
  if (!credential.pause) return { status: 'skipped', message: 'no owner object to pause' };
  const { patched, unreachable } = await pauseOwner(ctx.deps, ctx.inventory, credential);
  const missed = unreachable.length ? `; not connected: ${unreachable.join(', ')}` : '';
  return {
    status: patched.length ? 'completed' : 'skipped',
    message: `${ownerName(credential)} paused in ${patched.join(', ') || 'no cluster'}${missed}`,
  };
};

/**
 * The new password, pending under the rotation id, for the login this rotation sets (the inactive one with
 * `alternating`). A retried step finds the version it stored and keeps it (same password, same login).
 */
const issue: StepHandler = async ({ deps, inventory, record, units, reader }) => {
  const { credential, unit } = credentialOf({ inventory, record, units });
  if (credential.type === 'jwt-token') {
    // Minted with the signing key's active key; a retried step finds the token it stored and keeps it.
    if (!(await deps.store.getVersion(unit.storeName, { versionId: record.id })))
      await issuePending(deps, inventory, unit, record.id, reader, record.id);
    return { status: 'completed', message: 'new token pending' };
  }
  const existing = await deps.store.getVersion(unit.storeName, { versionId: record.id });
  if (existing)
    return { status: 'completed', message: `password for ${asPassword(existing.value, unit.storeName).login ?? credential.name} pending` };
  const current = await currentPassword(deps, unit);
  const login = credential.database ? targetLogin(credential.database, current?.login) : current?.login;
  const material = newPasswordMaterial(credential, deps.clock.now(), specHashOf(unit), login);
  const { created } = await deps.store.putPending(unit.storeName, record.id, encodeMaterial(material), {
    tags: storeTags(inventory, unit),
    description: `rekey credential ${unit.key}`,
  });
  if (created) {
    await deps.events.publish([
      makeEvent(
        EventType.CredentialIssued,
        { inventory: inventory.name, item: unit.key, rotationId: record.id },
        { versionId: record.id, credentialType: material.type },
      ),
    ]);
  }
  return { status: 'completed', message: `new password pending${login ? ` for login ${login}` : ''}` };
};

/**
 * `ALTER ROLE … PASSWORD` with a verifier computed here: the clear password never reaches the server. With
 * `alternating`, the second login is created on first use. Setting the same password again is harmless (a retry).
 */
const setInDatabase: StepHandler = async ({ deps, inventory, record, units }) => {
  const { credential, unit } = credentialOf({ inventory, record, units });
  const database = credential.database;
  if (!database) return { status: 'skipped', message: 'no database: the password lives only in the Secret' };
  const pending = await pendingPassword(deps, unit, record);
  const login = pending.login ?? database.role;
  await withDatabase(deps, database, async (session) => {
    if (login !== database.role) await session.createAlternate(database.role, login);
    await session.setPasswordVerifier(login, scramSha256Verifier(pending.password));
  });
  return {
    status: 'completed',
    message: `password of ${login} set (SCRAM-SHA-256 verifier)${database.strategy === 'single' ? '; the previous password no longer logs in' : ''}`,
  };
};

/** A real login as the role with the new password, before anything is promoted. */
const testLogin: StepHandler = async ({ deps, inventory, record, units }) => {
  const { credential, unit } = credentialOf({ inventory, record, units });
  const database = credential.database;
  if (!database) return { status: 'skipped', message: 'no database to log in to' };
  const pending = await pendingPassword(deps, unit, record);
  const login = pending.login ?? database.role;
  const outcome = await withDatabase(deps, database, (session) => session.tryLogin(login, pending.password));
  if (outcome !== LoginOutcome.Accepted) {
    throw new IntegrityError(`the new password of ${login} was refused by the database`, {
      context: { item: unit.key, rotationId: record.id },
    });
  }
  return { status: 'completed', message: `${login} logs in with the new password` };
};

const resume: StepHandler = async (ctx) => {
  const { credential } = credentialOf(ctx);
  if (!credential.pause) return { status: 'skipped', message: 'no owner object to resume' };
  const { patched } = await resumeOwner(ctx.deps, ctx.inventory, credential);
  return {
    status: patched.length ? 'completed' : 'skipped',
    message: `${ownerName(credential)} resumed in ${patched.join(', ') || 'no cluster'}`,
  };
};

/**
 * Every Secret holds this rotation's version, and (with a database) what each Secret holds logs in: its
 * `username` and `password`, as a consumer would use them. Without a connected cluster, the stored version.
 */
const verify: StepHandler = async ({ deps, inventory, record, units }) => {
  const { credential, unit } = credentialOf({ inventory, record, units });
  const wrong: string[] = [];
  const logins = new Map<string, { username: string; password: string; where: string }>();
  const placement = credential.secret;
  for (const cluster of placement?.clusters ?? []) {
    const sink = deps.clusters.get(cluster)?.secrets;
    if (!sink || !placement || !unit.secretName) continue;
    const where = `${cluster}/${placement.namespace}/${unit.secretName}`;
    const seen = await sink.getSecret(placement.namespace, unit.secretName);
    if (seen?.annotations[Annotation.Version] !== record.id) {
      wrong.push(where);
      continue;
    }
    const username = seen.data.username ?? credential.database?.role;
    const password = seen.data.password;
    if (username && password) logins.set(`${username}\u0000${password}`, { username, password, where });
  }
  if (wrong.length)
    throw new VerificationError(`new version not in place at ${wrong.join(', ')}`, {
      context: { rotationId: record.id, item: record.item },
    });
  const database = credential.database;
  if (!database) return { status: 'completed', message: 'every target holds the new version' };
  if (logins.size === 0) {
    const current = await currentPassword(deps, unit);
    if (current) logins.set('store', { username: current.login ?? database.role, password: current.password, where: 'the store' });
  }
  const refused = await withDatabase(deps, database, async (session) => {
    const out: string[] = [];
    for (const l of logins.values())
      if ((await session.tryLogin(l.username, l.password)) !== LoginOutcome.Accepted) out.push(`${l.username} (from ${l.where})`);
    return out;
  });
  if (refused.length)
    throw new VerificationError(`the database refused the password the Secret holds: ${refused.join(', ')}`, {
      context: { rotationId: record.id, item: record.item },
    });
  return {
    status: 'completed',
    message: `every target holds the new version; ${[...new Set([...logins.values()].map((l) => l.username))].join(', ')} logs in with it`,
  };
};

export const PASSWORD_STEPS: StepHandlers<PasswordStep> = {
  [PasswordStep.Pause]: pause,
  [PasswordStep.Issue]: issue,
  [PasswordStep.SetInDatabase]: setInDatabase,
  [PasswordStep.TestLogin]: testLogin,
  [PasswordStep.Promote]: LEAF_STEPS[LeafStep.Promote],
  [PasswordStep.Sync]: LEAF_STEPS[LeafStep.Sync],
  [PasswordStep.Restart]: LEAF_STEPS[LeafStep.Restart],
  [PasswordStep.Resume]: resume,
  [PasswordStep.Verify]: verify,
};

/** Steps after which the database may hold the new password while the store does not have it current yet. */
const DATABASE_CHANGED: readonly string[] = [PasswordStep.SetInDatabase, PasswordStep.TestLogin];

/**
 * What a failed password rotation must put right beyond the store (see failRotation): with `single`, the
 * database gets the current password back when it may have been changed before promotion, or when the store was
 * rolled back after promotion (with `alternating` the login in use was never touched); the owner is always
 * resumed. Returns what it did, and what it could not do, for RotationFailed. Never throws.
 */
export async function compensatePassword(
  deps: Deps,
  inventory: Inventory,
  record: RotationRecord,
  options: { rolledBack: boolean },
): Promise<string[]> {
  const item = inventory.items.get(record.item);
  if (item?.kind !== 'credential' || !isPausable(item)) return [];
  const notes: string[] = [];
  const database = item.database;
  const changed = beforePromotion(record.kind, record.step) ? DATABASE_CHANGED.includes(record.step) : options.rolledBack;
  if (database?.strategy === 'single' && changed) {
    const unit = { storeName: record.units[0] ?? '' };
    try {
      const current = unit.storeName ? await deps.store.getVersion(unit.storeName, { stage: Stage.Current }) : undefined;
      if (!current) notes.push(`no earlier password of ${database.role} is stored: the database keeps the new one`);
      else {
        const password = asPassword(current.value, unit.storeName).password;
        await withDatabase(deps, database, (s) => s.setPasswordVerifier(database.role, scramSha256Verifier(password)));
        notes.push(`the database has the current password of ${database.role} back`);
      }
    } catch (e) {
      notes.push(`could not set the database back: ${(e as Error).message}`);
    }
  }
  if (item.pause) {
    try {
      const { patched } = await resumeOwner(deps, inventory, item);
      if (patched.length) notes.push(`${ownerName(item)} resumed in ${patched.join(', ')}`);
    } catch (e) {
      notes.push(`could not resume the owner: ${(e as Error).message}`);
    }
  }
  for (const n of notes) deps.log.info('password rotation undone', { rotationId: record.id, item: record.item, note: n });
  return notes;
}
