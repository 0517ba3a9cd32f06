import { createHash } from 'node:crypto';
import { ConflictError } from '../../domain/errors.js';
import { Trigger, type RotationRecord } from '../../domain/rotation/record.js';
import { startRotation } from '../rotation/index.js';
import type { ApiBackend } from './backend.js';
import { ApiProblem, ProblemKind } from './problem.js';
import { defined } from '../../domain/defined.js';

/** Idempotency keys as the IETF draft describes them: opaque, printable, short. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The rotation id an Idempotency-Key stands for: a UUID-shaped SHA-256 of inventory and key. The same key always
 * names the same rotation, so a retried request finds the first one in the journal with no table of its own
 * (on both runtimes), and the id is also the store's ClientRequestToken.
 */
export function rotationIdForKey(inventory: string, key: string): string {
  const h = createHash('sha256').update(`${inventory}\0${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(defined(h[16]), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface StartedRotation {
  readonly record: RotationRecord;
  /** The Idempotency-Key named a rotation that already existed: nothing new was started. */
  readonly replayed: boolean;
}

/** POST /v1/rotations: records and queues a rotation, or returns the one an earlier request with the same key made. */
export async function requestRotation(
  backend: ApiBackend,
  item: string,
  reason: string,
  idempotencyKey: string | undefined,
): Promise<StartedRotation> {
  const { deps, inventory } = backend;
  if (!inventory.items.has(item))
    throw new ApiProblem(ProblemKind.NotFound, `no authority, certificate or credential named "${item}" in inventory ${inventory.name}`);
  let rotationId: string | undefined;
  if (idempotencyKey !== undefined) {
    if (!IDEMPOTENCY_KEY.test(idempotencyKey))
      throw new ApiProblem(ProblemKind.BadRequest, 'Idempotency-Key must be 1 to 255 printable ASCII characters');
    rotationId = rotationIdForKey(inventory.name, idempotencyKey);
    const earlier = await deps.journal.get(rotationId);
    if (earlier) return replay(earlier, item);
  }
  try {
    const record = await startRotation(deps, inventory, item, { trigger: Trigger.Api, reason, ...(rotationId && { rotationId }) });
    backend.rotationStarted?.(record);
    return { record, replayed: false };
  } catch (e) {
    // Two requests with one key raced: the loser finds the winner's record.
    if (e instanceof ConflictError && rotationId) {
      const winner = await deps.journal.get(rotationId);
      if (winner) return replay(winner, item);
    }
    throw e;
  }
}

function replay(earlier: RotationRecord, item: string): StartedRotation {
  if (earlier.item !== item) {
    throw new ApiProblem(ProblemKind.Unprocessable, `this Idempotency-Key was already used for a rotation of "${earlier.item}"`);
  }
  return { record: earlier, replayed: true };
}
