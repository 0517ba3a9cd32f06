import { ConflictError } from '../../domain/errors.js';
import type { RotationRecord } from '../../domain/rotation/record.js';
import type { Deps } from '../deps.js';
import { coordinationOf, laneOf } from '../restart/coordination.js';
import type { JournalWriteExtras } from '../../ports/journal.js';

const ATTEMPTS = 12;

/**
 * The one compare-and-set of a rotation record: `change` gets the record as it is now and returns the new one, or
 * undefined to write nothing (the record moved on, or there is nothing to do). The write names revision + 1 and
 * sets `updatedAt`; when it loses to another writer it reads again and asks `change` again, so concurrent writers
 * (the clusters of a `together` restart, a step advancing beside a restart worker) all land. Returns the record
 * written, or undefined when nothing was (record missing or `change` declined). `known`: the record as the caller
 * has it, tried first instead of a read.
 */
export async function updateRotation(
  deps: Deps,
  rotationId: string,
  change: (r: RotationRecord) => RotationRecord | undefined,
  options: { readonly known?: RotationRecord; readonly extras?: JournalWriteExtras } = {},
): Promise<RotationRecord | undefined> {
  // In one process, writers of the same record take turns: a journal whose compare-and-set is not atomic across
  // awaits (the embedded JSON journal) would otherwise let two clusters' updates both pass the revision check.
  const release = await laneOf(coordinationOf(deps), `journal:${rotationId}`).acquire();
  try {
    return await writeWithRetry(deps, rotationId, change, options.known, options.extras);
  } finally {
    release();
  }
}

async function writeWithRetry(
  deps: Deps,
  rotationId: string,
  change: (r: RotationRecord) => RotationRecord | undefined,
  known?: RotationRecord,
  extras?: JournalWriteExtras,
): Promise<RotationRecord | undefined> {
  for (let attempt = 1; ; attempt++) {
    // The caller's copy first (it has just read or written it): a stale one only costs the conflict and a read.
    const current = attempt === 1 && known ? known : await deps.journal.get(rotationId);
    if (!current) return undefined;
    const next = change(current);
    if (!next) return undefined;
    const written: RotationRecord = { ...next, revision: current.revision + 1, updatedAt: deps.clock.now().toISOString() };
    try {
      await (extras ? deps.journal.update(written, extras) : deps.journal.update(written));
      return written;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      if (attempt >= ATTEMPTS)
        throw new ConflictError(`rotation ${rotationId}: the journal record kept changing (${ATTEMPTS} attempts)`, { rotationId });
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}
