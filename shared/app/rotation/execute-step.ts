import { ConflictError, NotFoundError, RekeyError } from '../../domain/errors.js';
import { EventType, makeEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { DONE, isAfter, nextStep } from '../../domain/rotation/machines.js';
import { isFinished, RotationKind, RotationStatus, StepStatus, type RotationRecord } from '../../domain/rotation/record.js';
import { unitsOf } from '../../domain/units.js';
import type { StepMessage } from '../../ports/step-queue.js';
import type { Deps } from '../deps.js';
import { MaterialReader } from '../materials.js';
import { LEAF_STEPS } from './leaf-steps.js';
import type { StepHandler, StepResult } from './step-context.js';
import { expiresAtFor } from './start.js';

const MAX_ADVANCE_TRIES = 5;

export const StepExecution = { Ran: 'ran', Waiting: 'waiting', Stale: 'stale', Finished: 'finished' } as const;
export type StepExecution = (typeof StepExecution)[keyof typeof StepExecution];

function handlerFor(kind: RotationKind, step: string): StepHandler {
  const table: Readonly<Record<string, StepHandler>> | undefined = kind === RotationKind.Leaf ? LEAF_STEPS : undefined;
  const handler = table?.[step];
  if (!handler) throw new RekeyError(`no handler for step "${step}" of a ${kind} rotation`);
  return handler;
}

/**
 * Runs one step message. Idempotent: it re-reads the journal, ignores messages for steps already done (re-queuing
 * the current step in case its message was lost), runs the step, then advances the journal conditionally before
 * queuing what comes next. Throws what the step throws; the caller retries retryable errors and calls
 * failRotation when it gives up.
 */
export async function executeStep(deps: Deps, inventory: Inventory, message: StepMessage): Promise<StepExecution> {
  const record = await deps.journal.get(message.rotationId);
  if (!record) throw new NotFoundError(`rotation ${message.rotationId} is not in the journal`, { context: { rotationId: message.rotationId } });
  if (isFinished(record)) return StepExecution.Finished;
  if (record.step !== message.step || message.attempt < record.attempt) {
    if (isAfter(record.kind, record.step, message.step)) await requeue(deps, record);
    return StepExecution.Stale;
  }

  const item = inventory.items.get(record.item);
  if (!item) throw new NotFoundError(`item "${record.item}" of rotation ${record.id} is no longer in inventory ${inventory.name}`, { context: { rotationId: record.id } });
  const result = await handlerFor(record.kind, record.step)({ deps, inventory, record, units: unitsOf(inventory, item), reader: new MaterialReader(deps.store, inventory) });

  // The step may have written the record itself (restart requests); advance from what is there now.
  const fresh = (await deps.journal.get(record.id)) ?? record;
  if (fresh.step !== record.step || fresh.attempt !== record.attempt || isFinished(fresh)) return StepExecution.Stale;
  return advance(deps, inventory, fresh, result);
}

async function requeue(deps: Deps, record: RotationRecord): Promise<void> {
  await deps.queue.enqueue({ rotationId: record.id, inventory: record.inventory, item: record.item, step: record.step, attempt: record.attempt });
}

async function advance(deps: Deps, inventory: Inventory, read: RotationRecord, result: StepResult): Promise<StepExecution> {
  const now = deps.clock.now();
  const at = now.toISOString();
  const base = { inventory: inventory.name, item: read.item, rotationId: read.id, at };
  const outcome = { step: read.step, at, attempt: read.attempt, ...(result.message !== undefined && { message: result.message }) };
  // One history line per wait would flood the record; keep the latest.
  const history = (r: RotationRecord) => r.history.filter((h) => !(h.step === r.step && h.status === StepStatus.Waiting));

  if (result.status === 'waiting') {
    const waiting = await writeAdvance(deps, read, (r) => ({
      ...r,
      ...result.patch,
      attempt: r.attempt + 1,
      revision: r.revision + 1,
      updatedAt: at,
      history: [...history(r), { ...outcome, status: StepStatus.Waiting }],
    }));
    if (!waiting) return StepExecution.Stale;
    await deps.queue.enqueue({ rotationId: read.id, inventory: read.inventory, item: read.item, step: read.step, attempt: waiting.attempt }, { delaySeconds: result.delaySeconds });
    return StepExecution.Waiting;
  }

  const next = nextStep(read.kind, read.step);
  const done = next === DONE;
  const advanced = await writeAdvance(deps, read, (r) => ({
    ...r,
    ...result.patch,
    step: done ? r.step : next,
    attempt: 0,
    revision: r.revision + 1,
    updatedAt: at,
    status: done ? RotationStatus.Completed : RotationStatus.Running,
    history: [...history(r), { ...outcome, status: result.status === 'skipped' ? StepStatus.Skipped : StepStatus.Completed }],
    ...(done && { finishedAt: at, expiresAt: expiresAtFor(now) }),
  }));
  if (!advanced) return StepExecution.Stale;
  const events = [makeEvent(EventType.RotationStepCompleted, base, { step: read.step, status: result.status, ...(result.message && { message: result.message }) })];
  if (done) events.push(makeEvent(EventType.RotationCompleted, base, { kind: read.kind, steps: advanced.history.length }));
  await deps.events.publish(events);
  if (!done) await deps.queue.enqueue({ rotationId: read.id, inventory: read.inventory, item: read.item, step: next, attempt: 0 });
  return StepExecution.Ran;
}

/**
 * Writes `change(record)` conditionally. When the write loses but the record is still at this step and attempt,
 * someone else wrote beside us (the restart worker recording a cluster's outcome): apply the change again on
 * what is there now. When the record has moved on, another worker advanced it: give up (undefined).
 */
async function writeAdvance(deps: Deps, read: RotationRecord, change: (r: RotationRecord) => RotationRecord): Promise<RotationRecord | undefined> {
  let current = read;
  for (let tries = 0; tries < MAX_ADVANCE_TRIES; tries++) {
    const updated = change(current);
    if (await updateOrLose(deps, updated)) return updated;
    const fresh = await deps.journal.get(read.id);
    if (!fresh || isFinished(fresh) || fresh.step !== read.step || fresh.attempt !== read.attempt) return undefined;
    current = fresh;
  }
  throw new ConflictError(`rotation ${read.id}: the journal record kept changing while step ${read.step} advanced`, { rotationId: read.id });
}

/** A lost conditional write means another worker advanced the rotation: this one stops quietly. */
async function updateOrLose(deps: Deps, record: RotationRecord): Promise<boolean> {
  try {
    await deps.journal.update(record);
    return true;
  } catch (e) {
    if (e instanceof ConflictError) return false;
    throw e;
  }
}
