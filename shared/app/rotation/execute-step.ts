import { NotFoundError } from '../../domain/errors.js';
import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { AUTHORITY_PHASE, DONE, isAfter, isStepOf, LeafStep, nextStep, type RotationStep } from '../../domain/rotation/machines.js';
import { isFinished, RotationKind, RotationStatus, StepStatus, type RotationRecord } from '../../domain/rotation/record.js';
import { unitsOf, type Unit } from '../../domain/units.js';
import type { StepMessage } from '../../ports/step-queue.js';
import type { Deps } from '../deps.js';
import { MaterialReader } from '../materials.js';
import { shareCoordination } from '../restart/coordination.js';
import { handlerFor } from './machines.js';
import { updateRotation } from './record-update.js';
import { StepResultStatus, type RunCarry, type StepResult } from './step-context.js';
import { announcesStart, expiresAtFor, startedEvent } from './start.js';
import { defined } from '../../domain/defined.js';

export const StepExecution = { Ran: 'ran', Waiting: 'waiting', Stale: 'stale', Finished: 'finished' } as const;
export type StepExecution = (typeof StepExecution)[keyof typeof StepExecution];

export interface ExecuteOptions {
  /** The record as the caller has just read or written it (the lease claim returns it): not read again. */
  readonly record?: RotationRecord;
  /** End this owner's lease in the journal write that records the step (one write instead of two). */
  readonly releaseLeaseOf?: string;
  /**
   * Stops a leaf run after this many steps, as a worker that dies there would (before the store write nothing is
   * recorded): for tests that need a rotation stopped between steps. Runtimes leave it unset.
   */
  readonly maxSteps?: number;
  /**
   * The caller's own events (a restart worker's RestartCompleted), published in the one call that announces the
   * run's completions. Published only when the run is recorded (`Ran` or `Waiting`); otherwise the caller still owns them.
   */
  readonly announce?: readonly RekeyEvent[];
}

/** One step of a run: what it returned and the events it published (held back until the run is recorded). */
interface RanStep {
  readonly step: RotationStep;
  readonly result: StepResult;
  readonly events: readonly RekeyEvent[];
}

/**
 * Runs one step message. Idempotent: it re-reads the journal (unless handed the record), ignores messages for steps
 * already done (re-queuing the current step in case its message was lost), runs the step, then advances the journal
 * conditionally before queuing what comes next. Throws what the step throws; the caller retries retryable errors and
 * calls failRotation when it gives up.
 *
 * A leaf rotation runs its steps one after another in the same call (issue, test, promote, sync, restart, verify)
 * until one waits or the rotation is done: the material is made, tested and written once in memory, the journal
 * is written once for the whole run and the run's events go out in one publish, after that write. A run killed
 * midway left the journal at its first step: it runs again from there, every step being idempotent (the store
 * write is keyed by the rotation id). A step that fails after the store write records the steps before it first,
 * so the failure is judged past promotion (a failed verification rolls back).
 */
export async function executeStep(
  deps: Deps,
  inventory: Inventory,
  message: StepMessage,
  options: ExecuteOptions = {},
): Promise<StepExecution> {
  const record = options.record ?? (await deps.journal.get(message.rotationId));
  if (!record)
    throw new NotFoundError(`rotation ${message.rotationId} is not in the journal`, { context: { rotationId: message.rotationId } });
  if (isFinished(record)) return StepExecution.Finished;
  if (record.step !== message.step || message.attempt < record.attempt) {
    if (isAfter(record.kind, record.step, message.step)) await requeue(deps, record);
    return StepExecution.Stale;
  }

  const item = inventory.items.get(record.item);
  if (!item)
    throw new NotFoundError(`item "${record.item}" of rotation ${record.id} is no longer in inventory ${inventory.name}`, {
      context: { rotationId: record.id },
    });
  const units = unitsOf(inventory, item);
  const reader = new MaterialReader(deps.store, inventory);
  const carry: RunCarry = { fresh: new Map(), renewals: new Map() };
  if (record.kind !== RotationKind.Leaf) {
    const result = await handlerFor(record.kind, record.step)({ deps, inventory, record, units, reader, carry });
    // The step may have written the record itself (restart requests); advance from what is there now.
    const fresh = (await deps.journal.get(record.id)) ?? record;
    if (fresh.step !== record.step || fresh.attempt !== record.attempt || isFinished(fresh)) return StepExecution.Stale;
    return advance(deps, fresh, [{ step: record.step, result, events: [] }], options);
  }
  return runLeaf(deps, inventory, record, units, reader, carry, options);
}

async function runLeaf(
  deps: Deps,
  inventory: Inventory,
  read: RotationRecord,
  units: readonly Unit[],
  reader: MaterialReader,
  carry: RunCarry,
  options: ExecuteOptions,
): Promise<StepExecution> {
  const ran: RanStep[] = [];
  let current = read;
  for (;;) {
    const events: RekeyEvent[] = [];
    const held: Deps = {
      ...deps,
      events: {
        publish: (e) => {
          events.push(...e);
          return Promise.resolve();
        },
      },
    };
    shareCoordination(deps, held);
    let result: StepResult;
    try {
      result = await handlerFor(current.kind, current.step)({ deps: held, inventory, record: current, units, reader, carry });
    } catch (e) {
      // Made and tested material lives only in this run: before its store write nothing is recorded (the run starts
      // over at `issue`); after it, the steps done are, so the failure is judged past promotion.
      const promoted = ran.some((r) => r.step === LeafStep.Promote);
      await recordProgress(deps, read, promoted ? ran : [], events, carry);
      throw e;
    }
    ran.push({ step: current.step, result, events });
    if (options.maxSteps !== undefined && ran.length >= options.maxSteps) {
      if (!ran.some((r) => r.step === LeafStep.Promote)) return StepExecution.Stale;
      break;
    }
    if (result.status === StepResultStatus.Waiting || nextStep(current.kind, current.step) === DONE) break;
    current = afterRun(read, ran, deps.clock.now());
  }
  return advance(deps, read, ran, options, carry);
}

async function requeue(deps: Deps, record: RotationRecord): Promise<void> {
  await deps.queue.enqueue({
    rotationId: record.id,
    inventory: record.inventory,
    item: record.item,
    step: record.step,
    attempt: record.attempt,
  });
}

/**
 * The record after the steps of a run: each completed or skipped step in the history and the next one current, or
 * the waiting step's attempt counted up. Restart entries already in `r` (written by restart workers) win over a
 * step's planned ones. With `leaseOwner`, that owner's lease ends now.
 */
function afterRun(r: RotationRecord, ran: readonly RanStep[], now: Date, leaseOwner?: string): RotationRecord {
  const at = now.toISOString();
  let next = r;
  for (const { step, result } of ran) {
    const outcome = { step, at, attempt: next.attempt, ...(result.message !== undefined && { message: result.message }) };
    // One history line per wait would flood the record; keep the latest.
    const history = next.history.filter((h) => !(h.step === step && h.status === StepStatus.Waiting));
    const patched = {
      ...next,
      ...result.patch,
      ...(result.patch?.restarts && { restarts: { ...result.patch.restarts, ...next.restarts } }),
      updatedAt: at,
    };
    if (result.status === StepResultStatus.Waiting) {
      next = { ...patched, attempt: next.attempt + 1, history: [...history, { ...outcome, status: StepStatus.Waiting }] };
      break;
    }
    const following = nextStep(next.kind, step);
    const done = following === DONE;
    next = {
      ...patched,
      step: done ? step : following,
      attempt: 0,
      status: done ? RotationStatus.Completed : RotationStatus.Running,
      history: [...history, { ...outcome, status: result.status === StepResultStatus.Skipped ? StepStatus.Skipped : StepStatus.Completed }],
      ...(done && { finishedAt: at, expiresAt: expiresAtFor(now) }),
    };
  }
  if (leaseOwner && next.lease?.owner === leaseOwner) next = { ...next, lease: { ...next.lease, expiresAt: at } };
  return next;
}

/** Writes `afterRun` conditionally: undefined when another worker moved the record on. `raced`: someone wrote beside. */
async function writeRun(
  deps: Deps,
  read: RotationRecord,
  ran: readonly RanStep[],
  leaseOwner?: string,
  carry?: RunCarry,
): Promise<{ written: RotationRecord; raced: boolean } | undefined> {
  // The renewal instants of what the run promoted ride in the same journal write.
  const renewals = ran.some((r) => r.step === LeafStep.Promote) ? [...(carry?.renewals?.values() ?? [])] : [];
  const now = deps.clock.now();
  let raced = false;
  const written = await updateRotation(
    deps,
    read.id,
    (r) => {
      // Another writer beside this one (a restart worker recording an outcome) changed the revision: apply again.
      if (r.revision !== read.revision) raced = true;
      return isFinished(r) || r.step !== read.step || r.attempt !== read.attempt ? undefined : afterRun(r, ran, now, leaseOwner);
    },
    { known: read, ...(renewals.length && { extras: { renewals } }) },
  );
  return written && { written, raced };
}

/** What the steps of a run published themselves (issued, promoted, synced, restart requests), in order. */
const ownEvents = (ran: readonly RanStep[]): RekeyEvent[] => ran.flatMap((r) => r.events);

/**
 * What a recorded run tells about its steps: each one completed, phase changes, the rotation completed. The first
 * recorded run of a leaf rotation also announces that it started (see `startedEvent`).
 */
function completionEvents(read: RotationRecord, ran: readonly RanStep[], written: RotationRecord, at: string): RekeyEvent[] {
  const base = { inventory: read.inventory, item: read.item, rotationId: read.id, at };
  const events: RekeyEvent[] = announcesStart(read) ? [startedEvent(read)] : [];
  for (const { step, result } of ran) {
    if (result.status === StepResultStatus.Waiting) break;
    const next = nextStep(read.kind, step);
    events.push(
      makeEvent(EventType.RotationStepCompleted, base, { step, status: result.status, ...(result.message && { message: result.message }) }),
    );
    events.push(...phaseChanges(read.kind, step, next, written, base));
    if (next === DONE) events.push(makeEvent(EventType.RotationCompleted, base, { kind: read.kind, steps: written.history.length }));
  }
  return events;
}

/** A run whose step failed: the steps before it are recorded (and their events published), then the error goes on. */
async function recordProgress(
  deps: Deps,
  read: RotationRecord,
  ran: readonly RanStep[],
  failing: readonly RekeyEvent[],
  carry?: RunCarry,
): Promise<void> {
  const own = [...ownEvents(ran), ...failing];
  if (own.length) await deps.events.publish(own);
  if (ran.length === 0) return;
  const run = await writeRun(deps, read, ran, undefined, carry);
  if (run) await deps.events.publish(completionEvents(read, ran, run.written, run.written.updatedAt));
}

/**
 * Records a run. As for a single step: what the steps did is announced before the journal write (a run killed
 * before it announces again when it runs again; the store write is not repeated, so CertificateIssued is not
 * either), the completions after it (only the worker whose write won reports them).
 */
async function advance(
  deps: Deps,
  read: RotationRecord,
  ran: readonly RanStep[],
  options: ExecuteOptions,
  carry?: RunCarry,
): Promise<StepExecution> {
  const own = ownEvents(ran);
  if (own.length) await deps.events.publish(own);
  const run = await writeRun(deps, read, ran, options.releaseLeaseOf, carry);
  if (!run) return StepExecution.Stale;
  const { written } = run;
  const completions = [...(options.announce ?? []), ...completionEvents(read, ran, written, written.updatedAt)];
  if (completions.length) await deps.events.publish(completions);
  await deps.rotationRecorded?.(written);
  const last = defined(ran.at(-1), 'a step run').result;
  const message = { rotationId: read.id, inventory: read.inventory, item: read.item, step: written.step };
  if (last.status === StepResultStatus.Waiting) {
    // Parked until a restart worker re-queues it; if one wrote while this run was recorded, its wake-up may name the
    // attempt this write has just counted past, so look again now instead.
    const parked = last.wakeOnRestarts === true && deps.restartOutcomesWake === true;
    if (parked && !run.raced) return StepExecution.Waiting;
    await deps.queue.enqueue({ ...message, attempt: written.attempt }, { delaySeconds: parked ? 0 : last.delaySeconds });
    return StepExecution.Waiting;
  }
  if (!isFinished(written)) await deps.queue.enqueue({ ...message, attempt: 0 });
  return StepExecution.Ran;
}

/** An authority rotation entering another phase (overlap, re-issuing, ...): the event a user follows it by. */
function phaseChanges(
  kind: RotationKind,
  step: RotationStep,
  next: RotationStep | typeof DONE,
  advanced: RotationRecord,
  base: { inventory: string; item: string; rotationId: string; at: string },
): RekeyEvent[] {
  if (kind !== RotationKind.Authority || !isStepOf(RotationKind.Authority, step)) return [];
  const before = AUTHORITY_PHASE[step];
  const after = next === DONE ? 'done' : isStepOf(RotationKind.Authority, next) ? AUTHORITY_PHASE[next] : before;
  if (before === after) return [];
  const progress = advanced.authority;
  return [
    makeEvent(EventType.RotationPhaseChanged, base, {
      phase: after,
      step: next,
      children: progress?.children.length ?? 0,
      onNewCa: progress?.onNewCa ?? 0,
    }),
  ];
}
