import { NotFoundError } from '../../domain/errors.js';
import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { AUTHORITY_PHASE, DONE, isAfter, isStepOf, nextStep, type RotationStep } from '../../domain/rotation/machines.js';
import { isFinished, RotationKind, RotationStatus, StepStatus, type RotationRecord } from '../../domain/rotation/record.js';
import { unitsOf } from '../../domain/units.js';
import type { StepMessage } from '../../ports/step-queue.js';
import type { Deps } from '../deps.js';
import { MaterialReader } from '../materials.js';
import { handlerFor } from './machines.js';
import { updateRotation } from './record-update.js';
import { StepResultStatus, type StepResult } from './step-context.js';
import { expiresAtFor } from './start.js';

export const StepExecution = { Ran: 'ran', Waiting: 'waiting', Stale: 'stale', Finished: 'finished' } as const;
export type StepExecution = (typeof StepExecution)[keyof typeof StepExecution];

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

  if (result.status === StepResultStatus.Waiting) {
    const waiting = await writeAdvance(deps, read, (r) => ({
      ...r,
      ...result.patch,
      attempt: r.attempt + 1,
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
    history: [...history(r), { ...outcome, status: result.status === StepResultStatus.Skipped ? StepStatus.Skipped : StepStatus.Completed }],
    ...(done && { finishedAt: at, expiresAt: expiresAtFor(now) }),
  }));
  if (!advanced) return StepExecution.Stale;
  const events = [makeEvent(EventType.RotationStepCompleted, base, { step: read.step, status: result.status, ...(result.message && { message: result.message }) })];
  events.push(...phaseChanges(read, next, advanced, base));
  if (done) events.push(makeEvent(EventType.RotationCompleted, base, { kind: read.kind, steps: advanced.history.length }));
  await deps.events.publish(events);
  if (!done) await deps.queue.enqueue({ rotationId: read.id, inventory: read.inventory, item: read.item, step: next, attempt: 0 });
  return StepExecution.Ran;
}

/** An authority rotation entering another phase (overlap, re-issuing, ...): the event a user follows it by. */
function phaseChanges(read: RotationRecord, next: RotationStep | typeof DONE, advanced: RotationRecord, base: { inventory: string; item: string; rotationId: string; at: string }): RekeyEvent[] {
  if (read.kind !== RotationKind.Authority || !isStepOf(RotationKind.Authority, read.step)) return [];
  const before = AUTHORITY_PHASE[read.step];
  const after = next === DONE ? 'done' : isStepOf(RotationKind.Authority, next) ? AUTHORITY_PHASE[next] : before;
  if (before === after) return [];
  const progress = advanced.authority;
  return [makeEvent(EventType.RotationPhaseChanged, base, { phase: after, step: next, children: progress?.children.length ?? 0, onNewCa: progress?.onNewCa ?? 0 })];
}

/**
 * Writes `change(record)` conditionally. When the write loses but the record is still at this step and attempt,
 * someone else wrote beside us (the restart worker recording a cluster's outcome): the change is applied again on
 * what is there now. When the record has moved on, another worker advanced it: give up (undefined).
 */
function writeAdvance(deps: Deps, read: RotationRecord, change: (r: RotationRecord) => RotationRecord): Promise<RotationRecord | undefined> {
  return updateRotation(deps, read.id, (r) => (isFinished(r) || r.step !== read.step || r.attempt !== read.attempt ? undefined : change(r)));
}
