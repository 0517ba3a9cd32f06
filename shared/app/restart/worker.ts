import { isRekeyError, NotFoundError } from '../../domain/errors.js';
import type { EventDetail } from '../../../events/details.js';
import { EventType, makeEvent, type RekeyEvent } from '../../domain/events/types.js';
import type { Inventory } from '../../domain/inventory/model.js';
import { rolloutsInFlight } from '../../domain/restart/pace.js';
import { restartDeadline, RestartPhase } from '../../domain/restart/plan.js';
import { parseWorkloadId, type WorkloadRef } from '../../domain/restart/workload.js';
import { isOpenRestart, RestartState, RotationKind, RotationStatus, type RotationRecord } from '../../domain/rotation/record.js';
import { LeafStep } from '../../domain/rotation/machines.js';
import { RestartOutcome, type WorkloadControl } from '../../ports/cluster.js';
import type { Deps } from '../deps.js';
import { mapLimit } from '../concurrency.js';
import { coordinationOf, laneOf, requestsTo, trustSettled, type Semaphore } from './coordination.js';
import { RolloutWatch } from './rollout-watch.js';
import { updateRotation as updateRecord } from '../rotation/record-update.js';
import { continueRolling } from './planner.js';
import { executeStep, StepExecution } from '../rotation/execute-step.js';
import { nextDelay, pause, POLL, until, WaitInterrupted } from './wait.js';

export const WorkloadResult = {
  Restarted: 'restarted',
  Unchanged: 'unchanged',
  Missing: 'missing',
  Failed: 'failed',
  TimedOut: 'timed-out',
} as const;
export type WorkloadResult = (typeof WorkloadResult)[keyof typeof WorkloadResult];

interface Outcome {
  readonly id: string;
  readonly result: WorkloadResult;
  readonly message: string;
}

interface Job {
  readonly control: WorkloadControl;
  readonly hash: string;
  readonly at: Date;
  readonly deadline: Date;
  readonly deps: Deps;
  /** API requests in flight to this cluster, shared with every other restart of the process. */
  readonly requests: Semaphore;
  readonly rollouts: RolloutWatch;
}

const interrupted = (job: Job, why: 'deadline' | 'aborted', last: string): Outcome['message'] =>
  `${why === 'deadline' ? `not done by ${job.deadline.toISOString()}` : 'interrupted'}: ${last}`;

/**
 * Starts one workload's rollout (patch its pod template, or evict a bare pod), retrying what is retryable (a
 * PodDisruptionBudget refusing an eviction, a conflict, a transient API error) within the deadline. Holds a request
 * slot of the cluster only while a call is in flight, not while it backs off.
 */
async function startRollout(job: Job, ref: WorkloadRef, id: string): Promise<RestartOutcome | Outcome> {
  const now = () => job.deps.clock.now();
  // A workload whose turn in the window comes after the deadline (or the Lambda's time) is not started any more.
  if (job.deps.signal?.aborted) return { id, result: WorkloadResult.TimedOut, message: interrupted(job, 'aborted', 'not started') };
  if (now() >= job.deadline) return { id, result: WorkloadResult.TimedOut, message: interrupted(job, 'deadline', 'not started') };
  let delay: number = POLL.initialMs;
  let last: string;
  for (;;) {
    const release = await job.requests.acquire();
    try {
      return await job.control.restart(ref, job.hash, job.at);
    } catch (e) {
      if (e instanceof NotFoundError) return { id, result: WorkloadResult.Missing, message: 'not found' };
      if (!isRekeyError(e) || !e.retryable)
        return { id, result: WorkloadResult.Failed, message: e instanceof Error ? e.message : String(e) };
      last = e.message;
    } finally {
      release();
    }
    try {
      await pause(delay, job.deadline, now, job.deps.signal);
    } catch (e) {
      if (e instanceof WaitInterrupted) return { id, result: WorkloadResult.TimedOut, message: interrupted(job, e.why, last) };
      throw e;
    }
    delay = nextDelay(delay);
  }
}

/** One workload: start its rollout, then wait for it with the request's other rollouts, within the deadline. */
async function restartWorkload(job: Job, id: string): Promise<Outcome> {
  const ref = parseWorkloadId(id);
  if (!ref) return { id, result: WorkloadResult.Failed, message: `not a workload id: ${id}` };
  const started = await startRollout(job, ref, id);
  if (typeof started !== 'string') return started;
  const end = await job.rollouts.until(ref);
  switch (end.kind) {
    case 'done':
      return { id, result: started === RestartOutcome.Updated ? WorkloadResult.Restarted : WorkloadResult.Unchanged, message: end.message };
    case 'gone':
      return { id, result: WorkloadResult.Missing, message: 'deleted while rolling out' };
    case 'failed':
      return { id, result: WorkloadResult.Failed, message: end.message };
    case 'interrupted':
      return { id, result: WorkloadResult.TimedOut, message: interrupted(job, end.why, end.last) };
    default: {
      const never: never = end;
      throw new Error(`unknown rollout end ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Whether `record` (as the worker has just written its cluster's outcome) is a leaf (or password) rotation whose
 * restart step waits without polling (`Deps.restartOutcomesWake`) for outcomes that are now all in.
 */
function wakesRestartStep(deps: Deps, record: RotationRecord): boolean {
  return (
    deps.restartOutcomesWake === true &&
    record.status === RotationStatus.Running &&
    // The password machine's restart step is the leaf one (same handler, same step name), so it parks the same way.
    (record.kind === RotationKind.Leaf || record.kind === RotationKind.Password) &&
    record.step === LeafStep.Restart &&
    !Object.values(record.restarts).some(isOpenRestart)
  );
}

const restartStepOf = (record: RotationRecord) => ({
  rotationId: record.id,
  inventory: record.inventory,
  item: record.item,
  step: record.step,
  attempt: record.attempt,
});

/** Queues the woken restart step, naming the attempt the worker has just read back. */
async function wakeRestartStep(deps: Deps, record: RotationRecord): Promise<void> {
  if (wakesRestartStep(deps, record)) await deps.queue.enqueue(restartStepOf(record));
}

/**
 * The rest of a leaf rotation once its last restart is in (restart, verify: reads, then one conditional journal
 * write) run here, from the record the worker has just written, instead of queued for the step function: no queued
 * message, no lease claim, and the worker's event goes out with the run's completions. Read-only until that write,
 * it cannot harm a rotation someone else advanced meanwhile (the write then declines). Not while another worker
 * holds the lease. True when the run was recorded (its events with it); on anything else the caller publishes and
 * queues as before, and the step function judges a failure with its retries.
 */
async function runRestartStepHere(deps: Deps, inventory: Inventory, record: RotationRecord, announce: RekeyEvent): Promise<boolean> {
  if (record.kind !== RotationKind.Leaf || !wakesRestartStep(deps, record)) return false;
  if (record.lease && new Date(record.lease.expiresAt) > deps.clock.now()) return false;
  try {
    const result = await executeStep(deps, inventory, restartStepOf(record), { record, announce: [announce] });
    return result === StepExecution.Ran || result === StepExecution.Waiting;
  } catch (e) {
    deps.log.warn('restart step not finished by the restart worker; queued for the step function', {
      rotationId: record.id,
      error: e instanceof Error ? e.message : String(e),
    });
    return false;
  }
}

const listOf = (outcomes: readonly Outcome[], result: WorkloadResult) => outcomes.filter((o) => o.result === result).map((o) => o.id);

function summary(outcomes: readonly Outcome[]): string {
  const parts = [
    `${listOf(outcomes, WorkloadResult.Restarted).length} restarted`,
    `${listOf(outcomes, WorkloadResult.Unchanged).length} already restarted`,
  ];
  const missing = listOf(outcomes, WorkloadResult.Missing);
  if (missing.length) parts.push(`not found: ${missing.join(', ')}`);
  const bad = outcomes.filter((o) => o.result === WorkloadResult.Failed || o.result === WorkloadResult.TimedOut);
  if (bad.length) parts.push(bad.map((o) => `${o.id}: ${o.message}`).join('; '));
  return parts.join(', ');
}

/**
 * The restart worker: `RestartRequested` for one cluster -> start each workload's rollout and wait for it until the
 * deadline, with at most `rolloutsInFlight` of them mid-rollout at once (a window: the next starts when one ends)
 * and the rollouts read together, write `restarts[cluster]` into the rotation's journal record, emit RestartCompleted
 * or RestartFailed. Failures are recorded and emitted, not thrown: the rotation step reads them from the journal.
 */
export async function runRestartRequest(
  deps: Deps,
  inventory: Inventory,
  d: EventDetail<typeof EventType.RestartRequested>,
): Promise<void> {
  const { workloads, versionsHash: hash, cluster } = d;
  if (hash === undefined) return; // a request for humans (manifests only)
  const started = deps.clock.now();
  const deadline = restartDeadline(d.deadline, started);
  const coordination = coordinationOf(deps);
  const control = deps.clusters.get(cluster)?.workloads;

  let outcomes: Outcome[];
  let problem: string | undefined;
  if (!control) {
    outcomes = [];
    problem = `cluster ${cluster} is not connected from this runtime`;
  } else {
    if (d.phase === RestartPhase.Serve) {
      const timer = until(deadline, () => deps.clock.now(), deps.signal);
      await trustSettled(coordination, cluster, timer.promise);
      timer.cancel();
    }
    // Outside rotations, `rolling` is one cluster at a time per item in this process (rotations chain through the journal).
    const lane = !d.rotationId && d.policy === 'rolling' ? laneOf(coordination, d.item) : undefined;
    const leave = await lane?.acquire();
    try {
      const job: Job = {
        control,
        hash,
        at: new Date(d.at),
        deadline,
        deps,
        requests: requestsTo(coordination, cluster),
        rollouts: new RolloutWatch(control, deadline, () => deps.clock.now(), deps.signal),
      };
      outcomes = await mapLimit(workloads, rolloutsInFlight(workloads.length, d.budget), (id) => restartWorkload(job, id));
    } finally {
      leave?.();
    }
  }

  const failedOnes = outcomes.filter((o) => o.result === WorkloadResult.Failed || o.result === WorkloadResult.TimedOut);
  const ok = !problem && failedOnes.length === 0;
  const message = problem ?? summary(outcomes);
  const finished = deps.clock.now();
  const base = { inventory: d.inventory, item: d.item, at: finished.toISOString(), ...(d.rotationId && { rotationId: d.rotationId }) };
  const fields = {
    cluster,
    workloads,
    versionsHash: hash,
    restarted: listOf(outcomes, WorkloadResult.Restarted),
    unchanged: listOf(outcomes, WorkloadResult.Unchanged),
    missing: listOf(outcomes, WorkloadResult.Missing),
    durationMs: finished.getTime() - started.getTime(),
    ...(d.deadline !== undefined && { deadline: d.deadline }),
  };

  let written;
  if (d.rotationId) {
    const state = ok ? RestartState.Completed : RestartState.Failed;
    const outcome = { state, at: finished.toISOString(), message, workloads };
    // One write where the journal can set a map entry in place (DynamoDB); else read and update conditionally.
    written = deps.journal.recordRestart
      ? await deps.journal.recordRestart(d.rotationId, cluster, outcome, finished.toISOString())
      : await updateRecord(deps, d.rotationId, (r) => ({ ...r, restarts: { ...r.restarts, [cluster]: outcome } }));
  }
  if (ok) {
    deps.log.info('restart completed', { cluster, item: d.item, message });
    const completed = makeEvent(EventType.RestartCompleted, base, fields);
    if (written && (await runRestartStepHere(deps, inventory, written, completed))) return;
    await deps.events.publish([completed]);
  } else {
    deps.log.error('restart failed', { cluster, item: d.item, message });
    await deps.events.publish([
      makeEvent(EventType.RestartFailed, base, { ...fields, failed: failedOnes.map((o) => o.id), reason: message }),
    ]);
  }
  if (written) {
    await continueRolling(deps, inventory, written, cluster, !ok);
    await wakeRestartStep(deps, written);
  }
}
