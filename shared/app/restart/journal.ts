import { ConflictError } from '../../domain/errors.js';
import type { RotationRecord } from '../../domain/rotation/record.js';
import type { Deps } from '../deps.js';
import { coordinationOf, laneOf } from './coordination.js';
import { DEFAULT_RESTART_BUDGET } from '../../domain/restart/plan.js';

const ATTEMPTS = 12;

/**
 * Read-modify-write of a rotation record with optimistic concurrency: `change` gets the record as it is now and
 * returns the new one (or undefined: nothing to do); the write names revision + 1 and is retried on conflict (the
 * clusters of a `together` restart finish at the same time and all write `restarts`). Returns the record written.
 */
export async function updateRecord(deps: Deps, rotationId: string, change: (r: RotationRecord) => RotationRecord | undefined): Promise<RotationRecord | undefined> {
  // In one process, writers of the same record take turns: a journal whose compare-and-set is not atomic across
  // awaits (the embedded JSON journal) would otherwise let two clusters' updates both pass the revision check.
  const release = await laneOf(coordinationOf(deps, DEFAULT_RESTART_BUDGET), `journal:${rotationId}`).acquire();
  try {
    return await writeWithRetry(deps, rotationId, change);
  } finally {
    release();
  }
}

async function writeWithRetry(deps: Deps, rotationId: string, change: (r: RotationRecord) => RotationRecord | undefined): Promise<RotationRecord | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await deps.journal.get(rotationId);
    if (!current) return undefined;
    const next = change(current);
    if (!next) return current;
    const written: RotationRecord = { ...next, revision: current.revision + 1, updatedAt: deps.clock.now().toISOString() };
    try {
      await deps.journal.update(written);
      return written;
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}
